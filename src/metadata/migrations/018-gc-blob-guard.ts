// Online garbage collection's half of the blob protocol (docs/lifecycle.md). A blob row that GC
// removed leaves a marker until its bytes are deleted, so a GC killed between the two steps
// finishes the deletion on its next run; the marker is dropped instead when a push brought the
// row back meanwhile (the bytes are that push's now). Links and blob rows are chosen by age, so
// both get an index on it.
export const migration018 = {
  version: 18,
  name: 'garbage collection blob markers',
  sql: `
CREATE TABLE gc_doomed_blobs (
  digest      text PRIMARY KEY,
  size        bigint NOT NULL,
  doomed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX blobs_created ON blobs (created_at);
CREATE INDEX repository_blobs_created ON repository_blobs (created_at);
`,
};
