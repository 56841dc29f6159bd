import { parseArgs } from 'node:util';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import {
  describeSummary,
  formatBytes,
  GcAlreadyRunningError,
  parseGcParameters,
  runGc,
  type GcDeps,
  type GcParameters,
  type GcSummary,
} from '../services/gc/index.js';
import { ServiceError } from '../services/service-error.js';
import { createLogger, openGcEngine } from '../wharf.js';
import { configFrom } from './config-args.js';

// `wharf gc [--dry-run] [--delete-untagged] [--workers N]`: one garbage collection run with the
// engine the job service runs, under the same cluster-wide lease (it refuses to start while
// another run holds it). Progress goes to stderr, the summary to stdout. Online: the servers may
// keep serving meanwhile (with the embedded database, the server holds it: stop it first).

export const GC_USAGE = `Usage:
  wharf gc [--config FILE] [--data-dir DIR] [--dry-run] [--delete-untagged] [--workers N]

Deletes what nothing references: blobs, repository links no manifest needs, abandoned uploads and
objects no row names (and, with --delete-untagged, artifacts without a tag), older than
gc.grace_period_minutes. --dry-run counts what would be deleted and changes nothing. --workers
(1-5) deletes that many blobs in parallel. Exit status 0 when the run completed, 3 when another
garbage collection is running, 130 when interrupted (Ctrl-C), 1 on failure.`;

export async function runGcCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'delete-untagged': { type: 'boolean', default: false },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(GC_USAGE);
    return 0;
  }
  let params: GcParameters;
  try {
    params = parseGcParameters({
      dry_run: values['dry-run'],
      delete_untagged: values['delete-untagged'],
      workers: values.workers,
    });
  } catch (err) {
    if (!(err instanceof ServiceError)) throw err;
    console.error(`wharf gc: ${err.message}\n${GC_USAGE}`);
    return 2;
  }
  const config = configFrom(values);
  const engine = await openGcEngine(config, createLogger(config));
  // Ctrl-C stops between deletions: every step leaves the store consistent.
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await runGcOrReport(engine.deps, params, stop.signal);
    if (!summary) return 3;
    console.log(`wharf gc: ${describeSummary(summary)}`);
    console.log(
      `blobs ${summary.blobsDeleted}, manifests ${summary.manifestsDeleted}, bytes ${summary.bytesFreed} ` +
        `(${formatBytes(summary.bytesFreed)}), upload sessions ${summary.uploadSessionsPurged}, ` +
        `orphans ${summary.orphansRemoved}, links ${summary.linksRemoved}${summary.dryRun ? ' (dry run)' : ''}`,
    );
    return 0;
  } catch (err) {
    // The store is consistent after any failure or stop: every deletion is complete or not begun.
    const why = stop.signal.aborted
      ? 'interrupted'
      : `failed: ${err instanceof Error ? err.message : String(err)}`;
    console.error(`wharf gc: ${why}; the store is consistent, a later run finishes the work`);
    return stop.signal.aborted ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await engine.close();
  }
}

/** The run's summary, or null (reported) when another garbage collection holds the lease. */
async function runGcOrReport(
  deps: GcDeps,
  params: GcParameters,
  signal: AbortSignal,
): Promise<GcSummary | null> {
  try {
    return await runGc(deps, params, {
      holder: `wharf gc on ${hostname()} (pid ${process.pid}, ${randomUUID().slice(0, 8)})`,
      signal,
      log: (line) => console.error(line),
    });
  } catch (err) {
    if (!(err instanceof GcAlreadyRunningError)) throw err;
    console.error(`wharf gc: ${err.message}; not started`);
    return null;
  }
}
