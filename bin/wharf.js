#!/usr/bin/env node
// Entry point for the `wharf` command: the compiled CLI lives in dist/ (npm run build).
import '../dist/cli/main.js';
