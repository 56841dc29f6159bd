// The durable job service (src/jobs): jobs every instance may claim, their logs, paused queues,
// the instances that run workers, and cron schedules. Every time the service compares is the
// database's now(), so instances with skewed clocks still agree on leases and fire times.
export const migration004 = {
  version: 4,
  name: 'job service: jobs, logs, queues, pools, schedules',
  sql: `
CREATE TABLE jobs (
  id              bigserial PRIMARY KEY,
  type            text COLLATE "C" NOT NULL,
  payload         jsonb NOT NULL DEFAULT '{}',
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'succeeded', 'error', 'stopped')),
  attempts        integer NOT NULL DEFAULT 0,
  max_attempts    integer NOT NULL CHECK (max_attempts >= 1),
  -- After this, a failure is final whatever the attempts left (replication retries for hours).
  deadline        timestamptz,
  run_at          timestamptz NOT NULL DEFAULT now(),
  lease_owner     text,
  lease_until     timestamptz,
  stop_requested  boolean NOT NULL DEFAULT false,
  last_error      text,
  -- The schedule and fire time that created the job: unique, so a fire time yields one job.
  schedule_id     bigint,
  fire_time       timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  UNIQUE (schedule_id, fire_time)
);
-- Claiming: the due pending jobs of one type, oldest first; only pending rows are indexed.
CREATE INDEX jobs_pending ON jobs (type, run_at, id) WHERE status = 'pending';
-- Taking over: running jobs whose lease ran out.
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';
-- Workers of a pool (instance).
CREATE INDEX jobs_lease_owner ON jobs (lease_owner) WHERE status = 'running';
-- Purging finished jobs after their retention.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE job_logs (
  id      bigserial PRIMARY KEY,
  job_id  bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  at      timestamptz NOT NULL DEFAULT now(),
  line    text NOT NULL
);
CREATE INDEX job_logs_job ON job_logs (job_id, id);

-- Queues paused through the API (Harbor's pause/resume); the row 'all' stands for every type.
CREATE TABLE job_queues (
  type        text COLLATE "C" PRIMARY KEY,
  paused      boolean NOT NULL DEFAULT false,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per running instance (Harbor's worker pools), refreshed by a heartbeat.
CREATE TABLE job_pools (
  id            text PRIMARY KEY,
  host          text NOT NULL,
  pid           integer NOT NULL,
  concurrency   integer NOT NULL,
  -- The job types the instance runs, so any instance can list every queue of the cluster.
  types         text[] NOT NULL DEFAULT '{}',
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

-- Cron schedules: one per (job type, vendor id), as Harbor's ScheduleTask.
CREATE TABLE schedules (
  id          bigserial PRIMARY KEY,
  type        text COLLATE "C" NOT NULL,
  vendor_id   bigint NOT NULL DEFAULT 0,
  cron        text NOT NULL,
  payload     jsonb NOT NULL DEFAULT '{}',
  next_run    timestamptz NOT NULL,
  paused      boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (type, vendor_id)
);
CREATE INDEX schedules_due ON schedules (next_run) WHERE NOT paused;
`,
};
