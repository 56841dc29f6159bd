import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The layer rule of eslint.config.js, run through ESLint's own API on snippets placed in each
// folder: a crossing is an error that names the layers, an import down the layers is not.

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const eslint = new ESLint({ cwd: root });

/** The no-restricted-imports messages ESLint reports for `code` placed at `filePath`. */
async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the layer rule', () => {
  it.each([
    // [file, import, why it is refused]
    ['src/http/api/x/routes.ts', '../../../metadata/projects-table.js', 'http never reads the database'],
    ['src/http/x.ts', '../metadata/database.js', 'http never reads the database'],
    ['src/http/oci/x.ts', '../../storage/filesystem-driver.js', 'http never touches storage drivers'],
    ['src/services/x.ts', '../http/app.js', 'services know no HTTP'],
    [
      'src/services/registry/x.ts',
      '../../replication/plan/index.js',
      'replication uses services, not the reverse',
    ],
    ['src/metadata/x.ts', '../services/project-service.js', 'metadata is below services'],
    ['src/metadata/x.ts', '../storage/driver.js', 'metadata and storage are side by side'],
    ['src/storage/x.ts', '../metadata/blobs-table.js', 'storage never reads the database'],
    ['src/domain/x.ts', '../config/schema.js', 'domain imports nothing of ours'],
    ['src/jobs/x.ts', '../services/project-service.js', 'jobs run what services enqueue, below them'],
    ['src/replication/copy/x.ts', '../../http/app.js', 'replication knows no HTTP'],
    ['src/cli/x.ts', '../metadata/database.js', 'the CLI calls the composition root and services'],
    ['src/services/x.ts', '../wharf.js', 'only the CLI imports the composition root'],
    ['src/remote/x.ts', '../services/project-service.js', 'the remote client is below services'],
    ['src/services/x.ts', '../wiring/services.js', 'only the composition root builds the service graph'],
    ['src/wiring/x.ts', '../cli/main.js', 'the wiring is below the CLI'],
  ])('%s importing %s is an error (%s)', async (file, specifier) => {
    const errors = await layerErrors(file, `import type { X } from '${specifier}';\nexport type Y = X;\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/may import only/);
  });

  it.each([
    ['src/http/api/x/routes.ts', '../../../services/project-service.js'],
    ['src/http/x.ts', '../replication/execution/index.js'],
    ['src/services/x.ts', '../metadata/database.js'],
    ['src/services/registry/x.ts', '../../storage/driver.js'],
    ['src/replication/execution/x.ts', '../../services/project-service.js'],
    ['src/metadata/x.ts', '../domain/digest.js'],
    ['src/domain/x.ts', './digest.js'],
    ['src/cli/x.ts', '../wharf.js'],
    ['src/http/api/plugin.ts', './replication/area.js'],
    ['src/wiring/x.ts', '../http/app.js'],
    ['src/wiring/x.ts', '../replication/execution/index.js'],
  ])('%s importing %s is allowed', async (file, specifier) => {
    const errors = await layerErrors(file, `import type { X } from '${specifier}';\nexport type Y = X;\n`);
    expect(errors).toEqual([]);
  });

  it('refuses a value import as well as a type import', async () => {
    const errors = await layerErrors(
      'src/http/x.ts',
      "export { findProjectByName } from '../metadata/projects-table.js';\n",
    );
    expect(errors).toHaveLength(1);
  });

  it('covers every folder of src/, and no folder below reuses a top-level name its parents are refused', async () => {
    const config = (await eslint.calculateConfigForFile(join(root, 'src/http/x.ts'))) as {
      rules?: Record<string, unknown>;
    };
    expect(config.rules?.['no-restricted-imports']).toBeDefined();
    const top = readdirSync(join(root, 'src'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    for (const folder of top) {
      const probe = await layerErrors(
        `src/${folder}/x.ts`,
        "import type { X } from '../cli/main.js';\nexport type Y = X;\n",
      );
      // The CLI is the top: no folder may import it, so every folder with a rule refuses this.
      expect(probe, `src/${folder} has no layer rule`).toHaveLength(folder === 'cli' ? 0 : 1);
      for (const nested of subfolders(join(root, 'src', folder))) {
        if (!top.includes(nested.name)) continue;
        // A nested folder named like a top-level one must be importable from its own folder.
        const errors = await layerErrors(
          `src/${folder}/${nested.relative}/x.ts`,
          `import type { X } from '../${nested.name}/y.js';\nexport type Y = X;\n`,
        );
        expect(errors, `src/${folder}/${nested.relative} shadows src/${nested.name}`).toEqual([]);
      }
    }
  });
});

function subfolders(dir: string, prefix = ''): Array<{ name: string; relative: string }> {
  const found: Array<{ name: string; relative: string }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    found.push({ name: entry.name, relative }, ...subfolders(join(dir, entry.name), relative));
  }
  return found;
}
