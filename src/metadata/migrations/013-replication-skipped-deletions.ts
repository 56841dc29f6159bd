// Deletions a replication destination cannot perform (replication/execution/deletion-skips.ts):
// a registry that deletes manifests by digest only cannot delete one tag of a manifest another
// wanted tag still points at. The skip is remembered per policy so that later runs do not plan
// the same impossible deletion again (and the policy does not stay red for ever); the planner
// drops the row once the obstacle is gone.
export const migration013 = {
  version: 13,
  name: 'replication skipped deletions',
  sql: `
CREATE TABLE replication_skipped_deletions (
  policy_id    bigint NOT NULL REFERENCES replication_policies (id) ON DELETE CASCADE,
  -- The repository and tag at the destination, and the manifest the tag points at there.
  repository   text COLLATE "C" NOT NULL,
  tag          text COLLATE "C" NOT NULL,
  digest       text NOT NULL,
  reason       text NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (policy_id, repository, tag)
);
`,
};
