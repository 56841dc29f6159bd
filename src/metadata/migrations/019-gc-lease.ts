// One garbage collection at a time, cluster-wide: the run holds this single row as a lease that
// it renews while it works (a run killed with its instance lets it expire). Safety never depends
// on it (every deletion rechecks under the blob's lock); it keeps two runs from doing the same
// work twice and reporting each other's deletions. `holder` names the run (its job, or the CLI).
export const migration019 = {
  version: 19,
  name: 'garbage collection lease',
  sql: `
CREATE TABLE gc_lease (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  holder       text NOT NULL,
  acquired_at  timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
`,
};
