// Login throttling per (login name, client address) and per address instead of per name alone
// (issue #10, point 5): a name could be locked for everyone by anyone who knew it. The counters
// are short-lived, so the old table is replaced rather than converted (at worst a 5-minute lock
// is lifted by the upgrade). A row also remembers the last successful sign-in of the name from
// that address, which keeps the people behind an address signing in while it is locked for
// password spraying. Sessions get an index by user: a password change or reset ends them all.
export const migration010 = {
  version: 10,
  name: 'login throttle per name and address, sessions by user',
  sql: `
DROP TABLE login_failures;
CREATE TABLE login_failures (
  -- The login name as typed; '' for the counter of the address as a whole.
  account       text NOT NULL,
  -- The client address; '' when the caller did not know it.
  address       text NOT NULL,
  failures      integer NOT NULL DEFAULT 0,
  window_start  timestamptz NOT NULL DEFAULT now(),
  locked_until  timestamptz,
  last_success  timestamptz,
  PRIMARY KEY (account, address)
);
CREATE INDEX login_failures_window ON login_failures (window_start);
CREATE INDEX login_failures_locked ON login_failures (locked_until) WHERE locked_until IS NOT NULL;

CREATE INDEX sessions_user ON sessions (user_id);
`,
};
