import { expect } from 'vitest';
import type { Backends } from '../../src/wharf.js';
import { fsck } from '../../src/services/fsck-service.js';
import { runGcToCompletion, type GcApiTarget } from './gc-api.js';
import { runGcRace, type RaceReport } from './gc-race.js';
import {
  blobRows,
  blobsInStorage,
  compareStore,
  referencedByLedger,
  verifyLedger,
} from './gc-race-verify.js';
import type { OciClient } from './oci-client.js';

// The whole GC race scenario, the same for every deployment (in process on the filesystem, on S3,
// two instances behind a load balancer): the race, the pulls, fsck, a final GC, and the store
// compared byte for byte with what the acknowledged tags reference. Deployments differ in how the
// test reaches their database and storage (RaceDeployment).

export interface RaceDeployment {
  /** The workers' clients (e.g. one per instance, or the load balancer's). */
  clients: OciClient[];
  /** Where GC is started and watched (an instance or the load balancer). */
  gc: GcApiTarget;
  /** Runs `inspect` on the deployment's database and storage while nothing writes. */
  withBackends<T>(inspect: (backends: Pick<Backends, 'db' | 'storage'>) => Promise<T>): Promise<T>;
  /** `wharf fsck` (or the fsck service) must find the store clean: throws the problems otherwise. */
  fsckClean(): Promise<void>;
  /** The server log lines that explain 5xx answers (by the request ids in their bodies), if any. */
  explain?(texts: string[]): string[];
}

export interface ScenarioOptions {
  cycles?: number;
  workers?: number;
  maxMs?: number;
  repositories: string[];
}

/** A seed from WHARF_GC_RACE_SEED (to replay a failure) or a fresh one; every report names it. */
export function raceSeed(): number {
  const fixed = Number(process.env.WHARF_GC_RACE_SEED);
  return Number.isSafeInteger(fixed) && fixed > 0 ? fixed : 1 + Math.floor(Math.random() * 1_000_000);
}

/** The service's fsck with no grace: every problem it finds, as text ([] when clean). */
export async function fsckProblems(backends: Pick<Backends, 'db' | 'storage'>): Promise<string[]> {
  const report = await fsck(backends.db, backends.storage, { repair: false, graceMs: 0 });
  return report.problems.map((p) => `${p.kind} ${p.subject}: ${p.detail}`);
}

function summary(report: RaceReport): string {
  const { ledger, ...counts } = report;
  return JSON.stringify({ ...counts, tags: ledger.length });
}

export async function runRaceScenario(
  deployment: RaceDeployment,
  options: ScenarioOptions,
): Promise<RaceReport> {
  const seed = raceSeed();
  let untagged = false;
  const report = await runGcRace({
    clients: deployment.clients,
    repositories: options.repositories,
    workers: options.workers ?? 4,
    tagsPerWorker: 3,
    cycles: options.cycles ?? 220,
    maxMs: options.maxMs ?? 300_000,
    seed,
    // Runs alternate with and without delete_untagged: both kinds race the pushes.
    runGc: async () => {
      untagged = !untagged;
      await runGcToCompletion(deployment.gc, { delete_untagged: untagged, workers: 2 });
    },
  }).catch((err: unknown) => {
    throw new Error(`GC race (seed ${seed}) failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  });
  const said = summary(report);
  console.info(`GC race: ${said}`);
  expect(report.cycles, said).toBeGreaterThanOrEqual(200);
  // GC really raced the clients: several complete runs happened while they pushed and deleted.
  expect(report.gcRuns, said).toBeGreaterThanOrEqual(2);
  const client = deployment.clients[0] as OciClient;
  await verifyLedger(client, report.ledger);
  // Right after the race, before any tidying: no broken artifact, no blob without bytes.
  await deployment.fsckClean();
  // A last GC, removing untagged artifacts too, leaves exactly what the tags reference.
  await runGcToCompletion(deployment.gc, { delete_untagged: true, workers: 2 });
  await verifyLedger(client, report.ledger);
  const { comparison, problems } = await deployment.withBackends(async (backends) => ({
    comparison: compareStore(
      referencedByLedger(report.ledger),
      await blobsInStorage(backends.storage),
      await blobRows(backends.db),
    ),
    problems: await fsckProblems(backends),
  }));
  expect({ ...comparison, problems }, said).toEqual({
    expectedBytes: comparison.expectedBytes,
    storedBytes: comparison.expectedBytes,
    missing: [],
    leftOver: [],
    rowMismatches: [],
    problems: [],
  });
  // Last, so that the verdict on the store above is reached whatever else went wrong: no request
  // of the race may have been answered with a 5xx (see RaceCounters.serverErrors).
  const why = deployment.explain?.(report.serverErrors) ?? [];
  expect(report.serverErrors, `${said}\n${why.join('\n').slice(0, 12_000)}`).toEqual([]);
  return report;
}
