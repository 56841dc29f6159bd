// Webhook policies (Harbor's /projects/{p}/webhook/policies) and their deliveries. An execution is
// one outbox event for one policy; a task is its delivery to one target. Tasks of one order key
// (policy, target, repository) go out strictly in event sequence order: the partial index finds
// the oldest open task of a key without scanning finished ones.
export const migration016 = {
  version: 16,
  name: 'webhooks',
  sql: `
CREATE TABLE webhook_policies (
  id             bigserial PRIMARY KEY,
  project_id     bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name           text NOT NULL,
  description    text NOT NULL DEFAULT '',
  enabled        boolean NOT NULL DEFAULT true,
  event_types    text[] NOT NULL,
  targets        jsonb NOT NULL,
  secret_sealed  text NOT NULL,
  creator        text NOT NULL DEFAULT '',
  creation_time  timestamptz NOT NULL DEFAULT now(),
  update_time    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, name)
);

CREATE TABLE webhook_executions (
  id              bigserial PRIMARY KEY,
  policy_id       bigint NOT NULL REFERENCES webhook_policies (id) ON DELETE CASCADE,
  event_id        uuid NOT NULL,
  event_sequence  bigint NOT NULL,
  event_type      text NOT NULL,
  event           jsonb NOT NULL,
  start_time      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (policy_id, event_id)
);
CREATE INDEX webhook_executions_policy ON webhook_executions (policy_id, id DESC);

CREATE TABLE webhook_tasks (
  id              bigserial PRIMARY KEY,
  execution_id    bigint NOT NULL REFERENCES webhook_executions (id) ON DELETE CASCADE,
  target_index    integer NOT NULL,
  order_key       text NOT NULL,
  event_sequence  bigint NOT NULL,
  status          text NOT NULL DEFAULT 'Pending'
                  CHECK (status IN ('Pending', 'Running', 'Success', 'Error', 'Stopped')),
  status_message  text NOT NULL DEFAULT '',
  run_count       integer NOT NULL DEFAULT 0,
  job_id          bigint,
  log             text NOT NULL DEFAULT '',
  creation_time   timestamptz NOT NULL DEFAULT now(),
  start_time      timestamptz,
  update_time     timestamptz NOT NULL DEFAULT now(),
  end_time        timestamptz
);
CREATE INDEX webhook_tasks_execution ON webhook_tasks (execution_id, id);
CREATE INDEX webhook_tasks_open ON webhook_tasks (order_key, event_sequence, id)
  WHERE status IN ('Pending', 'Running');
`,
};
