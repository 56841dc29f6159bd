// Enterprise access: projects, members, robots, sessions, login throttling, audit log, system
// settings. Harbor-shaped where users and tools see it (names, roles, robot permissions).
export const migration002 = {
  version: 2,
  name: 'projects, members, robots, sessions, audit',
  sql: `
ALTER TABLE users
  ADD COLUMN email     text,
  ADD COLUMN realname  text NOT NULL DEFAULT '',
  ADD COLUMN comment   text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_email ON users (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE projects (
  id          bigserial PRIMARY KEY,
  name        text COLLATE "C" NOT NULL UNIQUE,
  owner_id    bigint REFERENCES users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Harbor's project metadata: public, auto_scan, prevent_vul, severity, ... as strings.
CREATE TABLE project_metadata (
  project_id  bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name        text NOT NULL,
  value       text NOT NULL,
  PRIMARY KEY (project_id, name)
);
CREATE INDEX project_metadata_public ON project_metadata (name, value) WHERE name = 'public';

-- entity_type 'u' (user) or 'g' (group), role 1 projectAdmin, 2 developer, 3 guest,
-- 4 maintainer, 5 limitedGuest: Harbor's numbering.
CREATE TABLE project_members (
  id           bigserial PRIMARY KEY,
  project_id   bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  entity_type  char(1) NOT NULL CHECK (entity_type IN ('u', 'g')),
  entity_id    bigint NOT NULL,
  role         smallint NOT NULL CHECK (role BETWEEN 1 AND 5),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, entity_type, entity_id)
);
CREATE INDEX project_members_entity ON project_members (entity_type, entity_id);

-- Existing repositories (pushed before projects existed) get a project named after their first
-- path component.
INSERT INTO projects (name)
  SELECT DISTINCT split_part(name, '/', 1) FROM repositories
  ON CONFLICT (name) DO NOTHING;
ALTER TABLE repositories ADD COLUMN project_id bigint REFERENCES projects (id) ON DELETE CASCADE;
UPDATE repositories r SET project_id = p.id FROM projects p WHERE p.name = split_part(r.name, '/', 1);
ALTER TABLE repositories ALTER COLUMN project_id SET NOT NULL;
CREATE INDEX repositories_project ON repositories (project_id, name);

CREATE TABLE robots (
  id           bigserial PRIMARY KEY,
  -- The full name clients log in with: robot$<name> (system) or robot$<project>+<name>.
  name         text NOT NULL UNIQUE,
  description  text NOT NULL DEFAULT '',
  secret_hash  text NOT NULL,
  level        text NOT NULL CHECK (level IN ('system', 'project')),
  project_id   bigint REFERENCES projects (id) ON DELETE CASCADE,
  duration     integer NOT NULL DEFAULT -1,
  expires_at   timestamptz,
  disabled     boolean NOT NULL DEFAULT false,
  creator      text NOT NULL DEFAULT '',
  -- [{kind, namespace, access: [{resource, action, effect}]}], Harbor's shape.
  permissions  jsonb NOT NULL DEFAULT '[]',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX robots_project ON robots (project_id);

-- Login sessions of the API and portal; the cookie holds a random token, the row its hash.
CREATE TABLE sessions (
  token_hash  text PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  csrf_token  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed-login counters per user and per client address, shared by all instances.
CREATE TABLE login_failures (
  key           text PRIMARY KEY,
  failures      integer NOT NULL,
  window_start  timestamptz NOT NULL,
  locked_until  timestamptz
);

CREATE TABLE audit_logs (
  id             bigserial PRIMARY KEY,
  project_id     bigint,
  operator       text NOT NULL,
  resource_type  text NOT NULL,
  resource       text NOT NULL,
  operation      text NOT NULL,
  client_ip      text,
  op_time        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_time ON audit_logs (op_time DESC, id DESC);
CREATE INDEX audit_logs_project_time ON audit_logs (project_id, op_time DESC, id DESC);

-- System settings changeable at run time (project_creation_restriction, self_registration, ...).
CREATE TABLE system_settings (
  name   text PRIMARY KEY,
  value  jsonb NOT NULL
);
`,
};
