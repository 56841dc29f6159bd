import type { FastifyInstance } from 'fastify';
import type { JobService } from '../../../jobs/job-service.js';
import type { JobRow, PoolRow } from '../../../metadata/jobs-table.js';
import type { AccessService } from '../../../services/access-service.js';
import { ApiError } from '../api-error.js';
import { objectBody } from '../body.js';
import { requireMonitor } from './access.js';

// /api/v2.0/jobservice: Harbor's job service monitor. Queues (pending jobs per type, pause,
// resume, stop), worker pools (one per instance) and their workers (the running jobs), stopping
// a job and reading its log. Everything is read from the shared database, so any instance
// answers for the whole cluster.

const QUEUE_ACTIONS = ['stop', 'pause', 'resume'] as const;
type QueueAction = (typeof QUEUE_ACTIONS)[number];

function action(body: unknown, allowed: readonly string[]): string {
  const value = objectBody(body).action;
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new ApiError('BAD_REQUEST', `action must be one of ${allowed.join(', ')}`);
  }
  return value;
}

/** Job ids are numbers; anything else names no job. */
function jobId(params: unknown): number {
  const raw = (params as { job_id?: string }).job_id ?? '';
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError('NOT_FOUND', `job ${raw} not found`);
  return Number(raw);
}

function poolJson(p: PoolRow) {
  return {
    pid: p.pid,
    worker_pool_id: p.id,
    start_at: p.started_at.toISOString(),
    heartbeat_at: p.heartbeat_at.toISOString(),
    concurrency: p.concurrency,
    host: p.host,
  };
}

function workerJson(j: JobRow) {
  return {
    id: `${j.lease_owner ?? ''}/${j.id}`,
    pool_id: j.lease_owner ?? '',
    job_name: j.type,
    job_id: String(j.id),
    start_at: j.started_at?.toISOString() ?? null,
    check_in: '',
    checkin_at: j.updated_at.toISOString(),
  };
}

export function registerJobServiceRoutes(
  api: FastifyInstance,
  deps: { jobs: JobService; access: AccessService },
): void {
  const { jobs, access } = deps;

  api.get('/jobservice/queues', async (request, reply) => {
    requireMonitor(request, access, 'list');
    const queues = await jobs.queues();
    reply.send(
      queues.map((q) => ({ job_type: q.type, count: q.count, latency: q.latency_seconds, paused: q.paused })),
    );
  });

  api.put('/jobservice/queues/:job_type', async (request, reply) => {
    requireMonitor(request, access, 'stop');
    const type = (request.params as { job_type: string }).job_type;
    const what = action(request.body, QUEUE_ACTIONS) as QueueAction;
    const known = type === 'all' || (await jobs.queues()).some((q) => q.type === type);
    if (!known) throw new ApiError('NOT_FOUND', `job type ${type} not found`);
    await jobs.queueAction(type, what);
    reply.send();
  });

  api.put('/jobservice/jobs/:job_id', async (request, reply) => {
    requireMonitor(request, access, 'stop');
    action(request.body, ['stop']);
    const id = jobId(request.params);
    if ((await jobs.requestStop(id)) === undefined) throw new ApiError('NOT_FOUND', `job ${id} not found`);
    reply.send();
  });

  api.get('/jobservice/jobs/:job_id/log', async (request, reply) => {
    requireMonitor(request, access, 'list');
    const id = jobId(request.params);
    const text = await jobs.log(id);
    if (text === undefined) throw new ApiError('NOT_FOUND', `job ${id} not found`);
    reply.type('text/plain; charset=utf-8').send(text);
  });

  api.get('/jobservice/pools', async (request, reply) => {
    requireMonitor(request, access, 'list');
    reply.send((await jobs.pools()).map(poolJson));
  });

  api.get('/jobservice/pools/:pool_id/workers', async (request, reply) => {
    requireMonitor(request, access, 'list');
    const poolId = (request.params as { pool_id: string }).pool_id;
    // As Harbor: 'all' lists the workers of every pool.
    const pools = poolId === 'all' ? (await jobs.pools()).map((p) => p.id) : [poolId];
    const workers: JobRow[] = [];
    for (const id of pools) {
      const running = await jobs.workers(id);
      if (running === undefined && poolId !== 'all') throw new ApiError('NOT_FOUND', `pool ${id} not found`);
      workers.push(...(running ?? []));
    }
    reply.send(workers.map(workerJson));
  });
}
