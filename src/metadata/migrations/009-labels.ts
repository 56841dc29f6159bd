// Harbor's labels: named, coloured tags of artifacts, either global (scope 'g', one namespace for
// the whole registry, managed by system administrators) or of one project (scope 'p'). An artifact
// here is a manifest row of one repository, so a label is attached to that row and goes with it.
export const migration009 = {
  version: 9,
  name: 'labels',
  sql: `
CREATE TABLE labels (
  id             bigserial PRIMARY KEY,
  name           text COLLATE "C" NOT NULL,
  description    text NOT NULL DEFAULT '',
  color          text NOT NULL DEFAULT '',
  scope          text NOT NULL CHECK (scope IN ('g', 'p')),
  -- A project label goes with its project; a global label has none.
  project_id     bigint REFERENCES projects (id) ON DELETE CASCADE,
  creation_time  timestamptz NOT NULL DEFAULT now(),
  update_time    timestamptz NOT NULL DEFAULT now(),
  CHECK ((scope = 'g') = (project_id IS NULL))
);
-- A name is unique within its scope (and project). The same indexes serve a page of either
-- scope in name order.
CREATE UNIQUE INDEX labels_global_name ON labels (name) WHERE scope = 'g';
CREATE UNIQUE INDEX labels_project_name ON labels (project_id, name) WHERE scope = 'p';

-- Which label is on which artifact. Deleting the artifact (manifest) or the label removes the row.
CREATE TABLE artifact_labels (
  manifest_id    bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  label_id       bigint NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
  creation_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (manifest_id, label_id)
);
CREATE INDEX artifact_labels_label ON artifact_labels (label_id);
`,
};
