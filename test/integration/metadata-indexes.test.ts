import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Queryable, SqlParam } from '../../src/metadata/database.js';
import { listTags, resolveManifest } from '../../src/metadata/manifests-table.js';
import { migrate } from '../../src/metadata/migrate.js';
import { openPgliteDatabase } from '../../src/metadata/pglite-database.js';
import { openPostgresDatabase } from '../../src/metadata/postgres-database.js';
import { listRepositoryNames } from '../../src/metadata/repositories-table.js';
import { testDatabaseUrl } from '../helpers/postgres.js';

// A page of tags or of the catalog must be an index range scan, never a table scan, at the
// scale the design plans for. The queries are captured from the real table modules and explained
// on a database filled with many repositories and a repository with many tags.

const REPOSITORIES = 20_000;
const TAGS = 100_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Runs fn against a recorder, then EXPLAINs the one statement it issued. */
async function planOf(db: Database, fn: (q: Queryable) => Promise<unknown>): Promise<PlanNode[]> {
  let captured: { sql: string; params: readonly SqlParam[] } | undefined;
  const recorder: Queryable = {
    async query<Row extends object>(sql: string, params?: readonly SqlParam[]): Promise<Row[]> {
      captured = { sql, params: params ?? [] };
      return db.query<Row>(sql, params);
    },
    execScript: (sql) => db.execScript(sql),
  };
  await fn(recorder);
  if (!captured) throw new Error('no query issued');
  const rows = await db.query<{ 'QUERY PLAN': unknown }>(
    `EXPLAIN (FORMAT JSON) ${captured.sql}`,
    captured.params,
  );
  const raw = rows[0]?.['QUERY PLAN'];
  const parsed = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan: PlanNode }>;
  return nodes((parsed[0] as { Plan: PlanNode }).Plan);
}

describe('listing queries use indexes at scale', () => {
  let db: Database;
  let repositoryId: number;

  beforeAll(async () => {
    db =
      process.env.WHARF_TEST_DATABASE === 'postgres'
        ? await openPostgresDatabase({
            connection: { connectionString: await testDatabaseUrl() },
            poolSize: 2,
          })
        : await openPgliteDatabase(undefined);
    await migrate(db);
    // Every repository belongs to the project named by its first component.
    const project = await db.query<{ id: number }>(
      "INSERT INTO projects (name) VALUES ('project') RETURNING id",
    );
    await db.query(
      `INSERT INTO repositories (name, project_id) SELECT 'project/repo-' || lpad(i::text, 6, '0'), $2 FROM generate_series(1, $1::int) i`,
      [REPOSITORIES, project[0]?.id as number],
    );
    const repo = await db.query<{ id: number }>(
      "SELECT id FROM repositories WHERE name = 'project/repo-000001'",
    );
    repositoryId = repo[0]?.id as number;
    const digest = `sha256:${'a'.repeat(64)}`;
    await db.query('INSERT INTO blobs (digest, size) VALUES ($1, 100)', [digest]);
    const m = await db.query<{ id: number }>(
      `INSERT INTO manifests (repository_id, digest, media_type, size) VALUES ($1, $2, 'application/vnd.oci.image.manifest.v1+json', 100) RETURNING id`,
      [repositoryId, digest],
    );
    await db.query(
      `INSERT INTO tags (repository_id, name, manifest_id) SELECT $1, 'v' || lpad(i::text, 7, '0'), $2 FROM generate_series(1, $3::int) i`,
      [repositoryId, m[0]?.id as number, TAGS],
    );
    await db.execScript('ANALYZE');
  });
  afterAll(async () => {
    await db?.close();
  });

  // The big tables; a one-row table (manifests here) may be scanned, that is the planner's right.
  const noSeqScan = (plan: PlanNode[]) => {
    const scanned = plan.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']);
    expect(scanned.filter((t) => t === 'tags' || t === 'repositories')).toEqual([]);
    expect(plan.some((n) => /Index/.test(n['Node Type']))).toBe(true);
  };

  it('a page of tags after `last`', async () => {
    noSeqScan(await planOf(db, (q) => listTags(q, repositoryId, 'v0050000', 101)));
    expect(await listTags(db, repositoryId, 'v0050000', 3)).toEqual(['v0050001', 'v0050002', 'v0050003']);
  });

  it('a page of the catalog after `last`', async () => {
    noSeqScan(await planOf(db, (q) => listRepositoryNames(q, 'project/repo-010000', 101)));
    expect(await listRepositoryNames(db, 'project/repo-019999', 5)).toEqual(['project/repo-020000']);
  });

  it('resolving a tag (the pull hot path)', async () => {
    noSeqScan(await planOf(db, (q) => resolveManifest(q, 'project/repo-000001', { tag: 'v0099999' })));
  });
});
