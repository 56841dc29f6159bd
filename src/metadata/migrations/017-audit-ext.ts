// The audit log as a compliance review reads it (Harbor's "auditlog-exts"): each entry says in
// words what changed and whether it succeeded, and whether the operator was a user or a robot.
// Entries made from outbox events carry the event id: a re-delivered event writes no second row.
export const migration017 = {
  version: 17,
  name: 'audit log descriptions, results and event ids',
  sql: `
ALTER TABLE audit_logs ADD COLUMN operation_description text NOT NULL DEFAULT '';
ALTER TABLE audit_logs ADD COLUMN operation_result boolean NOT NULL DEFAULT true;
ALTER TABLE audit_logs ADD COLUMN operator_kind text NOT NULL DEFAULT 'user';
ALTER TABLE audit_logs ADD COLUMN event_id uuid;
CREATE UNIQUE INDEX audit_logs_event ON audit_logs (event_id) WHERE event_id IS NOT NULL;
`,
};
