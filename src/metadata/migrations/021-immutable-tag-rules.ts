// Tag immutability rules of a project (Harbor's /projects/{p}/immutabletagrules). The selectors
// are stored as Harbor's JSON; `rule_key` is their canonical text, unique per project, so the same
// rule cannot be added twice (Harbor answers 409 there too). Rules go with their project.
export const migration021 = {
  version: 21,
  name: 'tag immutability rules',
  sql: `
CREATE TABLE immutable_tag_rules (
  id               bigserial PRIMARY KEY,
  project_id       bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  disabled         boolean NOT NULL DEFAULT false,
  priority         integer NOT NULL DEFAULT 0,
  action           text NOT NULL,
  template         text NOT NULL,
  params           jsonb NOT NULL DEFAULT '{}'::jsonb,
  tag_selectors    jsonb NOT NULL,
  scope_selectors  jsonb NOT NULL,
  rule_key         text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, rule_key)
);
`,
};
