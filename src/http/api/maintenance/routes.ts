import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { Action, SystemResource } from '../../../domain/rbac.js';
import type { AccessService } from '../../../services/access-service.js';
import type {
  MaintenanceJobs,
  MaintenanceRun,
  MaintenanceSchedule,
} from '../../../services/maintenance/maintenance-jobs.js';
import { isSignedIn } from '../../../services/principal.js';
import { apiArea, type ApiInstance } from '../area.js';
import { ApiError } from '../api-error.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { jsonBody, pageQuery } from '../schemas.js';
import { historyFilter, historySort } from './history-query.js';

// Harbor's system maintenance endpoints: /system/gc and /system/purgeaudit, the same routes over
// one MaintenanceJobs each (services/maintenance): history (GCHistory / ExecHistory), one run, its
// log, stop, and the schedule, whose type Manual runs it now. System administrators only.

interface MaintenanceRoutes {
  path: string;
  idParam: string;
  resource: Extract<SystemResource, 'garbage-collection' | 'purge-audit'>;
  service: MaintenanceJobs;
  /** GCHistory has a `deleted` flag that ExecHistory has not. */
  withDeleted: boolean;
}

const SCHEDULE_TYPES = ['Hourly', 'Daily', 'Weekly', 'Custom', 'Manual', 'None'] as const;

/** Harbor's Schedule: {schedule: {type, cron}, parameters}; other fields (id, status) are ignored. */
const scheduleBody = jsonBody({
  schedule: z.object(
    {
      type: z.enum(SCHEDULE_TYPES, { error: `schedule.type must be one of ${SCHEDULE_TYPES.join(', ')}` }),
      cron: z.string({ error: 'schedule.cron must be a string' }).nullish(),
    },
    { error: 'schedule is required: {"type": ..., "cron": ...}' },
  ),
  parameters: z.record(z.string(), z.unknown(), { error: 'parameters must be a JSON object' }).nullish(),
});

function runJson(run: MaintenanceRun, name: string, withDeleted: boolean) {
  return {
    id: run.id,
    job_name: name,
    job_kind: run.trigger,
    job_parameters: JSON.stringify(run.parameters ?? {}),
    // As Harbor's history: the run's trigger again, in ScheduleObj's spelling (Manual, Schedule).
    schedule: { type: run.trigger === 'MANUAL' ? 'Manual' : 'Schedule' },
    job_status: run.status,
    ...(withDeleted && { deleted: false }),
    creation_time: run.createdAt.toISOString(),
    update_time: run.updatedAt.toISOString(),
  };
}

/** Harbor's answer for a schedule: a history entry whose job_kind is the cron and job_name empty. */
function scheduleJson(s: MaintenanceSchedule, withDeleted: boolean) {
  return {
    id: s.id,
    job_name: '',
    job_kind: s.cron,
    job_parameters: JSON.stringify(s.parameters ?? {}),
    schedule: { type: s.type, cron: s.cron, next_scheduled_time: s.nextRun.toISOString() },
    ...(withDeleted && { deleted: false }),
    creation_time: s.createdAt.toISOString(),
    update_time: s.updatedAt.toISOString(),
  };
}

function requireSystem(access: AccessService, resource: SystemResource, action: Action) {
  return async (request: FastifyRequest) => {
    if (access.canSystem(request.principal, resource, action)) return;
    throw new ApiError(
      isSignedIn(request.principal) ? 'FORBIDDEN' : 'UNAUTHORIZED',
      `${resource} is for system administrators`,
    );
  };
}

function runId(name: string) {
  return z.object({
    [name]: z
      .string()
      .regex(/^\d{1,15}$/, `${name} must be a numeric id`)
      .transform(Number),
  });
}

function addRoutes(api: ApiInstance, access: AccessService, r: MaintenanceRoutes): void {
  const may = (action: Action) => requireSystem(access, r.resource, action);
  addScheduleRoutes(api, may, r);
  addRunRoutes(api, may, r);
}

type Guard = (action: Action) => (request: FastifyRequest) => Promise<void>;

/** The schedule: GET shows it, POST and PUT set it, remove it (None) or start a run (Manual). */
function addScheduleRoutes(api: ApiInstance, may: Guard, r: MaintenanceRoutes): void {
  const { path, service, withDeleted } = r;
  api.get(`${path}/schedule`, { preValidation: may('read') }, async (_request, reply) => {
    const schedule = await service.schedule();
    // As Harbor: no schedule is a 200 with no body.
    if (!schedule) return reply.send();
    reply.send(scheduleJson(schedule, withDeleted));
  });

  const kick = async (body: z.infer<typeof scheduleBody>): Promise<number | undefined> => {
    const parameters = body.parameters ?? {};
    const { type, cron } = body.schedule;
    if (type === 'Manual') return (await service.runNow(parameters)).id;
    if (type === 'None') await service.removeSchedule();
    else {
      if (!cron) throw new ApiError('BAD_REQUEST', `schedule.cron is required for a ${type} schedule`);
      await service.setSchedule(type, cron, parameters);
    }
    return undefined;
  };

  api.post(
    `${path}/schedule`,
    { preValidation: may('create'), schema: { body: scheduleBody } },
    async (request, reply) => {
      const id = await kick(request.body);
      if (id !== undefined) reply.header('location', `/api/v2.0${path}/${id}`);
      reply.code(201).send();
    },
  );

  api.put(
    `${path}/schedule`,
    { preValidation: may('update'), schema: { body: scheduleBody } },
    async (request, reply) => {
      await kick(request.body);
      reply.send();
    },
  );
}

/** The history, one run, its stop and its log. */
function addRunRoutes(api: ApiInstance, may: Guard, r: MaintenanceRoutes): void {
  const { path, service, withDeleted } = r;
  const name = service.kind.type;
  const idOf = (params: Record<string, number>) => params[r.idParam] as number;

  api.get(
    path,
    {
      preValidation: may('list'),
      schema: { querystring: z.object({ ...pageQuery, sort: z.string().optional() }) },
    },
    async (request, reply) => {
      const page = pageRequest(request.query);
      const filter = historyFilter(request.query.q);
      const sort = historySort(request.query.sort);
      const { items, total } = await service.history(filter, sort, page.offset, page.pageSize);
      setPageHeaders(request, reply, page, total);
      reply.send(items.map((run) => runJson(run, name, withDeleted)));
    },
  );

  api.get(
    `${path}/:${r.idParam}`,
    { preValidation: may('read'), schema: { params: runId(r.idParam) } },
    async (request, reply) => {
      const id = idOf(request.params);
      const run = await service.run(id);
      if (!run) throw new ApiError('NOT_FOUND', `${service.kind.noun} ${id} not found`);
      reply.send(runJson(run, name, withDeleted));
    },
  );

  api.put(
    `${path}/:${r.idParam}`,
    { preValidation: may('stop'), schema: { params: runId(r.idParam) } },
    async (request, reply) => {
      await service.stop(idOf(request.params));
      reply.send();
    },
  );

  api.get(
    `${path}/:${r.idParam}/log`,
    { preValidation: may('read'), schema: { params: runId(r.idParam) } },
    async (request, reply) => {
      const text = await service.log(idOf(request.params));
      reply.type('text/plain; charset=utf-8').send(text);
    },
  );
}

export const gcArea = apiArea('gc', ['gc', 'access'], (api, { gc, access }) => {
  // Absent until the instance runs garbage collection: the paths answer 404.
  if (!gc) return;
  addRoutes(api, access, {
    path: '/system/gc',
    idParam: 'gc_id',
    resource: 'garbage-collection',
    service: gc,
    withDeleted: true,
  });
});

export const purgeAuditArea = apiArea('purge', ['purgeAudit', 'access'], (api, { purgeAudit, access }) => {
  addRoutes(api, access, {
    path: '/system/purgeaudit',
    idParam: 'purge_id',
    resource: 'purge-audit',
    service: purgeAudit,
    withDeleted: false,
  });
});
