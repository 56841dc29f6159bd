// Harbor shows when an artifact was last pulled and how often a repository was, and lets a
// repository carry a description.
export const migration003 = {
  version: 3,
  name: 'pull times, pull counts, repository descriptions',
  sql: `
ALTER TABLE repositories
  ADD COLUMN description text NOT NULL DEFAULT '',
  ADD COLUMN pull_count  bigint NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN pull_time timestamptz;
ALTER TABLE tags ADD COLUMN pull_time timestamptz;
`,
};
