import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers of src/ (docs/architecture.md, "Layers"): what each folder may import of ours. The
// table is the whole rule: every module of src/ not listed for a folder is refused to it, types
// included. Arrows point down only, so no two folders import each other. The files at the root
// of src/ are the composition root (wharf.ts, built from the modules of src/wiring/) and
// private-paths.ts; only the CLI imports them, and they may import every folder but cli/.
const LAYERS = {
  domain: [],
  net: ['domain'],
  config: ['domain', 'net'],
  storage: ['domain', 'config'],
  metadata: ['domain', 'config'],
  cluster: ['domain', 'config'],
  jobs: ['domain', 'config', 'metadata', 'cluster'],
  remote: ['domain', 'net'],
  services: ['domain', 'config', 'net', 'storage', 'metadata', 'cluster', 'jobs', 'remote'],
  replication: ['domain', 'config', 'net', 'storage', 'metadata', 'cluster', 'jobs', 'remote', 'services'],
  http: ['domain', 'config', 'net', 'cluster', 'jobs', 'remote', 'services', 'replication'],
  cli: ['domain', 'config', 'services', 'wharf', 'private-paths'],
  // The composition root's builders (the service graph, the app's inputs, start and stop).
  wiring: [
    'domain',
    'config',
    'net',
    'storage',
    'metadata',
    'cluster',
    'jobs',
    'remote',
    'services',
    'replication',
    'http',
    'private-paths',
  ],
};
const ROOT_MODULES = ['wharf', 'private-paths'];
const MODULES = [...Object.keys(LAYERS), ...ROOT_MODULES];

/**
 * One no-restricted-imports entry per folder. Imports are relative, so a module of another folder
 * is an import that climbs (`../`) and then enters it: `../../metadata/x.js`. A folder below src/
 * named like a top-level one is never one its parents are refused (src/lint-layers.test.ts checks),
 * so a match always means src/<name>.
 */
function layerRules() {
  return Object.entries(LAYERS).map(([folder, allowed]) => {
    const refused = MODULES.filter((m) => m !== folder && !allowed.includes(m));
    return {
      files: [`src/${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                regex: `^(\\.\\./)+(${refused.join('|')})(/|\\.js$|$)`,
                message: `src/${folder} may import only ${allowed.join(', ') || 'nothing of ours'} (layers: eslint.config.js, docs/architecture.md).`,
              },
            ],
          },
        ],
      },
    };
  });
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'web/dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['src/cli/**', 'bench/**', 'test/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
  ...layerRules(),
);
