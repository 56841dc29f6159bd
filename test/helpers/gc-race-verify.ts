import { listBlobs } from '../../src/metadata/blobs-table.js';
import type { Queryable } from '../../src/metadata/database.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { BLOBS_PREFIX, digestFromBlobKey } from '../../src/storage/paths.js';
import { verifyPull } from './gc-race-client.js';
import type { TagRecord } from './gc-race.js';
import type { OciClient } from './oci-client.js';

// The end of the GC race, with writes stopped: every tag pulls as last acknowledged (or is gone
// when it was last deleted), and, after a final GC that also removes untagged artifacts, the
// store holds exactly the bytes the acknowledged tags reference: not one blob more (GC left
// garbage) nor less (GC took a referenced blob), in storage and in the blobs table alike.

/** Pulls every tag of the ledger: acknowledged pushes byte for byte, deleted tags 404. */
export async function verifyLedger(client: OciClient, ledger: readonly TagRecord[]): Promise<void> {
  for (const record of ledger) {
    if (record.image) {
      await verifyPull(client, record.repository, record.tag, record.image);
      continue;
    }
    const res = await client.request('GET', `/v2/${record.repository}/manifests/${record.tag}`);
    await res.body?.cancel();
    if (res.status !== 404) {
      throw new Error(
        `${record.repository}:${record.tag} was last deleted (or never pushed) but answers ${res.status}`,
      );
    }
  }
}

/** Digest => size of every blob the tagged images reference (their manifests included). */
export function referencedByLedger(ledger: readonly TagRecord[]): Map<string, number> {
  const referenced = new Map<string, number>();
  for (const { image } of ledger) {
    if (!image) continue;
    referenced.set(image.digest, image.bytes.length);
    for (const blob of image.blobs) referenced.set(blob.descriptor.digest, blob.descriptor.size);
  }
  return referenced;
}

/** Digest => size of every blob in storage (walking the driver under blobs/). */
export async function blobsInStorage(storage: StorageDriver): Promise<Map<string, number>> {
  const stored = new Map<string, number>();
  for await (const key of storage.list(BLOBS_PREFIX)) {
    const digest = digestFromBlobKey(key);
    const info = digest ? await storage.stat(key) : null;
    if (digest && info) stored.set(digest, info.size);
  }
  return stored;
}

/** Digest => size of every row of the blobs table. */
export async function blobRows(db: Queryable): Promise<Map<string, number>> {
  const rows = new Map<string, number>();
  for (let after: string | undefined; ;) {
    const page = await listBlobs(db, after, 1000);
    for (const row of page) rows.set(row.digest, Number(row.size));
    if (page.length < 1000) return rows;
    after = page[page.length - 1]?.digest;
  }
}

export interface StoreComparison {
  expectedBytes: number;
  storedBytes: number;
  /** Referenced but not stored (a lost byte), stored but not referenced (garbage left), rows off. */
  missing: string[];
  leftOver: string[];
  rowMismatches: string[];
}

const total = (blobs: Map<string, number>) => [...blobs.values()].reduce((sum, size) => sum + size, 0);

/** Compares what the ledger references with what storage and the blobs table hold. */
export function compareStore(
  expected: Map<string, number>,
  stored: Map<string, number>,
  rows: Map<string, number>,
): StoreComparison {
  const rowMismatches = [
    ...[...rows]
      .filter(([digest, size]) => stored.get(digest) !== size)
      .map(([d]) => `row without bytes ${d}`),
    ...[...stored.keys()].filter((digest) => !rows.has(digest)).map((d) => `bytes without row ${d}`),
  ];
  return {
    expectedBytes: total(expected),
    storedBytes: total(stored),
    missing: [...expected].filter(([digest, size]) => stored.get(digest) !== size).map(([d]) => d),
    leftOver: [...stored.keys()].filter((digest) => !expected.has(digest)),
    rowMismatches,
  };
}
