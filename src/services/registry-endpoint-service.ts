import type { SystemResource } from '../domain/rbac.js';
import type { Database } from '../metadata/database.js';
import { isUniqueViolation } from '../metadata/database.js';
import {
  deleteRegistryRow,
  findRegistryById,
  insertRegistry,
  listRegistries,
  setRegistryStatus,
  updateRegistry,
  type RegistryFields,
  type RegistryListFilter,
  type RegistryRow,
} from '../metadata/registries-table.js';
import {
  normaliseUrl,
  REMOTE_REGISTRY_TYPES,
  RemoteError,
  RemoteRegistry,
  type RemoteCredential,
  type RemoteRegistryConfig,
  type RemoteRegistryType,
} from '../remote/index.js';
import { DEFAULT_OUTBOUND_GUARD, type OutboundGuard } from '../net/outbound-guard.js';
import { trustedRealmHosts } from '../net/token-realms.js';
import { recordEvent } from '../metadata/outbox-table.js';
import { adminEvent, changesOf } from './audit/admin-events.js';
import { type Principal, refusalFor } from './principal.js';
import type { SecretBox } from './secret-box.js';
import { ServiceError } from './service-error.js';
import { capabilitiesOf, type EndpointCapabilities } from './registry-endpoint-capabilities.js';
import {
  checkCaBundle,
  endpointInUse,
  hasControlCharacter,
  pingFailure,
  sameDestination,
} from './registry-endpoint-checks.js';

// Registry endpoints (Harbor's /registries): the peers replication talks to. System administrators
// only. The credential's secret is sealed at rest and never leaves this service except as the
// client configuration replication asks for (remoteConfig / client). A stored credential is bound
// to the endpoint's origin: moving an endpoint (or pinging it) elsewhere needs the secret again,
// so that an administrator who never saw a peer's secret cannot have it sent to a host of theirs.

/** Additional data of sealed secrets: a sealed value of another column will not open here. */
const SECRET_CONTEXT = 'registries.access_secret';
/** What Harbor shows instead of a stored secret; sent back unchanged, it means "keep it". */
export const MASKED_SECRET = '*****';
const MAX_NAME = 64;
const MAX_DESCRIPTION = 1024;
const RESOURCE: SystemResource = 'registry';

export type CredentialType = RemoteCredential['type'];
export const CREDENTIAL_TYPES = ['basic', 'oauth'] as const satisfies readonly CredentialType[];

/** A credential as given; what is left out keeps its stored value. */
export interface CredentialChange {
  type?: CredentialType;
  accessKey?: string;
  /** Left out or MASKED_SECRET (what reads show): keep the stored secret. '' with an empty key: anonymous. */
  accessSecret?: string;
}

/** What an update may change; a field left out keeps its value. */
export interface EndpointChanges {
  name?: string;
  url?: string;
  type?: RemoteRegistryType;
  description?: string;
  /** null: anonymous. */
  credential?: CredentialChange | null;
  insecure?: boolean;
  /** PEM bundle of the CAs trusted for the peer (Wharf extension); null removes it. */
  caCertificate?: string | null;
}

/** A new endpoint: name, URL and type are required. */
export interface NewEndpoint extends EndpointChanges {
  name: string;
  url: string;
  type: RemoteRegistryType;
}

/** What a ping checks: a stored endpoint (with changes not saved yet) or one described in full. */
export type PingTarget =
  | { kind: 'stored'; id: number; changes: EndpointChanges }
  | { kind: 'described'; endpoint: Omit<NewEndpoint, 'name'> };

/** An endpoint as the API shows it: the secret is only said to exist. */
export interface RegistryEndpoint {
  id: number;
  name: string;
  url: string;
  type: RemoteRegistryType;
  description: string;
  credential: { type: 'basic' | 'oauth'; accessKey: string; hasSecret: boolean } | null;
  insecure: boolean;
  caCertificate: string | null;
  status: RegistryRow['status'];
  createdAt: Date;
  updatedAt: Date;
}

/** Policies (the replication module) say which of them use an endpoint; delete refuses then. */
export type EndpointUsageCheck = (registryId: number) => Promise<string[]>;

export interface EndpointServiceOptions {
  /** Bound of a ping (and of the check made when an endpoint is saved). */
  checkTimeoutMs?: number;
  /** Where connections to peers may go (outbound.deny_networks / allow_networks). */
  outbound?: OutboundGuard;
  /** Per endpoint host, other hosts whose token realm may receive its credential (outbound.token_realms). */
  tokenRealms?: Readonly<Record<string, readonly string[]>>;
  /** Who may name an endpoint (the replication policies): delete refuses one in use (412). */
  usageChecks?: readonly EndpointUsageCheck[];
}

export class RegistryEndpointService {
  readonly #usageChecks: readonly EndpointUsageCheck[];
  readonly #checkTimeoutMs: number;
  readonly #outbound: OutboundGuard;
  readonly #tokenRealms: Readonly<Record<string, readonly string[]>>;

  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    options: EndpointServiceOptions = {},
  ) {
    this.#checkTimeoutMs = options.checkTimeoutMs ?? 10_000;
    this.#outbound = options.outbound ?? DEFAULT_OUTBOUND_GUARD;
    this.#tokenRealms = options.tokenRealms ?? {};
    this.#usageChecks = options.usageChecks ?? [];
  }

  adapters(principal: Principal): RemoteRegistryType[] {
    this.requireAdmin(principal);
    return [...REMOTE_REGISTRY_TYPES];
  }

  async list(
    principal: Principal,
    filter: RegistryListFilter,
    offset: number,
    limit: number,
  ): Promise<{ items: RegistryEndpoint[]; total: number }> {
    this.requireAdmin(principal);
    const { items, total } = await listRegistries(this.db, filter, offset, limit);
    return { items: items.map(view), total };
  }

  async get(principal: Principal, id: number): Promise<RegistryEndpoint> {
    this.requireAdmin(principal);
    return view(await this.row(id));
  }

  async create(principal: Principal, input: NewEndpoint): Promise<RegistryEndpoint> {
    this.requireAdmin(principal);
    const fields = this.fields(input, null);
    // Saved whatever the peer's state: a branch site that is down today is still where its
    // replication must go once it is back. The check only records the status the list shows.
    const status = await this.check(fields);
    const row = await this.db.transaction(async (tx) => {
      const created = await insertRegistry(tx, { ...fields, status });
      if (created) {
        const event = { name: created.name, id: Number(created.id), changes: changesOf(input) };
        await recordEvent(tx, adminEvent('registry_endpoint.created', principal, null, event));
      }
      return created;
    });
    if (!row) throw new ServiceError('conflict', `a registry named "${fields.name}" already exists`);
    return view(row);
  }

  async update(principal: Principal, id: number, input: EndpointChanges): Promise<RegistryEndpoint> {
    this.requireAdmin(principal);
    const current = await this.row(id);
    if (input.type !== undefined && input.type !== current.type) {
      throw new ServiceError('invalid', 'the type of a registry cannot be changed; create another one');
    }
    const fields = this.fields(input, current);
    const status = await this.check(fields);
    try {
      const row = await this.db.transaction(async (tx) => {
        const updated = await updateRegistry(tx, id, { ...fields, status });
        if (updated) {
          const event = { name: updated.name, id, changes: changesOf(input) };
          await recordEvent(tx, adminEvent('registry_endpoint.updated', principal, null, event));
        }
        return updated;
      });
      if (!row) throw new ServiceError('not-found', `registry ${id} not found`);
      return view(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ServiceError('conflict', `a registry named "${fields.name}" already exists`);
      throw err;
    }
  }

  async delete(principal: Principal, id: number): Promise<void> {
    this.requireAdmin(principal);
    const current = await this.row(id);
    const users = (await Promise.all(this.#usageChecks.map((check) => check(id)))).flat();
    if (users.length > 0) throw endpointInUse(users);
    try {
      const deleted = await this.db.transaction(async (tx) => {
        if (!(await deleteRegistryRow(tx, id))) return false;
        const event = { name: current.name, id };
        await recordEvent(tx, adminEvent('registry_endpoint.deleted', principal, null, event));
        return true;
      });
      if (!deleted) throw new ServiceError('not-found', `registry ${id} not found`);
    } catch (err) {
      // A policy row that references the endpoint by foreign key, created after the check above.
      if (isForeignKeyViolation(err)) throw endpointInUse([]);
      throw err;
    }
  }

  /**
   * Harbor's /registries/ping: a stored endpoint (optionally with changed fields) or one
   * described in full. Throws ServiceError('invalid') saying why the peer failed the check.
   */
  async ping(principal: Principal, target: PingTarget): Promise<void> {
    this.requireAdmin(principal);
    let fields: RegistryFields;
    let storedId: number | undefined;
    if (target.kind === 'stored') {
      const current = await this.row(target.id);
      fields = this.fields({ ...target.changes, name: current.name }, current);
      storedId = current.id;
    } else {
      fields = this.fields({ ...target.endpoint, name: 'ping' }, null);
    }
    const client = new RemoteRegistry(this.configOf(fields));
    try {
      await client.ping(AbortSignal.timeout(this.#checkTimeoutMs));
      if (storedId !== undefined) await setRegistryStatus(this.db, storedId, 'healthy');
    } catch (err) {
      if (storedId !== undefined) await setRegistryStatus(this.db, storedId, 'unhealthy');
      throw new ServiceError('invalid', pingFailure(err, this.#checkTimeoutMs));
    } finally {
      await client.close();
    }
  }

  async capabilities(principal: Principal, id: number): Promise<EndpointCapabilities> {
    this.requireAdmin(principal);
    return capabilitiesOf((await this.row(id)).type);
  }

  // --- for replication (no principal: the policy module decided already) ---

  /** The client configuration of an endpoint, credential decrypted. */
  async remoteConfig(id: number): Promise<RemoteRegistryConfig> {
    return this.configOf(await this.row(id));
  }

  /** A client for an endpoint; the caller closes it. */
  async client(id: number): Promise<RemoteRegistry> {
    return new RemoteRegistry(await this.remoteConfig(id));
  }

  /** Replication reports what it saw of a peer, so the list shows it without a ping. */
  async recordHealth(id: number, healthy: boolean): Promise<void> {
    await setRegistryStatus(this.db, id, healthy ? 'healthy' : 'unhealthy');
  }

  // --- internals ---

  /** Sysadmins only: 401 for anonymous callers, 403 for others (checked before the body is read). */
  requireAdmin(principal: Principal): void {
    if (principal.kind === 'user' && principal.sysadmin) return;
    throw new ServiceError(
      refusalFor(principal),
      `only system administrators may manage ${RESOURCE} endpoints`,
    );
  }

  private async row(id: number): Promise<RegistryRow> {
    const row = await findRegistryById(this.db, id);
    if (!row) throw new ServiceError('not-found', `registry ${id} not found`);
    return row;
  }

  /** Validates input over the current row (null: a new endpoint) into the stored fields. */
  private fields(input: EndpointChanges, current: RegistryRow | null): RegistryFields {
    const name = (input.name ?? current?.name ?? '').trim();
    if (name === '' || name.length > MAX_NAME || hasControlCharacter(name)) {
      throw new ServiceError('invalid', `name must be 1 to ${MAX_NAME} printable characters`);
    }
    const type = input.type ?? current?.type;
    if (type === undefined) throw new ServiceError('invalid', 'type is required');
    let url: string;
    try {
      url = normaliseUrl(input.url ?? current?.url ?? '');
    } catch (err) {
      throw new ServiceError('invalid', err instanceof RemoteError ? err.message : 'invalid url');
    }
    const description = input.description ?? current?.description ?? '';
    if (description.length > MAX_DESCRIPTION) {
      throw new ServiceError('invalid', `description must be at most ${MAX_DESCRIPTION} characters`);
    }
    const ca = input.caCertificate === undefined ? (current?.ca_certificate ?? null) : input.caCertificate;
    if (ca !== null) checkCaBundle(ca);
    const credential = this.credentialFields(input.credential, current);
    // The stored secret (the very sealed value, not one given again) stays with its origin.
    const keptSecret =
      current !== null &&
      credential.access_secret_sealed !== null &&
      credential.access_secret_sealed === current.access_secret_sealed;
    if (keptSecret && !sameDestination(current.url, url)) {
      throw new ServiceError(
        'invalid',
        `the stored credential of registry "${current.name}" is sent to ${new URL(current.url).origin} only; ` +
          `give access_secret again to use a credential with ${new URL(url).origin}`,
      );
    }
    const insecure = input.insecure ?? current?.insecure ?? false;
    // Weaker or other certificate checks could hand the secret to whoever answers for the origin.
    if (keptSecret && ((insecure && !current.insecure) || ca !== current.ca_certificate)) {
      throw new ServiceError(
        'invalid',
        `give access_secret again to change how registry "${current.name}" is verified (insecure, ca_certificate)`,
      );
    }
    return {
      name,
      url,
      type,
      description,
      insecure,
      ca_certificate: ca,
      ...credential,
    };
  }

  private credentialFields(
    input: CredentialChange | null | undefined,
    current: RegistryRow | null,
  ): Pick<RegistryFields, 'credential_type' | 'access_key' | 'access_secret_sealed'> {
    const kept = {
      credential_type: current?.credential_type ?? null,
      access_key: current?.access_key ?? null,
      access_secret_sealed: current?.access_secret_sealed ?? null,
    };
    if (input === undefined) return kept;
    const none = { credential_type: null, access_key: null, access_secret_sealed: null };
    if (input === null) return none;
    const type = input.type ?? kept.credential_type ?? 'basic';
    const key = input.accessKey ?? kept.access_key ?? '';
    const secret = input.accessSecret === MASKED_SECRET ? undefined : input.accessSecret;
    // Empty key and secret: anonymous, as Harbor's form sends it when the fields are cleared.
    if (key === '' && (secret === '' || (secret === undefined && !kept.access_secret_sealed))) return none;
    const sealed =
      secret === undefined
        ? kept.access_secret_sealed
        : secret
          ? this.box.seal(secret, SECRET_CONTEXT)
          : null;
    if (type === 'basic' && (key === '' || sealed === null)) {
      throw new ServiceError('invalid', 'a basic credential needs access_key and access_secret');
    }
    if (type === 'oauth' && sealed === null)
      throw new ServiceError('invalid', 'an oauth credential needs access_secret');
    return { credential_type: type, access_key: key, access_secret_sealed: sealed };
  }

  private configOf(fields: RegistryFields): RemoteRegistryConfig {
    let credential: RemoteCredential | null = null;
    if (fields.credential_type && fields.access_secret_sealed) {
      credential = {
        type: fields.credential_type,
        accessKey: fields.access_key ?? '',
        accessSecret: this.box.open(fields.access_secret_sealed, SECRET_CONTEXT),
      };
    }
    return {
      url: fields.url,
      type: fields.type,
      credential,
      insecure: fields.insecure,
      caCertificate: fields.ca_certificate,
      outbound: this.#outbound,
      trustedRealmHosts: trustedRealmHosts(this.#tokenRealms, new URL(fields.url).host),
    };
  }

  /** The health an endpoint is saved with: one bounded ping. */
  private async check(fields: RegistryFields): Promise<RegistryRow['status']> {
    const client = new RemoteRegistry(this.configOf(fields));
    try {
      await client.ping(AbortSignal.timeout(this.#checkTimeoutMs));
      return 'healthy';
    } catch {
      return 'unhealthy';
    } finally {
      await client.close();
    }
  }
}

function isForeignKeyViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === '23503';
}

function view(row: RegistryRow): RegistryEndpoint {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    type: row.type,
    description: row.description,
    credential: row.credential_type
      ? {
          type: row.credential_type,
          accessKey: row.access_key ?? '',
          hasSecret: row.access_secret_sealed !== null,
        }
      : null,
    insecure: row.insecure,
    caCertificate: row.ca_certificate,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
