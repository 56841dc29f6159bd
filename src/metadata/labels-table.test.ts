import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './database.js';
import {
  attachLabel,
  deleteLabel,
  detachLabel,
  insertLabel,
  labelsOfManifests,
  listLabels,
  tagArtifactFacts,
  updateLabel,
} from './labels-table.js';
import { openMigratedMemoryDatabase } from '../../test/helpers/memory-database.js';

// The label rows on an in-process PGlite: uniqueness per scope, cascades, and the one-query map
// replication reads.

const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

describe('labels-table', () => {
  let db: Database;
  let projectId = 0;
  let otherProjectId = 0;
  const manifest: Record<string, number> = {};

  const newLabel = async (name: string, scope: 'g' | 'p', project: number | null) => {
    const row = await insertLabel(db, { name, description: '', color: '', scope, projectId: project });
    if (!row) throw new Error(`label ${name} not created`);
    return row;
  };

  beforeAll(async () => {
    db = await openMigratedMemoryDatabase();
    const projects = await db.query<{ id: number; name: string }>(
      `INSERT INTO projects (name) VALUES ('lab'), ('other') RETURNING id, name`,
    );
    projectId = projects.find((p) => p.name === 'lab')?.id ?? 0;
    otherProjectId = projects.find((p) => p.name === 'other')?.id ?? 0;
    const [repo] = await db.query<{ id: number }>(
      `INSERT INTO repositories (name, project_id) VALUES ('lab/app', $1) RETURNING id`,
      [projectId],
    );
    for (const n of [1, 2, 3]) {
      await db.query('INSERT INTO blobs (digest, size) VALUES ($1, 1)', [digest(n)]);
      const [m] = await db.query<{ id: number }>(
        `INSERT INTO manifests (repository_id, digest, media_type, artifact_type, size)
         VALUES ($1, $2, 'x', 'cfg', 1) RETURNING id`,
        [repo?.id ?? 0, digest(n)],
      );
      manifest[digest(n)] = m?.id ?? 0;
      await db.query('INSERT INTO tags (repository_id, name, manifest_id) VALUES ($1, $2, $3)', [
        repo?.id ?? 0,
        `t${n}`,
        m?.id ?? 0,
      ]);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  it('keeps names unique per scope and project, not across them', async () => {
    await newLabel('dup', 'g', null);
    expect(
      await insertLabel(db, { name: 'dup', description: '', color: '', scope: 'g', projectId: null }),
    ).toBeNull();
    await newLabel('dup', 'p', projectId);
    await newLabel('dup', 'p', otherProjectId);
    expect(
      await insertLabel(db, { name: 'dup', description: '', color: '', scope: 'p', projectId }),
    ).toBeNull();
    const other = await newLabel('dup-2', 'g', null);
    expect(await updateLabel(db, other.id, { name: 'dup', description: '', color: '' })).toBe('conflict');
    expect(await updateLabel(db, 999_999, { name: 'x', description: '', color: '' })).toBeNull();
  });

  it('refuses a global label with a project and a project label without one (schema check)', async () => {
    await expect(
      db.query(`INSERT INTO labels (name, scope, project_id) VALUES ('bad', 'g', $1)`, [projectId]),
    ).rejects.toThrow();
    await expect(db.query(`INSERT INTO labels (name, scope) VALUES ('bad', 'p')`)).rejects.toThrow();
  });

  it('lists one scope (and project) by name with a total', async () => {
    const page = await listLabels(db, { scope: 'p', projectId }, 0, 10);
    expect(page.total).toBe(1);
    expect(page.items.map((l) => [l.name, l.project_id])).toEqual([['dup', projectId]]);
    const global = await listLabels(db, { scope: 'g', nameLike: 'dup' }, 1, 10);
    expect(global.total).toBe(2);
    expect(global.items.map((l) => l.name)).toEqual(['dup-2']);
  });

  it('maps every tag of a repository to its media types and label names in one query', async () => {
    const zeta = await newLabel('zeta', 'g', null);
    const alpha = await newLabel('alpha', 'p', projectId);
    expect(await attachLabel(db, manifest[digest(1)] ?? 0, zeta.id)).toBe('attached');
    expect(await attachLabel(db, manifest[digest(1)] ?? 0, alpha.id)).toBe('attached');
    expect(await attachLabel(db, manifest[digest(1)] ?? 0, alpha.id)).toBe('present');
    expect(await attachLabel(db, manifest[digest(2)] ?? 0, zeta.id)).toBe('attached');
    // A label or artifact deleted between the checks and the insert: gone, not an error.
    expect(await attachLabel(db, manifest[digest(2)] ?? 0, 999_999)).toBe('gone');
    expect(await attachLabel(db, 999_999, zeta.id)).toBe('gone');
    const facts = await tagArtifactFacts(db, 'lab/app');
    const of = (labels: string[]) => ({ mediaType: 'x', configMediaType: 'cfg', labels });
    expect(Object.fromEntries(facts)).toEqual({
      t1: of(['alpha', 'zeta']),
      t2: of(['zeta']),
      t3: of([]),
    });
    expect((await tagArtifactFacts(db, 'lab/none')).size).toBe(0);
    const byManifest = await labelsOfManifests(db, [manifest[digest(1)] ?? 0, manifest[digest(3)] ?? 0]);
    expect(byManifest.get(manifest[digest(1)] ?? 0)?.map((l) => l.name)).toEqual(['alpha', 'zeta']);
    expect(byManifest.has(manifest[digest(3)] ?? 0)).toBe(false);
  });

  it('detaches, and cascades when the label, the manifest or the project goes', async () => {
    const [zeta] = (await listLabels(db, { scope: 'g', name: 'zeta' }, 0, 1)).items;
    expect(await detachLabel(db, manifest[digest(2)] ?? 0, zeta?.id ?? 0)).toBe(true);
    expect(await detachLabel(db, manifest[digest(2)] ?? 0, zeta?.id ?? 0)).toBe(false);
    await db.query('DELETE FROM manifests WHERE id = $1', [manifest[digest(1)] ?? 0]);
    expect((await tagArtifactFacts(db, 'lab/app')).has('t1')).toBe(false);
    expect(await deleteLabel(db, zeta?.id ?? 0)).toBe(true);
    expect(await deleteLabel(db, zeta?.id ?? 0)).toBe(false);
    await db.query('DELETE FROM repositories WHERE project_id = $1', [projectId]);
    await db.query('DELETE FROM projects WHERE id = $1', [projectId]);
    expect((await listLabels(db, { scope: 'p', projectId }, 0, 10)).total).toBe(0);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM artifact_labels'))[0]?.n).toBe(0);
  });
});
