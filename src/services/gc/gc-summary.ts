/** What one garbage collection run did (or, in a dry run, would do). */
export interface GcSummary {
  dryRun: boolean;
  /** Artifacts (manifests) deleted: untagged ones and what their deletion took along. */
  manifestsDeleted: number;
  /** Repository links to blobs that no manifest of the repository needed. */
  linksRemoved: number;
  /** Blobs whose bytes were deleted (including those a killed earlier run had started on). */
  blobsDeleted: number;
  /** Bytes of the blobs and orphan objects deleted. */
  bytesFreed: number;
  uploadSessionsPurged: number;
  /** Objects in storage that no row names (left by crashes), and upload data without a session. */
  orphansRemoved: number;
}

export function emptySummary(dryRun: boolean): GcSummary {
  return {
    dryRun,
    manifestsDeleted: 0,
    linksRemoved: 0,
    blobsDeleted: 0,
    bytesFreed: 0,
    uploadSessionsPurged: 0,
    orphansRemoved: 0,
  };
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB"; below 1 KiB, "N bytes". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/**
 * The run's outcome in words, e.g. "deleted 12 blobs (3.4 MiB) and 2 manifests; purged 1 upload
 * session" or "dry run: would delete ...".
 */
export function describeSummary(s: GcSummary): string {
  const verb = s.dryRun ? 'would delete' : 'deleted';
  const purge = s.dryRun ? 'would purge' : 'purged';
  const parts = [
    `${verb} ${count(s.blobsDeleted, 'blob')} (${formatBytes(s.bytesFreed)}) and ${count(s.manifestsDeleted, 'manifest')}`,
  ];
  const extra: string[] = [];
  if (s.uploadSessionsPurged > 0) extra.push(count(s.uploadSessionsPurged, 'upload session'));
  if (s.orphansRemoved > 0) extra.push(count(s.orphansRemoved, 'orphan object'));
  if (extra.length > 0) parts.push(`${purge} ${extra.join(' and ')}`);
  if (s.linksRemoved > 0)
    parts.push(`${s.dryRun ? 'would unlink' : 'unlinked'} ${count(s.linksRemoved, 'unused layer link')}`);
  return `${s.dryRun ? 'dry run: ' : ''}${parts.join('; ')}`;
}
