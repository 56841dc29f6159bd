import type { OutboundGuard } from '../../net/outbound-guard.js';
import { ServiceError } from '../service-error.js';
import {
  FORMATS_BY_NOTIFY_TYPE,
  isWebhookEventType,
  NOTIFY_TYPES,
  type NotifyType,
  type PayloadFormat,
  type WebhookEventType,
} from './catalogue.js';
import { targetAddressProblem } from './target-check.js';

// The rules of a webhook policy as given to the API (Harbor's WebhookPolicy), checked once here:
// a name, at least one event type among those built, at least one target whose type, format and
// address are valid (an http(s) URL the outbound policy allows).

export interface WebhookTargetInput {
  type?: string | undefined;
  address?: string | undefined;
  authHeader?: string | undefined;
  skipCertVerify?: boolean | undefined;
  payloadFormat?: string | undefined;
}

export interface WebhookPolicyInput {
  name?: string | undefined;
  description?: string | undefined;
  enabled?: boolean | undefined;
  eventTypes?: readonly string[] | undefined;
  targets?: readonly WebhookTargetInput[] | undefined;
}

export interface WebhookTarget {
  type: NotifyType;
  address: string;
  authHeader: string;
  skipCertVerify: boolean;
  payloadFormat: PayloadFormat;
}

export interface ValidPolicy {
  name: string;
  description: string;
  enabled: boolean;
  eventTypes: WebhookEventType[];
  targets: WebhookTarget[];
}

const MAX_NAME = 256;
const MAX_DESCRIPTION = 1024;
const MAX_TARGETS = 10;
const MAX_AUTH_HEADER = 4096;

const invalid = (message: string) => new ServiceError('invalid', message);

function eventTypesOf(given: readonly string[] | undefined): WebhookEventType[] {
  if (!given || given.length === 0) throw invalid('event_types must name at least one event type');
  const unknown = given.filter((t) => !isWebhookEventType(t));
  if (unknown.length > 0) throw invalid(`unknown event type ${unknown.join(', ')}: see /webhook/events`);
  return [...new Set(given as WebhookEventType[])];
}

async function targetOf(t: WebhookTargetInput, guard: OutboundGuard): Promise<WebhookTarget> {
  const type = (t.type ?? 'http') as NotifyType;
  if (!NOTIFY_TYPES.includes(type)) throw invalid(`target type must be one of ${NOTIFY_TYPES.join(', ')}`);
  const format = (t.payloadFormat || 'Default') as PayloadFormat;
  if (!FORMATS_BY_NOTIFY_TYPE[type].includes(format)) {
    throw invalid(
      `payload_format of a ${type} target must be one of ${FORMATS_BY_NOTIFY_TYPE[type].join(', ')}`,
    );
  }
  const address = t.address?.trim() ?? '';
  if (address === '') throw invalid('target address is required');
  const problem = await targetAddressProblem(address, guard);
  if (problem) throw invalid(problem);
  const authHeader = t.authHeader ?? '';
  if (authHeader.length > MAX_AUTH_HEADER || /[\r\n]/.test(authHeader)) {
    throw invalid('auth_header must be one line of at most 4096 characters');
  }
  return { type, address, authHeader, skipCertVerify: t.skipCertVerify ?? false, payloadFormat: format };
}

export async function validatePolicy(input: WebhookPolicyInput, guard: OutboundGuard): Promise<ValidPolicy> {
  const name = input.name?.trim() ?? '';
  if (name === '') throw invalid('name is required');
  if (name.length > MAX_NAME) throw invalid(`name must be at most ${MAX_NAME} characters`);
  const description = input.description ?? '';
  if (description.length > MAX_DESCRIPTION)
    throw invalid(`description must be at most ${MAX_DESCRIPTION} characters`);
  const eventTypes = eventTypesOf(input.eventTypes);
  if (!input.targets || input.targets.length === 0) throw invalid('targets must hold at least one target');
  if (input.targets.length > MAX_TARGETS) throw invalid(`a policy has at most ${MAX_TARGETS} targets`);
  const targets: WebhookTarget[] = [];
  for (const t of input.targets) targets.push(await targetOf(t, guard));
  return { name, description, enabled: input.enabled ?? true, eventTypes, targets };
}
