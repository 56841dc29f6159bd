import type { Queryable } from './database.js';

// The per-digest lock between garbage collection and every write that relies on a blob's bytes
// (docs/lifecycle.md). Writers hold it shared for the rest of their transaction: an upload
// commit, a mount, a manifest PUT (its own digest and every blob it references). GC holds it
// exclusively while it rechecks that nothing references a blob and deletes it. So a write that
// found a blob either commits before GC's recheck (which then sees the reference and keeps the
// blob) or starts after GC committed (and finds the blob gone: it uploads again). Transaction
// scoped: released at commit or rollback, never leaked by a crash. Two digests sharing a key
// only wait for each other; correctness does not depend on the key being unique.

/** First key of the two-key advisory lock: this protocol's namespace. */
const BLOB_LOCK_CLASS = 0x0b10b;

/** Holds the digests' locks shared until the transaction ends (writers; they never block each other). */
export async function holdBlobsShared(tx: Queryable, digests: readonly string[]): Promise<void> {
  const unique = [...new Set(digests)].sort();
  if (unique.length === 0) return;
  await tx.query(`SELECT pg_advisory_xact_lock_shared($1, hashtext(d)) FROM unnest($2::text[]) AS d`, [
    BLOB_LOCK_CLASS,
    unique,
  ]);
}

/** Holds one digest's lock exclusively until the transaction ends (GC: one digest at a time). */
export async function holdBlobExclusive(tx: Queryable, digest: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [BLOB_LOCK_CLASS, digest]);
}
