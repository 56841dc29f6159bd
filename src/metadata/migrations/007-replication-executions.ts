// Replication executions (one run of a policy) and their tasks (one copy or deletion of one tag),
// in Harbor's vocabulary. Rows, not process memory: any instance shows them and finishes them.
export const migration007 = {
  version: 7,
  name: 'replication executions',
  sql: `
CREATE TABLE replication_executions (
  id              bigserial PRIMARY KEY,
  -- No foreign key: an execution's history outlives a deleted policy, as in Harbor.
  policy_id       bigint NOT NULL,
  trigger         text NOT NULL CHECK (trigger IN ('manual', 'scheduled', 'event_based')),
  status          text NOT NULL DEFAULT 'InProgress'
                  CHECK (status IN ('InProgress', 'Succeed', 'Failed', 'Stopped')),
  status_text     text NOT NULL DEFAULT '',
  -- Limits the run to one repository (an event's); NULL: everything the filters select.
  scope_repository text,
  -- The job that asked for this execution (an event job, a schedule's job): a job that runs
  -- again after a crash finds its execution instead of making a second one.
  origin_job_id   bigint,
  -- The planning job (replication-execution).
  job_id          bigint,
  -- A reconciliation asked for by the system (peer back, retry window over) that has not
  -- started planning yet: at most one per policy (the unique index below).
  awaiting        boolean NOT NULL DEFAULT false,
  planned         boolean NOT NULL DEFAULT false,
  total           integer NOT NULL DEFAULT 0,
  start_time      timestamptz NOT NULL DEFAULT now(),
  end_time        timestamptz
);
CREATE INDEX replication_executions_policy ON replication_executions (policy_id, id DESC);
CREATE INDEX replication_executions_running ON replication_executions (policy_id) WHERE status = 'InProgress';
CREATE UNIQUE INDEX replication_executions_origin ON replication_executions (policy_id, origin_job_id)
  WHERE origin_job_id IS NOT NULL;
CREATE UNIQUE INDEX replication_executions_awaiting ON replication_executions (policy_id) WHERE awaiting;

CREATE TABLE replication_tasks (
  id              bigserial PRIMARY KEY,
  execution_id    bigint NOT NULL REFERENCES replication_executions (id) ON DELETE CASCADE,
  resource_type   text NOT NULL DEFAULT 'image',
  operation       text NOT NULL CHECK (operation IN ('copy', 'deletion')),
  status          text NOT NULL DEFAULT 'Pending'
                  CHECK (status IN ('Pending', 'InProgress', 'Succeed', 'Failed', 'Stopped')),
  src_repository  text NOT NULL,
  dst_repository  text NOT NULL,
  tag             text NOT NULL,
  -- The digest the plan saw (the source's for a copy, the destination's for a deletion).
  digest          text NOT NULL,
  job_id          bigint,
  -- Retryable failures end here (the policy's deadline for this task).
  deadline        timestamptz NOT NULL,
  start_time      timestamptz,
  end_time        timestamptz,
  UNIQUE (execution_id, operation, dst_repository, tag)
);
CREATE INDEX replication_tasks_open ON replication_tasks (execution_id) WHERE status IN ('Pending', 'InProgress');
CREATE INDEX replication_tasks_execution ON replication_tasks (execution_id, id);
CREATE INDEX replication_tasks_status ON replication_tasks (execution_id, status, id);
`,
};
