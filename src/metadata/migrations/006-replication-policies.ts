// Replication policies (Harbor's /replication/policies). Exactly one side is a registry endpoint:
// the other (NULL) is this registry. Endpoints are referenced by foreign key, so an endpoint a
// policy uses cannot be deleted under it (the endpoint service turns that into a 412).
export const migration006 = {
  version: 6,
  name: 'replication policies',
  sql: `
CREATE TABLE replication_policies (
  id                            bigserial PRIMARY KEY,
  name                          text COLLATE "C" NOT NULL UNIQUE,
  description                   text NOT NULL DEFAULT '',
  creator                       text NOT NULL DEFAULT '',
  -- pull mode: a remote source; push mode: a remote destination.
  src_registry_id               bigint REFERENCES registries(id),
  dest_registry_id              bigint REFERENCES registries(id),
  dest_namespace                text NOT NULL DEFAULT '',
  -- -1: Harbor's legacy mode (keep only the last path component); n >= 0: replace n components.
  dest_namespace_replace_count  smallint NOT NULL DEFAULT -1,
  -- [{type, value, decoration?}] in Harbor's shape, validated by the service.
  filters                       jsonb NOT NULL DEFAULT '[]',
  trigger_type                  text NOT NULL DEFAULT 'manual'
                                CHECK (trigger_type IN ('manual', 'scheduled', 'event_based')),
  trigger_cron                  text NOT NULL DEFAULT '',
  replicate_deletion            boolean NOT NULL DEFAULT false,
  override                      boolean NOT NULL DEFAULT true,
  -- KB/s per task; 0: unlimited.
  speed                         integer NOT NULL DEFAULT 0 CHECK (speed >= 0),
  enabled                       boolean NOT NULL DEFAULT true,
  copy_by_chunk                 boolean NOT NULL DEFAULT false,
  created_at                    timestamptz NOT NULL DEFAULT now(),
  updated_at                    timestamptz NOT NULL DEFAULT now(),
  CHECK ((src_registry_id IS NULL) <> (dest_registry_id IS NULL))
);
-- "Which policies use this endpoint" (refusing an endpoint's deletion; runs per peer).
CREATE INDEX replication_policies_src ON replication_policies (src_registry_id) WHERE src_registry_id IS NOT NULL;
CREATE INDEX replication_policies_dest ON replication_policies (dest_registry_id) WHERE dest_registry_id IS NOT NULL;
`,
};
