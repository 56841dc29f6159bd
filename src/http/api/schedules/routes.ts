import type { FastifyInstance } from 'fastify';
import type { JobService } from '../../../jobs/job-service.js';
import type { AccessService } from '../../../services/access-service.js';
import { requireMonitor } from '../jobservice/access.js';
import { pageRequest, setPageHeaders } from '../paging.js';

// /api/v2.0/schedules: Harbor's list of cron schedules (ScheduleTask) and whether the schedules
// of a job type are paused (its queue, or every queue with 'all').

export function registerScheduleRoutes(
  api: FastifyInstance,
  deps: { jobs: JobService; access: AccessService },
): void {
  const { jobs, access } = deps;

  api.get('/schedules', async (request, reply) => {
    requireMonitor(request, access, 'list');
    const page = pageRequest(request.query);
    const { items, total } = await jobs.listSchedules(page.offset, page.pageSize);
    setPageHeaders(request, reply, page, total);
    reply.send(
      items.map((s) => ({
        id: s.id,
        vendor_type: s.type,
        vendor_id: s.vendor_id,
        cron: s.cron,
        update_time: s.updated_at.toISOString(),
      })),
    );
  });

  api.get('/schedules/:job_type/paused', async (request, reply) => {
    requireMonitor(request, access, 'list');
    const type = (request.params as { job_type: string }).job_type;
    reply.send({ paused: await jobs.isQueuePaused(type) });
  });
}
