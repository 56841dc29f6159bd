// Tag retention (Harbor's /retentions): one policy per project, its executions (one run, manual
// or scheduled, maybe a dry run) and their tasks (one repository each, run as one job whose log
// is the task's log). Rows, not process memory: any instance shows, stops and finishes them.
export const migration022 = {
  version: 22,
  name: 'tag retention',
  sql: `
CREATE TABLE retention_policies (
  id          bigserial PRIMARY KEY,
  -- One policy per project, as Harbor links it (the project's retention_id metadata).
  project_id  bigint NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
  -- algorithm, rules and trigger in Harbor's JSON; the scope is project_id.
  policy      jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE retention_executions (
  id             bigserial PRIMARY KEY,
  policy_id      bigint NOT NULL REFERENCES retention_policies (id) ON DELETE CASCADE,
  trigger        text NOT NULL CHECK (trigger IN ('MANUAL', 'SCHEDULE')),
  dry_run        boolean NOT NULL DEFAULT false,
  status         text NOT NULL DEFAULT 'Running'
                 CHECK (status IN ('Running', 'Success', 'Error', 'Stopped')),
  -- The schedule's job that asked for this run: a job that runs again after a crash finds its
  -- execution instead of making a second one.
  origin_job_id  bigint,
  start_time     timestamptz NOT NULL DEFAULT now(),
  end_time       timestamptz
);
CREATE INDEX retention_executions_policy ON retention_executions (policy_id, id DESC);
CREATE UNIQUE INDEX retention_executions_origin ON retention_executions (origin_job_id)
  WHERE origin_job_id IS NOT NULL;

CREATE TABLE retention_tasks (
  id            bigserial PRIMARY KEY,
  execution_id  bigint NOT NULL REFERENCES retention_executions (id) ON DELETE CASCADE,
  repository    text NOT NULL,
  job_id        bigint,
  status        text NOT NULL DEFAULT 'Pending'
                CHECK (status IN ('Pending', 'Running', 'Success', 'Error', 'Stopped')),
  total         integer NOT NULL DEFAULT 0,
  retained      integer NOT NULL DEFAULT 0,
  -- What the run removed (or, dry, would remove): [{repository, digest, tags}], for the event.
  deleted       jsonb NOT NULL DEFAULT '[]',
  start_time    timestamptz,
  end_time      timestamptz,
  UNIQUE (execution_id, repository)
);
CREATE INDEX retention_tasks_execution ON retention_tasks (execution_id, id);
CREATE INDEX retention_tasks_open ON retention_tasks (execution_id) WHERE status IN ('Pending', 'Running');
`,
};
