// Registry endpoints (Harbor's /registries): the peers replication pushes to and pulls from. The
// credential's secret is stored sealed (AES-256-GCM, services/secret-box.ts), never in clear.
export const migration005 = {
  version: 5,
  name: 'registry endpoints',
  sql: `
CREATE TABLE registries (
  id                    bigserial PRIMARY KEY,
  name                  text COLLATE "C" NOT NULL UNIQUE,
  url                   text NOT NULL,
  type                  text NOT NULL CHECK (type IN ('harbor', 'docker-registry')),
  description           text NOT NULL DEFAULT '',
  -- NULL: anonymous access to the peer.
  credential_type       text CHECK (credential_type IN ('basic', 'oauth')),
  access_key            text,
  access_secret_sealed  text,
  insecure              boolean NOT NULL DEFAULT false,
  -- PEM bundle of CAs trusted for this peer (a Wharf extension to Harbor's model).
  ca_certificate        text,
  -- The outcome of the last check: healthy, unhealthy or unknown (never checked).
  status                text NOT NULL DEFAULT 'unknown',
  status_checked_at     timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
`,
};
