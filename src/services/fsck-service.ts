import { isDigestAlgorithm, parseDigest } from '../domain/digest.js';
import { nativeHasher, resumableHasher } from '../domain/hashing.js';
import { deleteBlobRow, listBlobs } from '../metadata/blobs-table.js';
import type { Database } from '../metadata/database.js';
import { listUploadSessionIds } from '../metadata/uploads-table.js';
import type { StorageDriver } from '../storage/driver.js';
import { BLOBS_PREFIX, UPLOADS_PREFIX, blobKey, digestFromBlobKey, uploadPrefix } from '../storage/paths.js';

// Consistency check of a data store: storage holds the bytes, PostgreSQL the names and references.

export type FsckProblemKind =
  | 'corrupt-blob' // bytes do not hash to their digest
  | 'missing-blob' // metadata says a blob exists, storage has no bytes
  | 'size-mismatch' // stored size differs from the recorded one
  | 'orphan-blob' // bytes with no metadata row
  | 'orphan-upload' // upload data with no session row
  | 'missing-upload-data'; // session row whose bytes are gone

export interface FsckProblem {
  kind: FsckProblemKind;
  subject: string;
  detail: string;
  repaired: boolean;
}

export interface FsckOptions {
  repair: boolean;
  /** Storage objects younger than this are left alone: a live server may be committing them. */
  graceMs: number;
  onProgress?: (message: string) => void;
}

export interface FsckReport {
  blobsChecked: number;
  problems: FsckProblem[];
}

export async function fsck(db: Database, storage: StorageDriver, options: FsckOptions): Promise<FsckReport> {
  const problems: FsckProblem[] = [];
  const now = Date.now();
  const recent = (modifiedAt: Date) => now - modifiedAt.getTime() < options.graceMs;

  // 1. Every blob in storage hashes to its digest and has a row.
  const seen = new Set<string>();
  let blobsChecked = 0;
  for await (const key of storage.list(BLOBS_PREFIX)) {
    const digestValue = digestFromBlobKey(key);
    if (!digestValue) continue;
    const parsed = parseDigest(digestValue);
    if (!parsed.ok) continue;
    seen.add(digestValue);
    blobsChecked++;
    const hasher = nativeHasher(parsed.digest.algorithm);
    for await (const part of await storage.read(key)) hasher.update(part as Buffer);
    const actual = hasher.digestHex();
    const rows = await db.query<{ size: number }>('SELECT size FROM blobs WHERE digest = $1', [digestValue]);
    if (actual !== parsed.digest.hex) {
      const problem: FsckProblem = {
        kind: 'corrupt-blob',
        subject: digestValue,
        detail: `bytes hash to ${parsed.digest.algorithm}:${actual}`,
        repaired: false,
      };
      if (options.repair) {
        // Corrupt bytes must never be served; removing them lets a client push the blob again.
        await storage.delete(key);
        await removeBlobMetadata(db, digestValue);
        problem.repaired = true;
      }
      problems.push(problem);
      continue;
    }
    const info = await storage.stat(key);
    if (rows.length === 0) {
      if (info && recent(info.modifiedAt)) continue;
      const problem: FsckProblem = {
        kind: 'orphan-blob',
        subject: digestValue,
        detail: 'no metadata refers to these bytes',
        repaired: false,
      };
      if (options.repair) {
        await storage.delete(key);
        problem.repaired = true;
      }
      problems.push(problem);
    } else if (info && rows[0] && rows[0].size !== info.size) {
      problems.push({
        kind: 'size-mismatch',
        subject: digestValue,
        detail: `recorded ${rows[0].size} bytes, stored ${info.size}`,
        repaired: false,
      });
    }
    if (blobsChecked % 100 === 0) options.onProgress?.(`checked ${blobsChecked} blobs`);
  }

  // 2. Every blob row has bytes.
  let after: string | undefined;
  for (;;) {
    const rows = await listBlobs(db, after, 500);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]?.digest;
    for (const row of rows) {
      if (seen.has(row.digest)) continue;
      const parsed = parseDigest(row.digest);
      if (parsed.ok && (await storage.stat(blobKey(parsed.digest)))) continue;
      const problem: FsckProblem = {
        kind: 'missing-blob',
        subject: row.digest,
        detail: 'metadata row without bytes',
        repaired: false,
      };
      if (options.repair) {
        await removeBlobMetadata(db, row.digest);
        problem.repaired = true;
      }
      problems.push(problem);
    }
  }

  // 3. Upload data and session rows agree.
  const sessions = await listUploadSessionIds(db);
  const withData = new Set<string>();
  for await (const key of storage.list(UPLOADS_PREFIX)) {
    const id = key.split('/')[1] ?? '';
    withData.add(id);
    if (sessions.has(id)) continue;
    const info = await storage.stat(key);
    if (info && recent(info.modifiedAt)) continue;
    const problem: FsckProblem = {
      kind: 'orphan-upload',
      subject: id,
      detail: 'upload data without a session',
      repaired: false,
    };
    if (options.repair) {
      await storage.deletePrefix(uploadPrefix(id));
      problem.repaired = true;
    }
    if (!problems.some((p) => p.kind === 'orphan-upload' && p.subject === id)) problems.push(problem);
  }
  const emptySessions = await db.query<{
    id: string;
    hash_algorithm: string;
    hash_state: Uint8Array | null;
    hashed_digest: string | null;
  }>('SELECT id, hash_algorithm, hash_state, hashed_digest FROM upload_sessions WHERE byte_offset > 0');
  for (const session of emptySessions) {
    const { id } = session;
    if (withData.has(id)) continue;
    if (await committedAlready(storage, session)) {
      // A commit that stored the bytes as their blob but could not delete the session row (the
      // database went away in between): nothing is lost or inconsistent, the session is only dead
      // weight until the janitor purges it. --repair removes it now.
      if (options.repair) await db.query('DELETE FROM upload_sessions WHERE id = $1', [id]);
      continue;
    }
    const problem: FsckProblem = {
      kind: 'missing-upload-data',
      subject: id,
      detail: 'upload session whose bytes are gone',
      repaired: false,
    };
    if (options.repair) {
      await db.query('DELETE FROM upload_sessions WHERE id = $1', [id]);
      problem.repaired = true;
    }
    problems.push(problem);
  }
  return { blobsChecked, problems };
}

/** Whether the bytes this session counted are stored as their blob already (an interrupted commit). */
async function committedAlready(
  storage: StorageDriver,
  session: { hash_algorithm: string; hash_state: Uint8Array | null; hashed_digest: string | null },
): Promise<boolean> {
  let digest = session.hashed_digest;
  if (!digest && session.hash_state && isDigestAlgorithm(session.hash_algorithm)) {
    const hasher = await resumableHasher(session.hash_algorithm, session.hash_state);
    digest = `${session.hash_algorithm}:${hasher.digestHex()}`;
  }
  if (!digest) return false;
  const parsed = parseDigest(digest);
  return parsed.ok && (await storage.stat(blobKey(parsed.digest))) !== null;
}

/** Forgets a blob: manifests stored as that blob go too (with their tags), then the row. */
async function removeBlobMetadata(db: Database, digest: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('DELETE FROM manifests WHERE digest = $1', [digest]);
    await deleteBlobRow(tx, digest);
  });
}
