import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { JobRow, PoolRow } from '../../../jobs/job-service.js';
import { apiArea } from '../area.js';
import { ApiError } from '../api-error.js';
import { jsonBody } from '../schemas.js';
import { requireMonitor } from '../monitor-access.js';

// /api/v2.0/jobservice: Harbor's job service monitor. Queues (pending jobs per type, pause,
// resume, stop), worker pools (one per instance) and their workers (the running jobs), stopping
// a job and reading its log. Everything is read from the shared database, so any instance
// answers for the whole cluster.

const QUEUE_ACTIONS = ['stop', 'pause', 'resume'] as const;

/** Harbor's JobQueueAction / ActionRequest: {"action": ...}. */
function actionBody<T extends string>(allowed: readonly [T, ...T[]]) {
  return jsonBody({ action: z.enum(allowed, { error: `action must be one of ${allowed.join(', ')}` }) });
}

/** Job ids are numbers; anything else names no job (404, not 400, as Harbor answers). */
function jobId(raw: string): number {
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

export const jobServiceArea = apiArea('jobservice', ['jobs', 'access'], (api, { jobs, access }) => {
  // Permissions before the body and path: only system administrators learn anything here.
  const monitor = (action: 'list' | 'stop') => async (request: FastifyRequest) =>
    requireMonitor(request, access, action);

  api.get('/jobservice/queues', { preValidation: monitor('list') }, async (_request, reply) => {
    const queues = await jobs.queues();
    reply.send(
      queues.map((q) => ({ job_type: q.type, count: q.count, latency: q.latency_seconds, paused: q.paused })),
    );
  });

  api.put(
    '/jobservice/queues/:job_type',
    {
      preValidation: monitor('stop'),
      schema: { params: z.object({ job_type: z.string() }), body: actionBody(QUEUE_ACTIONS) },
    },
    async (request, reply) => {
      const type = request.params.job_type;
      const what = request.body.action;
      const known = type === 'all' || (await jobs.queues()).some((q) => q.type === type);
      if (!known) throw new ApiError('NOT_FOUND', `job type ${type} not found`);
      await jobs.queueAction(type, what);
      reply.send();
    },
  );

  api.put(
    '/jobservice/jobs/:job_id',
    {
      preValidation: monitor('stop'),
      schema: { params: z.object({ job_id: z.string() }), body: actionBody(['stop']) },
    },
    async (request, reply) => {
      const id = jobId(request.params.job_id);
      if ((await jobs.requestStop(id)) === undefined) throw new ApiError('NOT_FOUND', `job ${id} not found`);
      reply.send();
    },
  );

  api.get(
    '/jobservice/jobs/:job_id/log',
    { preValidation: monitor('list'), schema: { params: z.object({ job_id: z.string() }) } },
    async (request, reply) => {
      const id = jobId(request.params.job_id);
      const text = await jobs.log(id);
      if (text === undefined) throw new ApiError('NOT_FOUND', `job ${id} not found`);
      reply.type('text/plain; charset=utf-8').send(text);
    },
  );

  api.get('/jobservice/pools', { preValidation: monitor('list') }, async (_request, reply) => {
    reply.send((await jobs.pools()).map(poolJson));
  });

  api.get(
    '/jobservice/pools/:pool_id/workers',
    { preValidation: monitor('list'), schema: { params: z.object({ pool_id: z.string() }) } },
    async (request, reply) => {
      const poolId = request.params.pool_id;
      // As Harbor: 'all' lists the workers of every pool.
      const pools = poolId === 'all' ? (await jobs.pools()).map((p) => p.id) : [poolId];
      const workers: JobRow[] = [];
      for (const id of pools) {
        const running = await jobs.workers(id);
        if (running === undefined && poolId !== 'all')
          throw new ApiError('NOT_FOUND', `pool ${id} not found`);
        workers.push(...(running ?? []));
      }
      reply.send(workers.map(workerJson));
    },
  );
});
