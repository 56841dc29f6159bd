import { randomBytes } from 'node:crypto';
import { isProjectRole, ROLE_NAMES, type ProjectRole } from '../../domain/rbac.js';
import type { Database, Queryable } from '../../metadata/database.js';
import {
  emailTakenByAnotherUser,
  findRobotForImport,
  findUserForImport,
  insertImportedProject,
  insertImportedRobot,
  insertImportedUser,
  setProjectOwner,
  updateImportedRobot,
  updateImportedUser,
} from '../../metadata/import-target-table.js';
import {
  findProjectByName,
  projectMetadata,
  setProjectMetadata,
  setUserMembership,
  userProjectRole,
} from '../../metadata/projects-table.js';
import type { RobotPermission } from '../../metadata/robots-table.js';
import { HarborHashError, harborHashToStored, hashPassword, isWharfHash } from '../passwords.js';
import {
  readHarbor,
  withHarborSnapshot,
  type HarborData,
  type HarborMember,
  type HarborProject,
  type HarborRobot,
  type HarborRobotPolicy,
  type HarborUser,
} from '../../metadata/harbor-source.js';

// Brings users, projects (with metadata), memberships and robot accounts from a Harbor database
// into Wharf's. Upserts by natural key (username, project name, robot name), so running it again
// changes nothing; a dry run reads the same way and writes nothing. The caller decides the
// transaction: the CLI runs a real import in one, so a failure leaves Wharf as it was.
//
// What Wharf already owns wins where the old registry cannot know better: a password or robot
// secret Wharf hashed itself (scrypt: the user logged in here, or it was set here) is never
// replaced by Harbor's, and rows that Harbor does not have are left alone (nothing is deleted).

export type ImportKind = 'users' | 'projects' | 'members' | 'robots';
export type ImportOutcome = 'created' | 'updated' | 'unchanged' | 'skipped';

export interface ImportChange {
  kind: ImportKind;
  outcome: ImportOutcome;
  subject: string;
  detail: string;
}

export interface ImportReport {
  dryRun: boolean;
  harborSchemaVersion: string | null;
  counts: Record<ImportKind, Record<ImportOutcome, number>>;
  /** Everything that was (or would be) created, updated or skipped; unchanged rows are counted only. */
  changes: ImportChange[];
  /** What the operator has to do by hand after the import. */
  warnings: string[];
}

export interface ImportOptions {
  dryRun: boolean;
  /** Called for every change as it is decided, for progress output. */
  onChange?: (change: ImportChange) => void;
}

/**
 * Stored as the password hash of an imported user who had no local password in Harbor (LDAP or
 * OIDC users): verifyPassword recognises no such form, so no password logs in until one is set.
 */
export const NO_PASSWORD = '!harbor-import:no-local-password';

const ROBOT_PREFIX = 'robot$';

/** Harbor's role names to its (and Wharf's) role numbers; 1.x called maintainer "master". */
const ROLE_BY_NAME: Record<string, ProjectRole> = {
  projectAdmin: 1,
  developer: 2,
  guest: 3,
  master: 4,
  maintainer: 4,
  limitedGuest: 5,
};

/** A Harbor row mapped into Wharf; id is null only in a dry run, for rows not created yet. */
interface Mapped {
  name: string;
  id: number | null;
}

type Fields = Record<string, string | number | boolean | null>;

/** The names of the fields whose desired value differs from the current one. */
function changedFields(current: object, desired: Fields): string[] {
  const values = new Map<string, unknown>(Object.entries(current));
  return Object.keys(desired).filter((k) => values.get(k) !== desired[k]);
}

function emptyCounts(): Record<ImportOutcome, number> {
  return { created: 0, updated: 0, unchanged: 0, skipped: 0 };
}

function timestampParam(epochSeconds: number | null): string | null {
  return epochSeconds === null ? null : new Date(epochSeconds * 1000).toISOString();
}

/** A stable text form of a robot's permissions, for comparing them regardless of order. */
export function canonicalPermissions(permissions: readonly RobotPermission[]): string {
  const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return JSON.stringify(
    permissions
      .map((p) => ({
        kind: p.kind,
        namespace: p.namespace,
        access: p.access
          .map((a) => ({ resource: a.resource, action: a.action, effect: a.effect || 'allow' }))
          .sort((x, y) => byText(JSON.stringify(x), JSON.stringify(y))),
      }))
      .sort((x, y) => byText(JSON.stringify(x), JSON.stringify(y))),
  );
}

export { NotHarborDatabaseError } from '../../metadata/harbor-source.js';

/**
 * Imports from the Harbor database at `sourceUrl` (one read-only snapshot) into Wharf's: in one
 * transaction, so a failed import leaves Wharf as it was; a dry run writes nothing at all.
 */
export async function runHarborImport(
  sourceUrl: string,
  target: Database,
  options: ImportOptions,
): Promise<ImportReport> {
  return withHarborSnapshot(sourceUrl, (harbor) =>
    options.dryRun
      ? importHarbor(harbor, target, options)
      : target.transaction((wharf) => importHarbor(harbor, wharf, options)),
  );
}

export async function importHarbor(
  source: Queryable,
  target: Queryable,
  options: ImportOptions,
): Promise<ImportReport> {
  const data = await readHarbor(source);
  const run = new HarborImport(data, target, options);
  await run.users();
  await run.projects();
  await run.members();
  await run.robots();
  run.finish();
  return run.report;
}

class HarborImport {
  readonly report: ImportReport;
  /** Harbor user_id -> the Wharf user, for imported users only. */
  private readonly userMap = new Map<number, Mapped>();
  /** Harbor project_id -> the Wharf project, for imported projects only. */
  private readonly projectMap = new Map<number, Mapped>();
  /** Lower-cased e-mail addresses given to users by this run (Wharf's are unique, ignoring case). */
  private readonly claimedEmails = new Set<string>();
  private readonly unimportedSecrets: string[] = [];
  private groupMembersSkipped = false;

  constructor(
    private readonly data: HarborData,
    private readonly db: Queryable,
    private readonly options: ImportOptions,
  ) {
    this.report = {
      dryRun: options.dryRun,
      harborSchemaVersion: data.schemaVersion,
      counts: {
        users: emptyCounts(),
        projects: emptyCounts(),
        members: emptyCounts(),
        robots: emptyCounts(),
      },
      changes: [],
      warnings: [],
    };
  }

  private record(kind: ImportKind, outcome: ImportOutcome, subject: string, detail = ''): void {
    this.report.counts[kind][outcome]++;
    if (outcome === 'unchanged') return;
    const change = { kind, outcome, subject, detail };
    this.report.changes.push(change);
    this.options.onChange?.(change);
  }

  private get writing(): boolean {
    return !this.options.dryRun;
  }

  // ---- users ----

  async users(): Promise<void> {
    for (const u of this.data.users) {
      if (u.deleted) {
        this.record('users', 'skipped', u.username, 'deleted in Harbor');
      } else if (u.username === 'anonymous') {
        this.record('users', 'skipped', u.username, "Harbor's built-in anonymous account");
      } else {
        await this.user(u);
      }
    }
  }

  private passwordOf(u: HarborUser): { hash: string; note: string } {
    try {
      const hash = harborHashToStored(u.password, u.salt, u.password_version);
      if (hash !== null) return { hash, note: `${u.password_version || 'sha1'} password` };
      return {
        hash: NO_PASSWORD,
        note: 'no local password in Harbor (LDAP/OIDC user?): password login disabled',
      };
    } catch (err) {
      if (!(err instanceof HarborHashError)) throw err;
      return { hash: NO_PASSWORD, note: `password not importable (${err.message}): password login disabled` };
    }
  }

  /** The user's e-mail, or null (with a note) when another Wharf user already has it. */
  private async emailOf(u: HarborUser): Promise<{ email: string | null; note: string }> {
    const email = u.email?.trim() || null;
    if (email === null) return { email, note: '' };
    const taken =
      this.claimedEmails.has(email.toLowerCase()) ||
      (await emailTakenByAnotherUser(this.db, email, u.username));
    if (taken) return { email: null, note: `e-mail ${email} belongs to another Wharf user: not imported` };
    this.claimedEmails.add(email.toLowerCase());
    return { email, note: '' };
  }

  private async user(u: HarborUser): Promise<void> {
    const password = this.passwordOf(u);
    const mail = await this.emailOf(u);
    const desired = {
      email: mail.email,
      realname: u.realname ?? '',
      comment: u.comment ?? '',
      sysadmin: u.sysadmin_flag,
    };
    const notes = [mail.note].filter(Boolean);
    const existing = await findUserForImport(this.db, u.username);
    if (!existing) {
      // A dry run creates nothing: the user has no id (null).
      const id = this.writing
        ? await insertImportedUser(this.db, {
            ...desired,
            username: u.username,
            passwordHash: password.hash,
            createdAt: timestampParam(u.created_epoch),
          })
        : null;
      this.userMap.set(u.user_id, { name: u.username, id });
      const shown = [password.note, ...(desired.sysadmin ? ['sysadmin'] : []), ...notes];
      this.record('users', 'created', u.username, shown.join('; '));
      return;
    }
    this.userMap.set(u.user_id, { name: u.username, id: existing.id });
    const changed = changedFields(existing, desired);
    // A hash Wharf made is newer than Harbor's (see the top of this file).
    const replacePassword = !isWharfHash(existing.password_hash) && existing.password_hash !== password.hash;
    if (changed.length === 0 && !replacePassword) {
      this.record('users', 'unchanged', u.username);
      return;
    }
    if (this.writing) {
      await updateImportedUser(this.db, existing.id, desired, replacePassword ? password.hash : null);
    }
    if (replacePassword) changed.push(`password (${password.note})`);
    else if (password.hash !== NO_PASSWORD && existing.password_hash !== password.hash) {
      notes.push("password: Wharf's own kept");
    }
    this.record('users', 'updated', u.username, [changed.join(', '), ...notes].join('; '));
  }

  // ---- projects ----

  async projects(): Promise<void> {
    const metadata = new Map<number, Record<string, string>>();
    for (const m of this.data.projectMetadata) {
      const entries = metadata.get(m.project_id) ?? {};
      entries[m.name] = m.value ?? '';
      metadata.set(m.project_id, entries);
    }
    for (const p of this.data.projects) {
      if (p.deleted) this.record('projects', 'skipped', p.name, 'deleted in Harbor');
      else await this.project(p, metadata.get(p.project_id) ?? {});
    }
  }

  private async project(p: HarborProject, metadata: Record<string, string>): Promise<void> {
    const owner = p.owner_id === null ? undefined : this.userMap.get(p.owner_id);
    const notes: string[] = [];
    if (p.owner_id !== null && owner === undefined) {
      notes.push(`owner (Harbor user ${p.owner_id}) not imported: no owner`);
    }
    if (p.registry_id !== null && p.registry_id > 0) {
      notes.push(
        'a proxy-cache project in Harbor: imported as a plain project, without its upstream registry',
      );
    }
    const existing = await findProjectByName(this.db, p.name);
    if (!existing) {
      const id = this.writing
        ? await insertImportedProject(this.db, p.name, owner?.id ?? null, timestampParam(p.created_epoch))
        : null;
      if (id !== null) await setProjectMetadata(this.db, id, metadata);
      this.projectMap.set(p.project_id, { name: p.name, id });
      const shown = [`owner ${owner?.name ?? '-'}`, ...Object.entries(metadata).map(([k, v]) => `${k}=${v}`)];
      this.record('projects', 'created', p.name, [...shown, ...notes].join('; '));
      return;
    }
    this.projectMap.set(p.project_id, { name: p.name, id: existing.id });
    const changed: string[] = [];
    // An owner created by this dry run has no id yet, so it cannot be the current one.
    const ownerId = owner === undefined ? null : owner.id;
    if (existing.owner_id !== ownerId || (owner !== undefined && owner.id === null)) {
      changed.push(`owner -> ${owner?.name ?? '-'}`);
    }
    const current = await projectMetadata(this.db, existing.id);
    const metadataChanges = Object.fromEntries(Object.entries(metadata).filter(([k, v]) => current[k] !== v));
    changed.push(...Object.entries(metadataChanges).map(([k, v]) => `${k}=${v}`));
    if (changed.length === 0) {
      this.record('projects', 'unchanged', p.name);
      return;
    }
    if (this.writing) {
      await setProjectOwner(this.db, existing.id, ownerId);
      await setProjectMetadata(this.db, existing.id, metadataChanges);
    }
    this.record('projects', 'updated', p.name, [changed.join(', '), ...notes].join('; '));
  }

  // ---- members ----

  /** A Harbor name for messages, also of rows that were not imported. */
  private harborUserName(id: number): string {
    return this.data.users.find((u) => u.user_id === id)?.username ?? `user #${id}`;
  }

  private harborProjectName(id: number): string {
    return this.data.projects.find((p) => p.project_id === id)?.name ?? `project #${id}`;
  }

  async members(): Promise<void> {
    for (const m of this.data.members) await this.member(m);
  }

  private roleOf(m: HarborMember): ProjectRole | null {
    const role = m.role_name !== null ? ROLE_BY_NAME[m.role_name] : m.role;
    return isProjectRole(role) ? role : null;
  }

  private async member(m: HarborMember): Promise<void> {
    const project = this.projectMap.get(m.project_id);
    const projectName = project?.name ?? this.harborProjectName(m.project_id);
    if (m.entity_type === 'g') {
      const group = this.data.groups?.get(m.entity_id) ?? `#${m.entity_id}`;
      this.groupMembersSkipped = true;
      this.record('members', 'skipped', `${projectName}/group:${group}`, 'Wharf has no user groups yet');
      return;
    }
    const user = this.userMap.get(m.entity_id);
    const subject = `${projectName}/${user?.name ?? this.harborUserName(m.entity_id)}`;
    if (!project) return this.record('members', 'skipped', subject, 'project deleted in Harbor');
    if (!user) return this.record('members', 'skipped', subject, 'user deleted in Harbor or not imported');
    const role = this.roleOf(m);
    if (role === null) {
      return this.record('members', 'skipped', subject, `unknown Harbor role ${m.role_name ?? m.role}`);
    }
    // In a dry run a project or user this run would create has no id: it has no members yet.
    const existing =
      project.id === null || user.id === null ? null : await userProjectRole(this.db, user.id, project.id);
    if (existing === role) return this.record('members', 'unchanged', subject);
    if (this.writing) await setUserMembership(this.db, project.id as number, user.id as number, role);
    this.record('members', existing !== null ? 'updated' : 'created', subject, ROLE_NAMES[role]);
  }

  // ---- robots ----

  async robots(): Promise<void> {
    const policies = new Map<number, HarborRobotPolicy[]>();
    for (const p of this.data.robotPolicies ?? []) {
      const list = policies.get(p.robot_id) ?? [];
      list.push(p);
      policies.set(p.robot_id, list);
    }
    const harborProjects = new Map(
      this.data.projects.filter((p) => !p.deleted).map((p) => [p.project_id, p.name]),
    );
    for (const r of this.data.robots) {
      if (!r.visible) this.record('robots', 'skipped', r.name, 'a hidden robot Harbor made for itself');
      else await this.robot(r, policies.get(r.id) ?? [], harborProjects);
    }
  }

  /**
   * Harbor's scopes as Wharf's permission entries (the shape of Harbor's robot API). Permissions on
   * a project that is gone are dropped; any scope this code does not know makes the set unfaithful.
   */
  private permissionsOf(
    policies: readonly HarborRobotPolicy[],
    harborProjects: Map<number, string>,
  ): { permissions: RobotPermission[]; dropped: string[]; unknown: string[] } {
    const byScope = new Map<string, RobotPermission>();
    const dropped = new Set<string>();
    const unknown = new Set<string>();
    for (const p of policies) {
      let kind: string;
      let namespace: string;
      const projectId = /^\/project\/(\d+)$/.exec(p.scope)?.[1];
      if (p.scope === '/system') [kind, namespace] = ['system', '/'];
      else if (p.scope === '/project/*') [kind, namespace] = ['project', '*'];
      else if (projectId !== undefined) {
        const name = harborProjects.get(Number(projectId));
        if (name === undefined) {
          dropped.add(p.scope);
          continue;
        }
        [kind, namespace] = ['project', name];
      } else {
        unknown.add(p.scope);
        continue;
      }
      const key = `${kind}:${namespace}`;
      const entry = byScope.get(key) ?? { kind, namespace, access: [] };
      entry.access.push({ resource: p.resource, action: p.action, effect: p.effect || 'allow' });
      byScope.set(key, entry);
    }
    return { permissions: [...byScope.values()], dropped: [...dropped], unknown: [...unknown] };
  }

  private async robot(
    r: HarborRobot,
    policies: readonly HarborRobotPolicy[],
    harborProjects: Map<number, string>,
  ): Promise<void> {
    const harborProjectId = r.project_id !== null && r.project_id > 0 ? r.project_id : null;
    const project = harborProjectId === null ? null : this.projectMap.get(harborProjectId);
    if (project === undefined) {
      this.record('robots', 'skipped', r.name, 'its project is deleted in Harbor or was not imported');
      return;
    }
    // Robots made before Harbor 2.2 have no secret: they logged in with a JWT whose claims held
    // their permissions, and were unique per project only.
    const legacy = !r.secret;
    const { name, harborName } = this.robotNames(r, project?.name ?? null, legacy);
    const notes: string[] = [];
    if (name !== harborName) notes.push(`was ${harborName} in Harbor`);

    let secretHash: string | null = null;
    if (!legacy) {
      try {
        secretHash = harborHashToStored(r.secret, r.salt, 'sha256');
      } catch (err) {
        if (!(err instanceof HarborHashError)) throw err;
        notes.push(`secret not importable (${err.message})`);
      }
    }
    const { permissions, dropped, unknown } = this.permissionsOf(policies, harborProjects);
    if (dropped.length > 0) notes.push(`permissions on deleted projects dropped (${dropped.join(', ')})`);
    const unfaithful = legacy
      ? 'a pre-2.2 robot: its permissions lived in its token'
      : unknown.length > 0
        ? `permission scopes Wharf cannot map (${unknown.join(', ')})`
        : null;
    if (unfaithful) notes.push(`${unfaithful}: imported disabled, without permissions`);

    const desired = robotFields(r, project);
    // What only a faithful import may set; otherwise Wharf's own settings of the robot stand.
    const faithful: Fields =
      unfaithful === null ? { disabled: r.disabled, permissions: canonicalPermissions(permissions) } : {};

    const existing = await findRobotForImport(this.db, name);
    if (!existing) {
      if (secretHash === null) this.unimportedSecrets.push(name);
      if (this.writing) {
        await insertImportedRobot(this.db, {
          ...desired,
          name,
          // A valid hash of a secret nobody knows, so that a refresh is all it takes.
          secretHash: secretHash ?? (await hashPassword(randomBytes(32).toString('base64url'))),
          disabled: unfaithful === null ? r.disabled : true,
          permissions: unfaithful === null ? permissions : [],
          createdAt: timestampParam(r.created_epoch),
        });
      }
      const secretNote = secretHash === null ? 'random secret (refresh it)' : 'secret imported';
      this.record('robots', 'created', name, [desired.level, secretNote, ...notes].join('; '));
      return;
    }
    const current = { ...existing, permissions: canonicalPermissions(existing.permissions) };
    const changed = changedFields(current, { ...desired, ...faithful });
    const replaceSecret =
      secretHash !== null && !isWharfHash(existing.secret_hash) && existing.secret_hash !== secretHash;
    if (changed.length === 0 && !replaceSecret) return this.record('robots', 'unchanged', name);
    if (this.writing) {
      const access = unfaithful === null ? { disabled: r.disabled, permissions } : null;
      await updateImportedRobot(this.db, existing.id, desired, access, replaceSecret ? secretHash : null);
    }
    if (replaceSecret) changed.push('secret');
    this.record('robots', 'updated', name, [changed.join(', '), ...notes].join('; '));
  }

  /** Wharf's name of a robot (the 2.x way, project+name), and Harbor's as it showed it. */
  private robotNames(
    r: HarborRobot,
    projectName: string | null,
    legacy: boolean,
  ): { name: string; harborName: string } {
    if (legacy) {
      // Stored with Harbor's prefix already, e.g. robot$ci.
      const bare = r.name.startsWith(ROBOT_PREFIX) ? r.name.slice(ROBOT_PREFIX.length) : r.name;
      return { name: ROBOT_PREFIX + (projectName ? `${projectName}+${bare}` : bare), harborName: r.name };
    }
    // Stored without it: project+name or name.
    return { name: ROBOT_PREFIX + r.name, harborName: (this.data.robotNamePrefix ?? ROBOT_PREFIX) + r.name };
  }

  finish(): void {
    const w = this.report.warnings;
    if (this.unimportedSecrets.length > 0) {
      w.push(
        `${this.unimportedSecrets.length} robot(s) got a random secret because Harbor's could not be imported ` +
          `(${this.unimportedSecrets.join(', ')}): refresh each secret (PATCH /api/v2.0/robots/{id}), ` +
          'set its permissions if it has none, and enable it.',
      );
    }
    if (this.data.robotNamePrefix !== null && this.data.robotNamePrefix !== ROBOT_PREFIX) {
      w.push(
        `Harbor's robot_name_prefix was "${this.data.robotNamePrefix}"; Wharf's robots are named ` +
          `"${ROBOT_PREFIX}…", so clients must log in with the new names.`,
      );
    }
    const noPassword = this.report.changes.filter(
      (c) => c.kind === 'users' && c.detail.includes('password login disabled'),
    );
    if (noPassword.length > 0) {
      w.push(
        `${noPassword.length} user(s) have no usable password (${noPassword.map((c) => c.subject).join(', ')}): ` +
          'set one for each, or they cannot log in.',
      );
    }
    if (this.groupMembersSkipped) {
      w.push(
        'group memberships were not imported (Wharf has no user groups yet): add their users as members.',
      );
    }
    if (this.data.oidcSecrets > 0) {
      w.push(`${this.data.oidcSecrets} OIDC user CLI secret(s) in Harbor are not imported.`);
    }
  }
}

/** The fields of an imported robot every import sets (its access only a faithful one: robot()). */
function robotFields(r: HarborRobot, project: { id: number | null } | null) {
  const expiresAt = r.expiresat !== null && r.expiresat > 0 ? r.expiresat : null;
  return {
    description: r.description ?? '',
    level: project ? 'project' : 'system',
    project_id: project?.id ?? null,
    duration:
      r.duration ??
      (expiresAt !== null && r.created_epoch !== null
        ? Math.max(1, Math.round((expiresAt - r.created_epoch) / 86_400))
        : -1),
    expires_at: timestampParam(expiresAt),
    creator: r.creator ?? '',
  };
}
