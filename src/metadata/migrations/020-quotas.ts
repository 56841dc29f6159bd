// Project storage quotas (docs/lifecycle.md, "Quotas"). Usage is counted as Harbor counts it: a
// blob once per project however many of its repositories link it, manifests included. The count
// is kept by triggers on repository_blobs, so every way a link comes or goes (upload, mount,
// manifest PUT, artifact and repository deletion, blob DELETE, GC's cascades) keeps it exact in
// the transaction that made the change, with no code path able to forget it:
// - project_blobs holds each (project, digest) with the number of the project's links to it;
// - quotas.used moves by a blob's size only when that pair appears or disappears.
// A link remembers its project (set on insert) because a repository deleted with its links is
// gone by the time the links' delete trigger runs. Both triggers lock the project's quota row
// before its project_blobs rows, the order the push-side quota check uses too: no deadlock.
// Every project has exactly one quota row, created with the project by a trigger, its limit the
// system default (storage_per_project).
export const migration020 = {
  version: 20,
  name: 'project storage quotas',
  sql: `
CREATE TABLE quotas (
  id          bigserial PRIMARY KEY,
  project_id  bigint NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
  hard        bigint NOT NULL DEFAULT -1,
  used        bigint NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project_blobs (
  project_id  bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  digest      text NOT NULL,
  size        bigint NOT NULL,
  links       integer NOT NULL,
  PRIMARY KEY (project_id, digest)
);

ALTER TABLE repository_blobs ADD COLUMN project_id bigint;
UPDATE repository_blobs rb SET project_id = r.project_id FROM repositories r WHERE r.id = rb.repository_id;

INSERT INTO project_blobs (project_id, digest, size, links)
SELECT rb.project_id, rb.digest, b.size, count(*)
FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
GROUP BY rb.project_id, rb.digest, b.size;

INSERT INTO quotas (project_id, hard, used)
SELECT p.id, -1, COALESCE((SELECT sum(pb.size) FROM project_blobs pb WHERE pb.project_id = p.id), 0)
FROM projects p;

CREATE FUNCTION quota_default_hard() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT COALESCE((SELECT (value #>> '{}')::bigint FROM system_settings WHERE name = 'storage_per_project'), -1)
$$;

CREATE FUNCTION quota_for_new_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO quotas (project_id, hard) VALUES (NEW.id, quota_default_hard());
  RETURN NULL;
END $$;
CREATE TRIGGER projects_quota AFTER INSERT ON projects
  FOR EACH ROW EXECUTE FUNCTION quota_for_new_project();

CREATE FUNCTION repository_blob_project() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.project_id := (SELECT project_id FROM repositories WHERE id = NEW.repository_id);
  RETURN NEW;
END $$;
CREATE TRIGGER repository_blobs_project BEFORE INSERT ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION repository_blob_project();

CREATE FUNCTION quota_count_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  link_count integer;
  blob_size bigint;
BEGIN
  PERFORM 1 FROM quotas WHERE project_id = NEW.project_id FOR NO KEY UPDATE;
  INSERT INTO project_blobs AS pb (project_id, digest, size, links)
  SELECT NEW.project_id, NEW.digest, b.size, 1 FROM blobs b WHERE b.digest = NEW.digest
  ON CONFLICT (project_id, digest) DO UPDATE SET links = pb.links + 1
  RETURNING pb.links, pb.size INTO link_count, blob_size;
  IF link_count = 1 THEN
    UPDATE quotas SET used = used + blob_size, updated_at = now() WHERE project_id = NEW.project_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER repository_blobs_count AFTER INSERT ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION quota_count_link();

CREATE FUNCTION quota_uncount_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  link_count integer;
  blob_size bigint;
BEGIN
  PERFORM 1 FROM quotas WHERE project_id = OLD.project_id FOR NO KEY UPDATE;
  UPDATE project_blobs SET links = links - 1
  WHERE project_id = OLD.project_id AND digest = OLD.digest
  RETURNING links, size INTO link_count, blob_size;
  IF link_count <= 0 THEN
    DELETE FROM project_blobs WHERE project_id = OLD.project_id AND digest = OLD.digest;
    UPDATE quotas SET used = used - blob_size, updated_at = now() WHERE project_id = OLD.project_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER repository_blobs_uncount AFTER DELETE ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION quota_uncount_link();
`,
};
