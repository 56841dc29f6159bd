import type { Selector } from '../domain/tag-selectors.js';
import type { Queryable } from './database.js';

// Rows of `immutable_tag_rules` (migration 021), and the two reads the artifact core makes inside
// its write transactions: the enabled rules of a repository's project, and what the protected
// tags hold now (under a per-tag lock, so two pushes of one protected tag cannot both find it
// absent and both write it).

export interface ImmutableRuleFields {
  disabled: boolean;
  priority: number;
  action: string;
  template: string;
  params: Record<string, unknown>;
  tagSelectors: Selector[];
  scopeSelectors: Record<string, Selector[]>;
  /** Canonical text of the selectors: unique per project. */
  ruleKey: string;
}

export interface ImmutableRuleRow {
  id: number;
  project_id: number;
  disabled: boolean;
  priority: number;
  action: string;
  template: string;
  params: Record<string, unknown>;
  tag_selectors: Selector[];
  scope_selectors: Record<string, Selector[]>;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `r.id::int AS id, r.project_id::int AS project_id, r.disabled, r.priority, r.action, r.template,
  r.params, r.tag_selectors, r.scope_selectors, r.created_at, r.updated_at`;

function values(f: ImmutableRuleFields) {
  return [
    f.disabled,
    f.priority,
    f.action,
    f.template,
    JSON.stringify(f.params),
    JSON.stringify(f.tagSelectors),
    JSON.stringify(f.scopeSelectors),
    f.ruleKey,
  ];
}

/** Null when the project has the same rule already. */
export async function insertImmutableRule(
  db: Queryable,
  projectId: number,
  fields: ImmutableRuleFields,
): Promise<ImmutableRuleRow | null> {
  // No exception on a duplicate: inside a caller's transaction one would abort it.
  const rows = await db.query<ImmutableRuleRow>(
    `INSERT INTO immutable_tag_rules AS r
       (project_id, disabled, priority, action, template, params, tag_selectors, scope_selectors, rule_key)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9)
     ON CONFLICT (project_id, rule_key) DO NOTHING RETURNING ${COLUMNS}`,
    [projectId, ...values(fields)],
  );
  return rows[0] ?? null;
}

/** 'conflict' when another rule of the project is the same; null when the rule is gone. */
export async function updateImmutableRule(
  db: Queryable,
  projectId: number,
  id: number,
  fields: ImmutableRuleFields,
): Promise<ImmutableRuleRow | 'conflict' | null> {
  const taken = await db.query<{ id: number }>(
    'SELECT id FROM immutable_tag_rules WHERE project_id = $1 AND rule_key = $2 AND id <> $3',
    [projectId, fields.ruleKey, id],
  );
  if (taken.length > 0) return 'conflict';
  const rows = await db.query<ImmutableRuleRow>(
    `UPDATE immutable_tag_rules AS r SET disabled = $3, priority = $4, action = $5, template = $6,
       params = $7::jsonb, tag_selectors = $8::jsonb, scope_selectors = $9::jsonb, rule_key = $10,
       updated_at = now()
     WHERE r.project_id = $1 AND r.id = $2 RETURNING ${COLUMNS}`,
    [projectId, id, ...values(fields)],
  );
  return rows[0] ?? null;
}

export async function findImmutableRule(
  db: Queryable,
  projectId: number,
  id: number,
): Promise<ImmutableRuleRow | null> {
  const rows = await db.query<ImmutableRuleRow>(
    `SELECT ${COLUMNS} FROM immutable_tag_rules r WHERE r.project_id = $1 AND r.id = $2`,
    [projectId, id],
  );
  return rows[0] ?? null;
}

/** One page of a project's rules, oldest first (Harbor lists by id), with the total. */
export async function listImmutableRules(
  db: Queryable,
  projectId: number,
  offset: number,
  limit: number,
): Promise<{ items: ImmutableRuleRow[]; total: number }> {
  const total = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM immutable_tag_rules WHERE project_id = $1',
    [projectId],
  );
  const items = await db.query<ImmutableRuleRow>(
    `SELECT ${COLUMNS} FROM immutable_tag_rules r WHERE r.project_id = $1 ORDER BY r.id LIMIT $2 OFFSET $3`,
    [projectId, limit, offset],
  );
  return { items, total: total[0]?.n ?? 0 };
}

export async function countImmutableRules(db: Queryable, projectId: number): Promise<number> {
  const rows = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM immutable_tag_rules WHERE project_id = $1',
    [projectId],
  );
  return rows[0]?.n ?? 0;
}

/** True when a rule was deleted. */
export async function deleteImmutableRule(db: Queryable, projectId: number, id: number): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    'DELETE FROM immutable_tag_rules WHERE project_id = $1 AND id = $2 RETURNING id',
    [projectId, id],
  );
  return rows.length > 0;
}

/** First key of the advisory lock that serialises one project's rule changes. */
const RULES_LOCK_CLASS = 0x1a7a5;

/** Serialises the project's rule changes (the per-project limit is counted under it). */
export async function lockProjectRules(tx: Queryable, projectId: number): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [RULES_LOCK_CLASS, projectId]);
}

/** The enabled rules of the project a repository (full name, with its project) belongs to. */
export async function enabledRulesOfRepository(
  db: Queryable,
  repositoryFullName: string,
): Promise<ImmutableRuleRow[]> {
  return db.query<ImmutableRuleRow>(
    `SELECT ${COLUMNS} FROM immutable_tag_rules r JOIN projects p ON p.id = r.project_id
     WHERE p.name = split_part($1, '/', 1) AND NOT r.disabled ORDER BY r.id`,
    [repositoryFullName],
  );
}

/** First key of the two-key advisory lock on a protected tag: this lock's namespace. */
const TAG_LOCK_CLASS = 0x1a7a6;

/**
 * Holds the tags' locks until the transaction ends (pushes of tags an immutability rule protects):
 * a second push of the same tag waits, then finds the first one's tag and is refused. Sorted, so
 * two pushes of several protected tags take them in one order. A shared key only makes two pushes
 * wait for each other.
 */
export async function lockProtectedTags(
  tx: Queryable,
  repositoryFullName: string,
  tags: readonly string[],
): Promise<void> {
  const keys = [...new Set(tags)].sort().map((tag) => `${repositoryFullName}:${tag}`);
  if (keys.length === 0) return;
  await tx.query(`SELECT pg_advisory_xact_lock($1, hashtext(k)) FROM unnest($2::text[]) AS k`, [
    TAG_LOCK_CLASS,
    keys,
  ]);
}

/** tag → the digest it names now, for those of the given tags the repository has. */
export async function currentTagDigests(
  db: Queryable,
  repositoryId: number,
  tags: readonly string[],
): Promise<Map<string, string>> {
  if (tags.length === 0) return new Map();
  const rows = await db.query<{ name: string; digest: string }>(
    `SELECT t.name, m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id
     WHERE t.repository_id = $1 AND t.name = ANY($2::text[])`,
    [repositoryId, [...tags]],
  );
  return new Map(rows.map((r) => [r.name, r.digest]));
}
