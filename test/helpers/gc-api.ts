import { waitFor } from './poll.js';

// Garbage collection driven the way an operator drives it, through Harbor's API: a Manual schedule
// starts a run now (POST /system/gc/schedule, 201 with the run's Location), GET /system/gc/{id}
// shows its job_status until it ends. One run at a time cluster-wide: a start refused because
// another run is going (409) waits for that one and tries again.

export interface GcApiTarget {
  /** http://127.0.0.1:PORT of an instance or of the load balancer. */
  url: string;
  /** The admin's Authorization header. */
  authorization: string;
}

export interface GcParameters {
  delete_untagged: boolean;
  dry_run?: boolean;
  workers?: number;
}

/** A run of GET /system/gc/{id}, the fields the tests read. */
export interface GcRun {
  id: number;
  job_status: string;
  job_parameters?: string;
  deleted?: boolean;
}

const SUCCEEDED = /^(success|succeed|finished)$/i;
const FAILED = /^(error|failed|stopped)$/i;

async function api(target: GcApiTarget, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${target.url}/api/v2.0${path}`, {
    method,
    headers: {
      authorization: target.authorization,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
}

/** Starts a run now; its id, or undefined when another run is going (409). */
export async function startGc(target: GcApiTarget, parameters: GcParameters): Promise<number | undefined> {
  const res = await api(target, 'POST', '/system/gc/schedule', {
    schedule: { type: 'Manual' },
    parameters: { dry_run: false, workers: 2, ...parameters },
  });
  const text = await res.text();
  if (res.status === 409) return undefined;
  if (res.status !== 201) throw new Error(`POST /system/gc/schedule: ${res.status} ${text.slice(0, 300)}`);
  const id = Number(res.headers.get('location')?.split('/').pop());
  if (!Number.isSafeInteger(id)) throw new Error('POST /system/gc/schedule: no run id in Location');
  return id;
}

export async function gcRun(target: GcApiTarget, id: number): Promise<GcRun> {
  const res = await api(target, 'GET', `/system/gc/${id}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /system/gc/${id}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as GcRun;
}

/** Waits for run `id` to end; throws with its log when it did not succeed. */
export async function awaitGc(target: GcApiTarget, id: number, timeoutMs = 120_000): Promise<GcRun> {
  const run = await waitFor(
    `GC run ${id} to end`,
    async () => {
      const current = await gcRun(target, id);
      return SUCCEEDED.test(current.job_status) || FAILED.test(current.job_status) ? current : undefined;
    },
    timeoutMs,
    50,
  );
  if (!SUCCEEDED.test(run.job_status)) {
    const log = await api(target, 'GET', `/system/gc/${id}/log`).then((r) => r.text());
    throw new Error(`GC run ${id} ended ${run.job_status}:\n${log.slice(-2000)}`);
  }
  return run;
}

/** Runs GC to completion: starts a run (waiting out one already going) and waits for its end. */
export async function runGcToCompletion(
  target: GcApiTarget,
  parameters: GcParameters,
  timeoutMs = 120_000,
): Promise<GcRun> {
  const id = await waitFor('a GC run to start', () => startGc(target, parameters), timeoutMs, 50);
  return awaitGc(target, id, timeoutMs);
}
