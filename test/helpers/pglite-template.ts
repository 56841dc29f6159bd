import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';

// A fresh embedded database costs a PGlite initdb (in a child process) and every migration: many
// seconds per started Wharf, most of a short test file. Tests start from a copy of a database that
// already went through both, built once per schema and kept in the temp directory across runs.
// Wharf still opens and migrates the copy itself, so the start path is unchanged past initdb.
// A database in memory starts from the same template as a tarball (PGlite's dumpDataDir),
// loaded by `openPgliteDatabase(undefined, { initialData })`: no copy on disk at all.

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const PGLITE_PACKAGE = join(REPO_ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json');

/** Which code builds the template: the sources (in-process apps) or the build (spawned CLI). */
export type TemplateSource = 'src' | 'dist';

interface PgliteModules {
  openPgliteDatabase(dir: string): Promise<{ close(): Promise<void> }>;
  migrate(db: unknown): Promise<unknown>;
}

const building = new Map<string, Promise<string>>();

/** Copies a migrated, empty embedded database to `<dataDir>/pg` (unless one is there already). */
export async function seedEmbeddedDatabase(dataDir: string, source: TemplateSource): Promise<void> {
  const target = join(dataDir, 'pg');
  if (existsSync(target)) return;
  const template = await ensureTemplate(source);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await cp(template, target, { recursive: true });
}

const snapshots = new Map<string, Promise<Blob>>();

/** The migrated, empty embedded database as a data directory tarball, for a database in memory. */
export function embeddedDatabaseSnapshot(source: TemplateSource): Promise<Blob> {
  return loadSnapshot(`migrated-${source}`, async () => {
    const template = await ensureTemplate(source);
    // Dumped from a scratch copy: opening the template itself would write to it.
    return dumpOnce(`${template}.tar`, async (scratch) => {
      await cp(template, scratch, { recursive: true });
      return PGlite.create({ dataDir: scratch });
    });
  });
}

/** A database as initdb leaves it (no migration applied), as a tarball: for tests of migrate. */
export function bareDatabaseSnapshot(): Promise<Blob> {
  return loadSnapshot('bare', async () => {
    const version = createHash('sha256')
      .update(await readFile(PGLITE_PACKAGE))
      .digest('hex')
      .slice(0, 16);
    return dumpOnce(join(tmpdir(), `wharf-pglite-bare-${version}.tar`), () => PGlite.create());
  });
}

/** Reads the snapshot file `ensureFile` makes, once per process. */
function loadSnapshot(name: string, ensureFile: () => Promise<string>): Promise<Blob> {
  let pending = snapshots.get(name);
  if (!pending) {
    pending = ensureFile().then(async (file) => new Blob([await readFile(file)]));
    snapshots.set(name, pending);
    pending.catch(() => snapshots.delete(name));
  }
  return pending;
}

/** Writes the data directory of the database `open` gives to `file`, unless it exists already. */
async function dumpOnce(file: string, open: (scratch: string) => Promise<PGlite>): Promise<string> {
  if (existsSync(file)) return file;
  const scratch = `${file}.${randomUUID()}`;
  try {
    const db = await open(scratch);
    let tarball: Blob;
    try {
      tarball = await db.dumpDataDir('none');
    } finally {
      await db.close();
    }
    // Written aside and renamed: a concurrent worker finds the whole file or none.
    await writeFile(`${scratch}.tar`, Buffer.from(await tarball.arrayBuffer()));
    await rename(`${scratch}.tar`, file);
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await rm(`${scratch}.tar`, { force: true });
  }
  return file;
}

function ensureTemplate(source: TemplateSource): Promise<string> {
  let pending = building.get(source);
  if (!pending) {
    pending = buildTemplate(source);
    building.set(source, pending);
    pending.catch(() => building.delete(source));
  }
  return pending;
}

async function buildTemplate(source: TemplateSource): Promise<string> {
  const dir = join(tmpdir(), `wharf-pglite-template-${await schemaKey(source)}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  // Built aside and renamed into place: a concurrent builder (another vitest worker) either finds
  // the finished template or loses the rename race and throws its own copy away.
  const scratch = `${dir}.${randomUUID()}`;
  try {
    const modules = await loadModules(source);
    const db = await modules.openPgliteDatabase(scratch);
    try {
      await modules.migrate(db);
    } finally {
      await db.close();
    }
    await makePrivate(scratch); // Wharf keeps its database owner-only (security-files.test.ts checks)
    await rename(scratch, dir).catch((err: NodeJS.ErrnoException) => {
      if (!existsSync(join(dir, 'PG_VERSION'))) throw err;
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await rm(`${scratch}.lock`, { force: true });
  }
  return dir;
}

async function loadModules(source: TemplateSource): Promise<PgliteModules> {
  const base = source === 'src' ? join(REPO_ROOT, 'src') : join(REPO_ROOT, 'dist');
  const ext = source === 'src' ? 'ts' : 'js';
  const pglite = (await import(pathToFileURL(join(base, 'metadata', `pglite-database.${ext}`)).href)) as {
    openPgliteDatabase: PgliteModules['openPgliteDatabase'];
  };
  const migrations = (await import(pathToFileURL(join(base, 'metadata', `migrate.${ext}`)).href)) as {
    migrate: PgliteModules['migrate'];
  };
  return { openPgliteDatabase: pglite.openPgliteDatabase, migrate: migrations.migrate };
}

/** Names the schema a template holds: the migration files and PGlite's version. */
async function schemaKey(source: TemplateSource): Promise<string> {
  const hash = createHash('sha256').update(source);
  const metadata = join(REPO_ROOT, source, 'metadata');
  const migrations = join(metadata, 'migrations');
  for (const name of (await readdir(migrations)).sort()) {
    hash.update(name).update(await readFile(join(migrations, name)));
  }
  hash.update(await readFile(join(metadata, source === 'src' ? 'migrate.ts' : 'migrate.js')));
  hash.update(await readFile(PGLITE_PACKAGE));
  return hash.digest('hex').slice(0, 16);
}

async function makePrivate(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makePrivate(path);
    else await chmod(path, 0o600);
  }
}
