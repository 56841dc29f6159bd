// The total order of a tag's versions that two-way replication resolves conflicts with
// (replication/plan/conflict.ts explains the rule), here so that a destination can apply it
// in the same transaction as a replicated write (services/registry/manifest-service.ts):
//
//   1. the later time wins (a push's time, or a deletion's time for a tombstone);
//   2. at the same time, a deletion beats a push;
//   3. two pushes at the same time: the larger digest (code-unit order) wins;
//   4. no record at all (absent) loses to everything.
// Times are milliseconds since the epoch.

export type TagState =
  | { kind: 'present'; digest: string; pushedAt: number }
  | { kind: 'deleted'; deletedAt: number }
  | { kind: 'absent' };

export const ABSENT: TagState = { kind: 'absent' };

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative when a loses to b, positive when a wins, 0 when equal. */
export function compareStates(a: TagState, b: TagState): number {
  if (a.kind === 'absent' || b.kind === 'absent') {
    return (a.kind === 'absent' ? 0 : 1) - (b.kind === 'absent' ? 0 : 1);
  }
  const time = (s: typeof a) => (s.kind === 'present' ? s.pushedAt : s.deletedAt);
  if (time(a) !== time(b)) return time(a) < time(b) ? -1 : 1;
  if (a.kind !== b.kind) return a.kind === 'deleted' ? 1 : -1;
  if (a.kind === 'present' && b.kind === 'present') return compareCodeUnits(a.digest, b.digest);
  return 0;
}
