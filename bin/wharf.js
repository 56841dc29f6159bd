#!/usr/bin/env -S node --liftoff-only
// Entry point for the `wharf` command: the compiled CLI lives in dist/ (npm run build).
import '../dist/cli/main.js';
