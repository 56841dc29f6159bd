// Two-way replication's memory of tags: when a tag was deleted (tombstones) and, for a tag that
// replication copied here, when it was pushed at its origin. Both feed the latest-push-wins rule
// (replication/plan/conflict.ts), which must compare the time each write really happened.
export const migration008 = {
  version: 8,
  name: 'replication tombstones and tag origins',
  sql: `
-- A tag deleted here (by a client, or by replication with the origin's deletion time). Keyed by
-- the repository's name, not its id: the tombstone must outlive the repository row, which goes
-- when its last artifact does. Expired rows (older than the TTL) count as absent and are purged.
CREATE TABLE replication_tombstones (
  repository  text COLLATE "C" NOT NULL,
  tag         text COLLATE "C" NOT NULL,
  -- The digest the tag pointed at when it was deleted.
  digest      text NOT NULL,
  deleted_at  timestamptz NOT NULL,
  PRIMARY KEY (repository, tag)
);
CREATE INDEX replication_tombstones_deleted_at ON replication_tombstones (deleted_at);

-- A tag that replication wrote here: the push time at its origin, served as the tag's push time
-- while the tag still points at that manifest and nobody pushed it since (recorded_at is not
-- older than the tag's updated_at). Without it the copy would look like a newer push than the
-- origin's and win conflicts it should lose. The row goes with its tag (cascade), so a deleted
-- and re-pushed tag never inherits an old origin time.
CREATE TABLE replicated_tags (
  repository_id     bigint NOT NULL,
  tag               text COLLATE "C" NOT NULL,
  manifest_id       bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  origin_push_time  timestamptz NOT NULL,
  -- The registry the push came from (its URL), for operators.
  origin            text NOT NULL DEFAULT '',
  recorded_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, tag),
  FOREIGN KEY (repository_id, tag) REFERENCES tags (repository_id, name) ON DELETE CASCADE
);
CREATE INDEX replicated_tags_manifest ON replicated_tags (manifest_id);
`,
};
