// Replication planning: pure functions (no I/O) that decide what a replication run does. The
// execution module lists both sides and runs the work these return.
export * from '../../domain/name-pattern.js';
export * from '../../domain/replication-filters.js';
export * from './naming.js';
export * from './diff.js';
export * from './conflict.js';
