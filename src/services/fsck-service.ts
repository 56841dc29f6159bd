import { isDigestAlgorithm, parseDigest } from '../domain/digest.js';
import { nativeHasher, resumableHasher } from '../domain/hashing.js';
import { findBlob, listBlobs } from '../metadata/blobs-table.js';
import type { Database } from '../metadata/database.js';
import { findBrokenArtifacts, listStartedUploadSessions } from '../metadata/fsck-queries.js';
import { deleteUploadSession, listUploadSessionIds } from '../metadata/uploads-table.js';
import type { StorageDriver } from '../storage/driver.js';
import { findLooseModes, formatMode, makePrivate, privateMode } from '../storage/private-files.js';
import { BLOBS_PREFIX, UPLOADS_PREFIX, blobKey, digestFromBlobKey, uploadPrefix } from '../storage/paths.js';
import { actOnUnclaimedBlob } from './gc/unclaimed-blob.js';

// Consistency check of a data store: storage holds the bytes, PostgreSQL the names and references.

export type FsckProblemKind =
  | 'corrupt-blob' // bytes do not hash to their digest (quarantined by --repair, never deleted)
  | 'missing-blob' // metadata says a blob exists, storage has no bytes
  | 'broken-artifact' // a manifest whose own bytes or whose references are missing or corrupt
  | 'size-mismatch' // stored size differs from the recorded one
  | 'unreferenced-blob' // bytes no metadata names (quarantined by --repair)
  | 'orphan-upload' // upload data with no session row
  | 'missing-upload-data' // session row whose bytes are gone
  | 'loose-mode'; // a private file or directory that group or others may access

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
  /** Files and directories that must be the owner's only (checked below them when recursive). */
  privatePaths?: readonly { path: string; recursive: boolean }[];
  onProgress?: (message: string) => void;
}

export interface FsckReport {
  blobsChecked: number;
  problems: FsckProblem[];
}

/** Where --repair puts bytes it takes out of service: kept for inspection, never served, never listed as blobs. */
export const QUARANTINE_PREFIX = 'quarantine';

function quarantineKey(key: string, now: number): string {
  return `${QUARANTINE_PREFIX}/${now}/${key}`;
}

/** One run's shared state: what each step reads and the problems they report. */
interface FsckRun {
  db: Database;
  storage: StorageDriver;
  options: FsckOptions;
  problems: FsckProblem[];
  now: number;
  /** Digests whose bytes cannot be served (corrupt, or absent): the artifacts that need them are named. */
  unusable: Set<string>;
}

export async function fsck(db: Database, storage: StorageDriver, options: FsckOptions): Promise<FsckReport> {
  const run: FsckRun = { db, storage, options, problems: [], now: Date.now(), unusable: new Set() };
  const { seen, blobsChecked } = await checkStoredBlobs(run);
  await checkBlobRows(run, seen);
  await checkArtifacts(run);
  const withData = await checkUploadData(run);
  await checkUploadSessions(run, withData);
  await checkPrivateModes(run);
  return { blobsChecked, problems: run.problems };
}

function recent(run: FsckRun, modifiedAt: Date): boolean {
  return run.now - modifiedAt.getTime() < run.options.graceMs;
}

/** 1. Every blob in storage is named by metadata and hashes to its digest. */
async function checkStoredBlobs(run: FsckRun): Promise<{ seen: Set<string>; blobsChecked: number }> {
  const { db, storage, options } = run;
  const seen = new Set<string>();
  let blobsChecked = 0;
  for await (const key of storage.list(BLOBS_PREFIX)) {
    const digestValue = digestFromBlobKey(key);
    const parsed = digestValue ? parseDigest(digestValue) : null;
    if (!digestValue || !parsed?.ok) continue;
    seen.add(digestValue);
    blobsChecked++;
    if (blobsChecked % 100 === 0) options.onProgress?.(`checked ${blobsChecked} blobs`);
    const row = await findBlob(db, digestValue);
    const info = await storage.stat(key);
    if (!row) {
      // Bytes no metadata names are garbage (or a commit in progress), whatever they hash to.
      if (info && !recent(run, info.modifiedAt)) await reportUnreferenced(run, key, digestValue);
      continue;
    }
    const hasher = nativeHasher(parsed.digest.algorithm);
    for await (const part of await storage.read(key)) hasher.update(part as Buffer);
    const actual = hasher.digestHex();
    if (actual !== parsed.digest.hex) {
      await reportCorrupt(run, key, digestValue, `${parsed.digest.algorithm}:${actual}`);
    } else if (info && row.size !== info.size) {
      run.problems.push({
        kind: 'size-mismatch',
        subject: digestValue,
        detail: `recorded ${row.size} bytes, stored ${info.size}`,
        repaired: false,
      });
    }
  }
  return { seen, blobsChecked };
}

async function reportUnreferenced(run: FsckRun, key: string, digestValue: string): Promise<void> {
  const problem: FsckProblem = {
    kind: 'unreferenced-blob',
    subject: digestValue,
    detail: 'no metadata refers to these bytes',
    repaired: false,
  };
  if (run.options.repair) {
    const target = quarantineKey(key, run.now);
    // As GC deletes: a push committing these bytes meanwhile keeps them.
    if (!(await actOnUnclaimedBlob(run.db, digestValue, () => run.storage.move(key, target)))) return;
    problem.detail += `; moved to ${target}`;
    problem.repaired = true;
  }
  run.problems.push(problem);
}

async function reportCorrupt(run: FsckRun, key: string, digestValue: string, actual: string): Promise<void> {
  run.unusable.add(digestValue);
  const problem: FsckProblem = {
    kind: 'corrupt-blob',
    subject: digestValue,
    detail: `bytes hash to ${actual}`,
    repaired: false,
  };
  if (run.options.repair) {
    // Out of service, not deleted: a push of the blob to any repository stores good bytes at
    // its key again, which heals every repository that uses it (one copy per digest).
    const target = quarantineKey(key, run.now);
    await run.storage.move(key, target);
    problem.detail += `; moved to ${target}, push an image that contains it to restore it`;
    problem.repaired = true;
  }
  run.problems.push(problem);
}

/**
 * 2. Every blob row has bytes. Not repairable here: the metadata is kept so that pushing the
 * blob again (to any repository that had it) brings every artifact using it back.
 */
async function checkBlobRows(run: FsckRun, seen: Set<string>): Promise<void> {
  let after: string | undefined;
  for (;;) {
    const rows = await listBlobs(run.db, after, 500);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]?.digest;
    for (const row of rows) {
      if (seen.has(row.digest)) continue;
      const parsed = parseDigest(row.digest);
      if (parsed.ok && (await run.storage.stat(blobKey(parsed.digest)))) continue;
      run.unusable.add(row.digest);
      run.problems.push({
        kind: 'missing-blob',
        subject: row.digest,
        detail: 'metadata row without bytes; push an image that contains it to restore it',
        repaired: false,
      });
    }
  }
}

/** 3. Every manifest's own bytes and the references it needs are present and sound. */
async function checkArtifacts(run: FsckRun): Promise<void> {
  for (const artifact of await findBrokenArtifacts(run.db, [...run.unusable])) {
    const tags = artifact.tags.length > 0 ? `tags ${artifact.tags.join(', ')}` : 'untagged';
    run.problems.push({
      kind: 'broken-artifact',
      subject: `${artifact.repository}@${artifact.digest}`,
      detail: `${tags}; cannot be pulled, missing ${artifact.missing.join(', ')}; push it again`,
      repaired: false,
    });
  }
}

/** 4a. Upload data has a session row; returns the sessions that have data. */
async function checkUploadData(run: FsckRun): Promise<Set<string>> {
  const { db, storage, options, problems } = run;
  const sessions = await listUploadSessionIds(db);
  const withData = new Set<string>();
  for await (const key of storage.list(UPLOADS_PREFIX)) {
    const id = key.split('/')[1] ?? '';
    withData.add(id);
    if (sessions.has(id)) continue;
    const info = await storage.stat(key);
    if (info && recent(run, info.modifiedAt)) continue;
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
  return withData;
}

/** 4b. A started session row has its data (or was committed already). */
async function checkUploadSessions(run: FsckRun, withData: Set<string>): Promise<void> {
  const { db, storage, options } = run;
  for (const session of await listStartedUploadSessions(db)) {
    const { id } = session;
    if (withData.has(id)) continue;
    if (await committedAlready(storage, session)) {
      // A commit that stored the bytes as their blob but could not delete the session row (the
      // database went away in between): nothing is lost or inconsistent, the session is only dead
      // weight until the janitor purges it. --repair removes it now.
      if (options.repair) await deleteUploadSession(db, id);
      continue;
    }
    const problem: FsckProblem = {
      kind: 'missing-upload-data',
      subject: id,
      detail: 'upload session whose bytes are gone',
      repaired: false,
    };
    if (options.repair) {
      await deleteUploadSession(db, id);
      problem.repaired = true;
    }
    run.problems.push(problem);
  }
}

/** 5. Private files are private. */
async function checkPrivateModes(run: FsckRun): Promise<void> {
  for (const { path, recursive } of run.options.privatePaths ?? []) {
    for await (const loose of findLooseModes(path, recursive)) {
      const problem: FsckProblem = {
        kind: 'loose-mode',
        subject: loose.path,
        detail: `mode ${formatMode(loose.mode)} lets group or others in; should be ${formatMode(privateMode(loose.mode))}`,
        repaired: false,
      };
      if (run.options.repair) {
        await makePrivate(loose);
        problem.repaired = true;
      }
      run.problems.push(problem);
    }
  }
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
