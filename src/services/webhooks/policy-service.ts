import { randomBytes } from 'node:crypto';
import type { Database } from '../../metadata/database.js';
import { isUniqueViolation } from '../../metadata/database.js';
import { recordEvent } from '../../metadata/outbox-table.js';
import type { ProjectRow } from '../../metadata/projects-table.js';
import {
  deleteWebhookPolicy,
  findWebhookPolicy,
  insertWebhookPolicy,
  listWebhookPolicies,
  updateWebhookPolicy,
  type StoredTarget,
  type WebhookPolicyFilter,
  type WebhookPolicyRow,
} from '../../metadata/webhook-policies-table.js';
import { DEFAULT_OUTBOUND_GUARD, type OutboundGuard } from '../../net/outbound-guard.js';
import { eventActor, type Principal } from '../principal.js';
import { adminEvent } from '../audit/admin-events.js';
import type { ProjectService } from '../project-service.js';
import type { SecretBox } from '../secret-box.js';
import { ServiceError } from '../service-error.js';
import {
  validatePolicy,
  type ValidPolicy,
  type WebhookPolicyInput,
  type WebhookTarget,
} from './policy-input.js';
import type { WebhookEventType } from './catalogue.js';

// Webhook policies of a project (Harbor's /projects/{p}/webhook/policies): who may do what is
// the role table's notification-policy resource. Each policy has a signing secret, generated on
// create and shown once; it and every target's auth_header are sealed at rest.

export const SECRET_CONTEXT = 'webhook_policies.secret';
export const AUTH_HEADER_CONTEXT = 'webhook_policies.auth_header';
/** What callers who may list but not read policies see instead of an auth_header. */
export const HIDDEN_AUTH_HEADER = '*****';

export interface WebhookPolicyView {
  id: number;
  projectId: number;
  name: string;
  description: string;
  enabled: boolean;
  eventTypes: WebhookEventType[];
  targets: WebhookTarget[];
  creator: string;
  creationTime: Date;
  updateTime: Date;
}

export type NotificationAction = 'create' | 'read' | 'update' | 'delete' | 'list';

export class WebhookPolicyService {
  constructor(
    private readonly db: Database,
    private readonly projects: ProjectService,
    private readonly box: SecretBox,
    private readonly guard: OutboundGuard = DEFAULT_OUTBOUND_GUARD,
  ) {}

  require(principal: Principal, project: ProjectRow, action: NotificationAction): Promise<void> {
    return this.projects.require(principal, project, 'notification-policy', action);
  }

  async list(
    principal: Principal,
    project: ProjectRow,
    filter: WebhookPolicyFilter,
    offset: number,
    limit: number,
  ): Promise<{ items: WebhookPolicyView[]; total: number }> {
    await this.require(principal, project, 'list');
    const { items, total } = await listWebhookPolicies(this.db, project.id, filter, offset, limit);
    // A maintainer lists policies but may not read them: receivers' credentials stay hidden.
    const reveal = await this.require(principal, project, 'read').then(
      () => true,
      (err: unknown) => {
        if (err instanceof ServiceError && err.kind === 'forbidden') return false;
        throw err;
      },
    );
    const views = items.map((r) => this.view(r));
    if (reveal) return { items: views, total };
    return {
      items: views.map((v) => ({
        ...v,
        targets: v.targets.map((t) => ({ ...t, authHeader: t.authHeader ? HIDDEN_AUTH_HEADER : '' })),
      })),
      total,
    };
  }

  async get(principal: Principal, project: ProjectRow, id: number): Promise<WebhookPolicyView> {
    await this.require(principal, project, 'read');
    return this.view(await this.row(project, id));
  }

  /** Creates a policy; the secret in the answer is never shown again. */
  async create(
    principal: Principal,
    project: ProjectRow,
    input: WebhookPolicyInput,
  ): Promise<{ policy: WebhookPolicyView; secret: string }> {
    await this.require(principal, project, 'create');
    const valid = await validatePolicy(input, this.guard);
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    const row = await this.unique(valid.name, () =>
      this.db.transaction(async (tx) => {
        const created = await insertWebhookPolicy(
          tx,
          project.id,
          this.fields(valid),
          this.box.seal(secret, SECRET_CONTEXT),
          eventActor(principal, null).name,
        );
        await recordEvent(
          tx,
          adminEvent('webhook_policy.created', principal, project.name, {
            name: created.name,
            id: created.id,
          }),
        );
        return created;
      }),
    );
    return { policy: this.view(row), secret };
  }

  async update(
    principal: Principal,
    project: ProjectRow,
    id: number,
    input: WebhookPolicyInput,
  ): Promise<void> {
    await this.require(principal, project, 'update');
    const current = this.view(await this.row(project, id));
    // Harbor's clients send the whole policy back; a field left out keeps its value.
    const valid = await validatePolicy(
      {
        name: input.name ?? current.name,
        description: input.description ?? current.description,
        enabled: input.enabled ?? current.enabled,
        eventTypes: input.eventTypes ?? current.eventTypes,
        targets: input.targets ?? current.targets,
      },
      this.guard,
    );
    await this.unique(valid.name, () =>
      this.db.transaction(async (tx) => {
        await updateWebhookPolicy(tx, id, this.fields(valid));
        const changes = { name: valid.name, enabled: valid.enabled, event_types: valid.eventTypes.join(',') };
        await recordEvent(
          tx,
          adminEvent('webhook_policy.updated', principal, project.name, { name: valid.name, id, changes }),
        );
      }),
    );
  }

  async delete(principal: Principal, project: ProjectRow, id: number): Promise<void> {
    await this.require(principal, project, 'delete');
    const row = await this.row(project, id);
    await this.db.transaction(async (tx) => {
      if (!(await deleteWebhookPolicy(tx, project.id, id))) return;
      await recordEvent(
        tx,
        adminEvent('webhook_policy.deleted', principal, project.name, { name: row.name, id: row.id }),
      );
    });
  }

  /** The policy row, or 404 (a policy of another project is as absent as a missing one). */
  async row(project: ProjectRow, id: number): Promise<WebhookPolicyRow> {
    const row = await findWebhookPolicy(this.db, project.id, id);
    if (!row)
      throw new ServiceError('not-found', `webhook policy ${id} not found in project ${project.name}`);
    return row;
  }

  view(row: WebhookPolicyRow): WebhookPolicyView {
    return {
      id: row.id,
      projectId: row.project_id,
      name: row.name,
      description: row.description,
      enabled: row.enabled,
      eventTypes: row.event_types as WebhookEventType[],
      targets: row.targets.map((t) => this.openTarget(t)),
      creator: row.creator,
      creationTime: row.creation_time,
      updateTime: row.update_time,
    };
  }

  /** A target with its auth_header in clear, for delivery and for the policy's readers. */
  openTarget(t: StoredTarget): WebhookTarget {
    return {
      type: t.type as WebhookTarget['type'],
      address: t.address,
      authHeader: t.auth_header_sealed ? this.box.open(t.auth_header_sealed, AUTH_HEADER_CONTEXT) : '',
      skipCertVerify: t.skip_cert_verify,
      payloadFormat: t.payload_format as WebhookTarget['payloadFormat'],
    };
  }

  openSecret(row: WebhookPolicyRow): string {
    return this.box.open(row.secret_sealed, SECRET_CONTEXT);
  }

  private fields(valid: ValidPolicy) {
    return {
      name: valid.name,
      description: valid.description,
      enabled: valid.enabled,
      eventTypes: valid.eventTypes,
      targets: valid.targets.map((t): StoredTarget => ({
        type: t.type,
        address: t.address,
        auth_header_sealed: t.authHeader ? this.box.seal(t.authHeader, AUTH_HEADER_CONTEXT) : '',
        skip_cert_verify: t.skipCertVerify,
        payload_format: t.payloadFormat,
      })),
    };
  }

  private async unique<T>(name: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ServiceError('conflict', `a webhook policy named ${name} exists already`);
      throw err;
    }
  }
}
