// Who opened each upload session, so that the number of sessions one user or robot holds open
// can be limited (limits.max_upload_sessions_per_principal). Sessions opened before this
// migration, and this registry's own replication, have no owner and count against no one.
export const migration012 = {
  version: 12,
  name: 'upload session owners',
  sql: `
ALTER TABLE upload_sessions ADD COLUMN owner text;
CREATE INDEX upload_sessions_owner ON upload_sessions (owner) WHERE owner IS NOT NULL;
`,
};
