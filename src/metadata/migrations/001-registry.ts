// Registry core schema. Sizes are bigint; names and digests are validated before they get here.
// Every list the API pages through has an index that serves the page in order, so a page of
// tags or of the catalog is an index range scan, never a table scan.
export const migration001 = {
  version: 1,
  name: 'registry core',
  sql: `
CREATE TABLE repositories (
  id          bigserial PRIMARY KEY,
  -- "C" collation: byte order, which is what the catalog's "last" pagination compares with.
  name        text COLLATE "C" NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per stored content digest (layers, configs and manifests alike): the bytes exist.
CREATE TABLE blobs (
  digest      text PRIMARY KEY,
  size        bigint NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Which repository may see which blob.
CREATE TABLE repository_blobs (
  repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest         text NOT NULL REFERENCES blobs (digest) ON DELETE CASCADE,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

CREATE TABLE manifests (
  id              bigserial PRIMARY KEY,
  repository_id   bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest          text NOT NULL REFERENCES blobs (digest),
  media_type      text NOT NULL,
  artifact_type   text,
  size            bigint NOT NULL,
  subject_digest  text,
  annotations     jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests (repository_id, subject_digest) WHERE subject_digest IS NOT NULL;
CREATE INDEX manifests_digest ON manifests (digest);

-- What a manifest points at: layers and config (blobs) and, for indexes, child manifests.
CREATE TABLE manifest_references (
  manifest_id  bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  digest       text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('config', 'layer', 'manifest', 'subject')),
  PRIMARY KEY (manifest_id, kind, digest)
);
CREATE INDEX manifest_references_digest ON manifest_references (digest);

CREATE TABLE tags (
  repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  name           text COLLATE "C" NOT NULL,
  manifest_id    bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest ON tags (manifest_id);

-- Upload sessions: the bytes live in storage under the session id; this row is the truth about
-- how many of them count, plus the resumable hash state, so any instance can take the next chunk.
CREATE TABLE upload_sessions (
  id              uuid PRIMARY KEY,
  repository_id   bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  byte_offset     bigint NOT NULL DEFAULT 0,
  hash_algorithm  text NOT NULL,
  hash_state      bytea,
  hashed_digest   text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upload_sessions_updated ON upload_sessions (updated_at);

CREATE TABLE users (
  id             bigserial PRIMARY KEY,
  username       text NOT NULL UNIQUE,
  password_hash  text NOT NULL,
  sysadmin       boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
`,
};
