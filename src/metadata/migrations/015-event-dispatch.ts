// What the event dispatcher needs beside the outbox (014). `txid` is the recording transaction:
// an event is handed out only once every transaction that began writing before it has ended, so
// a slower transaction's event can never appear behind one already handed out (see
// outbox-table.ts). `event_backlog` holds, per consumer, the events it failed to take, retried in
// order with backoff while the other consumers go on; a row given up stays for inspection.
export const migration015 = {
  version: 15,
  name: 'event dispatch: transaction ids, consumer backlog',
  sql: `
ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE TABLE event_backlog (
  consumer         text NOT NULL,
  sequence         bigint NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  given_up_at      timestamptz,
  PRIMARY KEY (consumer, sequence)
);
CREATE INDEX event_backlog_open ON event_backlog (consumer, sequence) WHERE given_up_at IS NULL;
`,
};
