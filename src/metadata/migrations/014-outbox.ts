// The transactional outbox: every content write (and the changes audit cares about) records its
// events here in the same transaction as the change, so that a crash right after the commit loses
// none. The dispatcher (services/events) hands undispatched rows to the consumers in sequence order.
export const migration014 = {
  version: 14,
  name: 'event outbox',
  sql: `
CREATE TABLE events (
  sequence       bigserial PRIMARY KEY,
  id             uuid NOT NULL UNIQUE,
  type           text NOT NULL,
  project_name   text,
  actor          jsonb NOT NULL,
  data           jsonb NOT NULL,
  occurred_at    timestamptz NOT NULL DEFAULT now(),
  dispatched_at  timestamptz
);
CREATE INDEX events_undispatched ON events (sequence) WHERE dispatched_at IS NULL;
CREATE INDEX events_occurred ON events (occurred_at);
`,
};
