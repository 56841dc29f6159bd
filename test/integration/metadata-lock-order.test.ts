import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertBlob } from '../../src/metadata/blobs-table.js';
import type { Database } from '../../src/metadata/database.js';
import { setTag, upsertManifest } from '../../src/metadata/manifests-table.js';
import { migrate } from '../../src/metadata/migrate.js';
import { openPostgresDatabase } from '../../src/metadata/postgres-database.js';
import { applyPulls } from '../../src/metadata/pull-stats-table.js';
import {
  ensureRepository,
  lockRepositoryForShare,
  touchRepository,
} from '../../src/metadata/repositories-table.js';
import { testDatabaseUrl } from '../helpers/postgres.js';

// A push holds its repository's share lock for its whole transaction while the event dispatcher
// applies pull counts to the same rows. The batch must not wait for the push's lock: it used to,
// after locking a tag the push was about to move, and PostgreSQL broke the cycle by failing the
// push with a deadlock (a 500). Only PostgreSQL runs transactions side by side (PGlite has one
// connection), so this runs on the integration-postgres project.

const onPostgres = process.env.WHARF_TEST_DATABASE === 'postgres';

describe.skipIf(!onPostgres)('row lock order of a push and a pull-count batch', () => {
  let db: Database;
  let repositoryId: number;
  let manifestId: number;
  const digest = `sha256:${'a'.repeat(64)}`;

  beforeAll(async () => {
    db = await openPostgresDatabase({
      connection: { connectionString: await testDatabaseUrl() },
      poolSize: 3,
    });
    await migrate(db);
    await db.query(`INSERT INTO projects (name) VALUES ('locks')`);
    const repository = await ensureRepository(db, 'locks/app');
    repositoryId = repository.id;
    await insertBlob(db, digest, 100);
    const manifest = await upsertManifest(db, {
      repositoryId,
      digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: null,
      size: 100,
      subjectDigest: null,
      annotations: null,
      references: [],
    });
    manifestId = manifest.id;
    await setTag(db, repositoryId, 'current', manifestId);
  });

  afterAll(async () => {
    await db?.close();
  });

  it(
    'a batch completes while a push holds the share lock; the push then commits',
    { timeout: 30_000 },
    async () => {
      let pullsApplied: () => void = () => undefined;
      const applied = new Promise<void>((resolve) => (pullsApplied = resolve));
      let shareLocked: () => void = () => undefined;
      const locked = new Promise<void>((resolve) => (shareLocked = resolve));
      const push = db.transaction(async (tx) => {
        await lockRepositoryForShare(tx, repositoryId);
        shareLocked();
        await applied; // the batch commits meanwhile, or this never goes on (the test times out)
        expect(await setTag(tx, repositoryId, 'current', manifestId)).toBe('unchanged');
        await touchRepository(tx, repositoryId);
      });
      await locked;
      const time = new Date('2026-12-01T10:00:00Z');
      await db.transaction((tx) =>
        applyPulls(tx, [{ repository: 'locks/app', digest, tag: 'current', count: 3, time }]),
      );
      pullsApplied();
      await push;
      const [row] = await db.query<{ pull_count: number; tag_pull: Date; manifest_pull: Date }>(
        `SELECT r.pull_count, t.pull_time AS tag_pull, m.pull_time AS manifest_pull
       FROM repositories r JOIN tags t ON t.repository_id = r.id JOIN manifests m ON m.id = t.manifest_id
       WHERE r.id = $1`,
        [repositoryId],
      );
      expect(row).toEqual({ pull_count: 3, tag_pull: time, manifest_pull: time });
    },
  );
});
