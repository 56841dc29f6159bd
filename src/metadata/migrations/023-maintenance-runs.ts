// System maintenance jobs as Harbor shows them (/system/gc, /system/purgeaudit): the history of
// runs outlives the job service's own rows, which are purged 14 days after they finish, so each
// run is kept here with its trigger, parameters, last status and its log once it ended. The
// schedule's Harbor type (Hourly, Daily, ...; None after a removal) is kept per kind, as is
// whether it came from the configuration file (then a restart may change it) or the API.
export const migration023 = {
  version: 23,
  name: 'maintenance job history and schedule types',
  sql: `
CREATE TABLE maintenance_runs (
  -- The job service's job; no foreign key: the run stays when the job's row is purged.
  job_id      bigint PRIMARY KEY,
  kind        text COLLATE "C" NOT NULL,
  trigger     text NOT NULL CHECK (trigger IN ('MANUAL', 'SCHEDULE')),
  parameters  jsonb NOT NULL DEFAULT '{}',
  status      text NOT NULL,
  log         text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX maintenance_runs_kind ON maintenance_runs (kind, created_at DESC, job_id DESC);

CREATE TABLE maintenance_schedules (
  kind           text COLLATE "C" PRIMARY KEY,
  schedule_type  text NOT NULL CHECK (schedule_type IN ('Hourly', 'Daily', 'Weekly', 'Custom', 'None')),
  from_config    boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The history finds the jobs of one type (scheduled runs it has not seen yet) without a scan.
CREATE INDEX jobs_type ON jobs (type, id);
`,
};
