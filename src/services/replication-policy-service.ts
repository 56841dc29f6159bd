import type { SystemResource } from '../domain/rbac.js';
import { isUniqueViolation, type Database, type Queryable } from '../metadata/database.js';
import {
  allPolicies,
  deletePolicyRow,
  findPolicyById,
  insertPolicy,
  listPolicies,
  policyNamesUsingRegistry,
  updatePolicy,
  type PolicyListFilter,
  type ReplicationPolicyFields,
  type ReplicationPolicyRow,
  type TriggerType,
} from '../metadata/replication-policies-table.js';
import type { PolicyFilter } from '../domain/replication-filters.js';
import { recordEvent } from '../metadata/outbox-table.js';
import { adminEvent, changesOf } from './audit/admin-events.js';
import { type Principal, principalName, refusalFor } from './principal.js';
import type {
  EndpointUsageCheck,
  RegistryEndpoint,
  RegistryEndpointService,
} from './registry-endpoint-service.js';
import { ServiceError } from './service-error.js';
import { hasControlCharacter } from './registry-endpoint-checks.js';
import {
  checkDestinationNames,
  checkedTrigger,
  checkFilters,
  checkSpeed,
  invalid,
} from './replication-policy-checks.js';
import { disabledLookupCache, type LookupCache } from '../cluster/lookup-cache.js';

// Replication policies (Harbor's /replication/policies): what is replicated (filters), from where
// to where (one remote endpoint; the other side is this registry), under which names, and when
// (triggers). System administrators only. Runs (executions) are the execution module's: it asks
// this service for policies, tells it which are running (a running policy cannot be deleted) and
// listens to changes (a scheduled trigger is a schedule of the job service).

const RESOURCE: SystemResource = 'replication-policy';
/** Where the policy list is cached (no repository name has a colon). */
const CACHE_SCOPE = 'replication:policies';
const CACHE_KEY = 'all';
const MAX_NAME = 256;
const MAX_DESCRIPTION = 1024;
export type { TriggerType };
export const TRIGGER_TYPES = ['manual', 'scheduled', 'event_based'] as const satisfies readonly TriggerType[];

/** When a policy runs; `cron` (6 fields, seconds first) only for a scheduled trigger. */
export interface PolicyTrigger {
  type: TriggerType;
  cron: string;
}

/** The two sides of a policy, one of them a registry endpoint's id and the other null (this registry). */
export interface PolicySides {
  srcRegistryId: number | null;
  destRegistryId: number | null;
}

/** What an update may change; a field left out keeps its value. */
export interface PolicyChanges {
  name?: string;
  description?: string;
  /** Both sides at once: they are one choice (pull from a peer or push to one). */
  sides?: PolicySides;
  destNamespace?: string;
  destNamespaceReplaceCount?: number;
  filters?: PolicyFilter[];
  trigger?: PolicyTrigger;
  replicateDeletion?: boolean;
  override?: boolean;
  /** KB/s per task; -1 or 0: unlimited. */
  speed?: number;
  enabled?: boolean;
  copyByChunk?: boolean;
}

/** A new policy: a name is required, the rest has Harbor's defaults. */
export interface NewPolicy extends PolicyChanges {
  name: string;
}

export interface ReplicationPolicy {
  id: number;
  name: string;
  description: string;
  creator: string;
  /** Pull mode: the remote source. Null: this registry. */
  srcRegistryId: number | null;
  /** Push mode: the remote destination. Null: this registry. */
  destRegistryId: number | null;
  destNamespace: string;
  destNamespaceReplaceCount: number;
  filters: PolicyFilter[];
  trigger: PolicyTrigger;
  replicateDeletion: boolean;
  override: boolean;
  /** KB/s per task; 0: unlimited. */
  speed: number;
  enabled: boolean;
  copyByChunk: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** A policy with the endpoints it names, as the API shows it. */
export interface PolicyView {
  policy: ReplicationPolicy;
  srcRegistry: RegistryEndpoint | null;
  destRegistry: RegistryEndpoint | null;
}

/** The execution module says whether a policy has an execution in progress. */
export type RunningCheck = (policyId: number) => Promise<boolean>;

export interface PolicyChange {
  kind: 'created' | 'updated' | 'deleted';
  id: number;
  /** Null for a deletion. */
  policy: ReplicationPolicy | null;
}
/** Called after a change is committed; it should be idempotent (the execution module also resyncs at start). */
export type PolicyChangeListener = (change: PolicyChange) => Promise<void>;

/** What the execution module gives the policies at construction (src/wiring/replication.ts). */
export interface PolicyHooks {
  /** A policy with a running execution cannot be deleted (412). */
  runningChecks?: readonly RunningCheck[];
  /** Told of each committed change (schedules follow their policy). */
  changeListeners?: readonly PolicyChangeListener[];
}

/** The endpoint service's usage check: an endpoint a policy names cannot be deleted (412). */
export function endpointUsageByPolicies(db: Database): EndpointUsageCheck {
  return (registryId) => policyNamesUsingRegistry(db, registryId);
}

export class ReplicationPolicyService {
  readonly #runningChecks: readonly RunningCheck[];
  readonly #listeners: readonly PolicyChangeListener[];

  constructor(
    private readonly db: Database,
    private readonly endpoints: RegistryEndpointService,
    /** Caches the policy list every manifest push reads (exact: invalidated on every change). */
    private readonly lookups: LookupCache = disabledLookupCache,
    hooks: PolicyHooks = {},
  ) {
    this.#runningChecks = hooks.runningChecks ?? [];
    this.#listeners = hooks.changeListeners ?? [];
  }

  async list(
    principal: Principal,
    filter: PolicyListFilter,
    offset: number,
    limit: number,
  ): Promise<{ items: PolicyView[]; total: number }> {
    this.requireAdmin(principal);
    const { items, total } = await listPolicies(this.db, filter, offset, limit);
    const endpoints = new Map<number, RegistryEndpoint | null>();
    const views: PolicyView[] = [];
    for (const row of items) views.push(await this.view(principal, toPolicy(row), endpoints));
    return { items: views, total };
  }

  async get(principal: Principal, id: number): Promise<PolicyView> {
    this.requireAdmin(principal);
    return this.view(principal, toPolicy(await this.row(id)), new Map());
  }

  async create(principal: Principal, input: NewPolicy): Promise<ReplicationPolicy> {
    this.requireAdmin(principal);
    const fields = await this.fields(principal, input, null);
    let row: ReplicationPolicyRow | null;
    try {
      row = await this.db.transaction(async (tx) => {
        const created = await insertPolicy(tx, fields, principalName(principal));
        if (created) {
          const event = { name: created.name, id: Number(created.id), changes: auditedChanges(input) };
          await recordEvent(tx, adminEvent('replication_policy.created', principal, null, event));
        }
        return created;
      });
    } catch (err) {
      // An endpoint deleted between the check above and the insert.
      if (isForeignKeyViolation(err)) throw invalid('the registry of the policy does not exist');
      throw err;
    }
    if (!row)
      throw new ServiceError('conflict', `a replication policy named "${fields.name}" already exists`);
    const policy = toPolicy(row);
    await this.notify({ kind: 'created', id: policy.id, policy });
    return policy;
  }

  async update(principal: Principal, id: number, input: PolicyChanges): Promise<ReplicationPolicy> {
    this.requireAdmin(principal);
    const current = await this.row(id);
    const fields = await this.fields(principal, input, current);
    let row: ReplicationPolicyRow | null;
    try {
      row = await this.db.transaction(async (tx) => {
        const updated = await updatePolicy(tx, id, fields);
        if (updated) {
          const event = { name: updated.name, id, changes: auditedChanges(input) };
          await recordEvent(tx, adminEvent('replication_policy.updated', principal, null, event));
        }
        return updated;
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ServiceError('conflict', `a replication policy named "${fields.name}" already exists`);
      if (isForeignKeyViolation(err)) throw invalid('the registry of the policy does not exist');
      throw err;
    }
    if (!row) throw notFound(id);
    const policy = toPolicy(row);
    await this.notify({ kind: 'updated', id, policy });
    return policy;
  }

  async delete(principal: Principal, id: number): Promise<void> {
    this.requireAdmin(principal);
    const current = await this.row(id);
    for (const running of this.#runningChecks) {
      if (await running(id)) {
        throw new ServiceError(
          'precondition',
          `replication policy ${id} has an execution in progress; stop it before deleting the policy`,
        );
      }
    }
    const deleted = await this.db.transaction(async (tx) => {
      if (!(await deletePolicyRow(tx, id))) return false;
      const event = { name: current.name, id };
      await recordEvent(tx, adminEvent('replication_policy.deleted', principal, null, event));
      return true;
    });
    if (!deleted) throw notFound(id);
    await this.notify({ kind: 'deleted', id, policy: null });
  }

  // --- for the execution module (no principal: it acts for the system) ---

  async byId(id: number): Promise<ReplicationPolicy | null> {
    const row = await findPolicyById(this.db, id);
    return row ? toPolicy(row) : null;
  }

  /** `db`: a transaction to read through (the embedded database serves one at a time). */
  async all(db: Queryable = this.db): Promise<ReplicationPolicy[]> {
    const cached = this.lookups.get<ReplicationPolicy[]>(CACHE_SCOPE, CACHE_KEY);
    if (cached) return cached;
    const epoch = this.lookups.epoch();
    const policies = (await allPolicies(db)).map(toPolicy);
    this.lookups.set(CACHE_SCOPE, CACHE_KEY, policies, epoch);
    return policies;
  }

  /** Sysadmins only: 401 for anonymous callers, 403 for others (checked before the body is read). */
  requireAdmin(principal: Principal): void {
    if (principal.kind === 'user' && principal.sysadmin) return;
    throw new ServiceError(
      refusalFor(principal),
      `only system administrators may manage ${RESOURCE.replace('-', ' ')}s`,
    );
  }

  // --- internals ---

  private async notify(change: PolicyChange): Promise<void> {
    // Before anyone hears of the change: every instance reads the new list from here on.
    await this.lookups.invalidate(CACHE_SCOPE);
    for (const listener of this.#listeners) await listener(change);
  }

  private async row(id: number): Promise<ReplicationPolicyRow> {
    const row = await findPolicyById(this.db, id);
    if (!row) throw notFound(id);
    return row;
  }

  private async view(
    principal: Principal,
    policy: ReplicationPolicy,
    cache: Map<number, RegistryEndpoint | null>,
  ): Promise<PolicyView> {
    const endpoint = async (id: number | null): Promise<RegistryEndpoint | null> => {
      if (id === null) return null;
      if (!cache.has(id)) cache.set(id, await this.endpoints.get(principal, id));
      return cache.get(id) ?? null;
    };
    return {
      policy,
      srcRegistry: await endpoint(policy.srcRegistryId),
      destRegistry: await endpoint(policy.destRegistryId),
    };
  }

  /** Validates input over the current row (null: a new policy) into the stored fields. */
  private async fields(
    principal: Principal,
    input: PolicyChanges,
    current: ReplicationPolicyRow | null,
  ): Promise<ReplicationPolicyFields> {
    const name = (input.name ?? current?.name ?? '').trim();
    if (name === '' || name.length > MAX_NAME || hasControlCharacter(name)) {
      throw invalid(`name must be 1 to ${MAX_NAME} printable characters`);
    }
    const description = input.description ?? current?.description ?? '';
    if (description.length > MAX_DESCRIPTION) {
      throw invalid(`description must be at most ${MAX_DESCRIPTION} characters`);
    }

    const src = input.sides ? input.sides.srcRegistryId : (current?.src_registry_id ?? null);
    const dest = input.sides ? input.sides.destRegistryId : (current?.dest_registry_id ?? null);
    const remote = src ?? dest;
    if (remote === null || (src !== null && dest !== null)) {
      throw invalid(
        'exactly one of src_registry (pull from a remote registry) and dest_registry (push to a remote registry) must be set; the other side is this registry',
      );
    }
    await this.requireEndpoint(principal, remote);

    const destNamespace = input.destNamespace ?? current?.dest_namespace ?? '';
    const replaceCount = input.destNamespaceReplaceCount ?? current?.dest_namespace_replace_count ?? -1;
    checkDestinationNames(destNamespace, replaceCount);

    const filters = input.filters ?? (current ? toPolicy(current).filters : []);
    if (input.filters !== undefined) checkFilters(input.filters);

    const trigger =
      input.trigger === undefined
        ? { type: current?.trigger_type ?? 'manual', cron: current?.trigger_cron ?? '' }
        : checkedTrigger(input.trigger);
    if (trigger.type === 'event_based' && src !== null) {
      throw invalid(
        'an event_based trigger needs a push policy (dest_registry): a remote source sends no events; use a scheduled trigger to pull',
      );
    }

    const speed = input.speed ?? current?.speed ?? 0;
    checkSpeed(speed);

    return {
      name,
      description,
      src_registry_id: src,
      dest_registry_id: dest,
      dest_namespace: destNamespace,
      dest_namespace_replace_count: replaceCount,
      filters,
      trigger_type: trigger.type,
      trigger_cron: trigger.cron,
      replicate_deletion: input.replicateDeletion ?? current?.replicate_deletion ?? false,
      // Harbor's portal defaults: a new policy is enabled and overrides the destination's tags.
      override: input.override ?? current?.override ?? true,
      // Harbor stores any negative speed as 0 (unlimited).
      speed: Math.max(speed, 0),
      enabled: input.enabled ?? current?.enabled ?? true,
      copy_by_chunk: input.copyByChunk ?? current?.copy_by_chunk ?? false,
    };
  }

  private async requireEndpoint(principal: Principal, id: number): Promise<void> {
    if (!Number.isSafeInteger(id) || id < 0) throw invalid('a registry id must be a positive integer');
    try {
      await this.endpoints.get(principal, id);
    } catch (err) {
      if (err instanceof ServiceError && err.kind === 'not-found') throw invalid(`registry ${id} not found`);
      throw err;
    }
  }
}

/** The fields a write changed, for the audit log; the sides by name (changesOf writes objects as "changed"). */
function auditedChanges({ sides, ...rest }: PolicyChanges): ReturnType<typeof changesOf> {
  return changesOf({ ...rest, ...sides });
}

function toPolicy(row: ReplicationPolicyRow): ReplicationPolicy {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    creator: row.creator,
    srcRegistryId: row.src_registry_id,
    destRegistryId: row.dest_registry_id,
    destNamespace: row.dest_namespace,
    destNamespaceReplaceCount: row.dest_namespace_replace_count,
    // Written by this service only: typed at the API's edge, then checked (checkFilters).
    filters: Array.isArray(row.filters) ? (row.filters as PolicyFilter[]) : [],
    trigger: { type: row.trigger_type, cron: row.trigger_cron },
    replicateDeletion: row.replicate_deletion,
    override: row.override,
    speed: row.speed,
    enabled: row.enabled,
    copyByChunk: row.copy_by_chunk,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function notFound(id: number): ServiceError {
  return new ServiceError('not-found', `replication policy ${id} not found`);
}

function isForeignKeyViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === '23503';
}
