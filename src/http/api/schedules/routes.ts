import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { apiArea } from '../area.js';
import { requireMonitor } from '../monitor-access.js';
import { pageRequest, setPageHeaders } from '../paging.js';
import { pageQuery } from '../schemas.js';

// /api/v2.0/schedules: Harbor's list of cron schedules (ScheduleTask) and whether the schedules
// of a job type are paused (its queue, or every queue with 'all').

export const schedulesArea = apiArea('schedules', ['jobs', 'access'], (api, { jobs, access }) => {
  // Only system administrators learn anything here, even about their query.
  const monitor = async (request: FastifyRequest) => requireMonitor(request, access, 'list');

  api.get(
    '/schedules',
    { preValidation: monitor, schema: { querystring: z.object(pageQuery) } },
    async (request, reply) => {
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
    },
  );

  api.get(
    '/schedules/:job_type/paused',
    { preValidation: monitor, schema: { params: z.object({ job_type: z.string() }) } },
    async (request, reply) => {
      reply.send({ paused: await jobs.isQueuePaused(request.params.job_type) });
    },
  );
});
