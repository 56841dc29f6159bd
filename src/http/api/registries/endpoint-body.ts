import { z } from 'zod';
import { REMOTE_REGISTRY_TYPES } from '../../../remote/index.js';
import {
  CREDENTIAL_TYPES,
  type CredentialChange,
  type EndpointChanges,
  type NewEndpoint,
  type PingTarget,
} from '../../../services/registry-endpoint-service.js';
import { jsonBody, optionalBoolean, optionalString, requiredString } from '../schemas.js';

// Bodies of /registries (Harbor's Registry, RegistryUpdate and RegistryPing) checked for shape
// and types, and mapped to the endpoint service's domain input. The service keeps the rules:
// name length, URL form and outbound policy, CA bundles, where a stored credential may go.

const typeList = REMOTE_REGISTRY_TYPES.join(', ');

function registryTypeError(issue: { input: unknown }): string {
  if (issue.input === undefined || issue.input === null || issue.input === '') return 'type is required';
  return typeof issue.input === 'string'
    ? `unknown registry type ${JSON.stringify(issue.input.slice(0, 50))}: one of ${typeList}`
    : 'type must be a string';
}

/** Harbor's registry type, which a new endpoint must name. */
const requiredRegistryType = z.enum(REMOTE_REGISTRY_TYPES, { error: registryTypeError });

/** The type in an update; empty, null or left out: unchanged. */
const optionalRegistryType = z
  .union([z.enum(REMOTE_REGISTRY_TYPES), z.literal('')], { error: registryTypeError })
  .nullish()
  .transform((v) => v || undefined);

/** basic or oauth; empty, null or left out: the stored type (or basic). */
function credentialType(field: string) {
  return z
    .union([z.enum(CREDENTIAL_TYPES), z.literal('')], {
      error: (issue) =>
        typeof issue.input === 'string'
          ? `unknown credential type ${JSON.stringify(issue.input.slice(0, 50))}: basic or oauth`
          : `${field} must be a string`,
    })
    .nullish()
    .transform((v) => v || undefined);
}

/** `credential: {type, access_key, access_secret}` (Registry) or null (anonymous). */
const nestedCredential = z
  .object(
    {
      type: credentialType('credential.type'),
      access_key: optionalString('credential.access_key'),
      access_secret: optionalString('credential.access_secret'),
    },
    { error: 'credential must be a JSON object or null' },
  )
  .nullish();

/**
 * Registry, RegistryUpdate and RegistryPing share their fields: the latter two carry the
 * credential flat (credential_type, access_key, access_secret), the first nested.
 */
const endpointFields = {
  name: optionalString('name'),
  url: optionalString('url'),
  type: optionalRegistryType,
  description: optionalString('description'),
  credential: nestedCredential,
  credential_type: credentialType('credential_type'),
  access_key: optionalString('access_key'),
  access_secret: optionalString('access_secret'),
  insecure: optionalBoolean('insecure'),
  ca_certificate: z.string({ error: 'ca_certificate must be a PEM string' }).nullish(),
};

/** PUT /registries/{id}: every field may be left out. */
export const endpointChangesBody = jsonBody(endpointFields);

/** POST /registries: name, url and type are required. */
export const newEndpointBody = jsonBody({
  ...endpointFields,
  name: requiredString('name'),
  url: requiredString('url'),
  type: requiredRegistryType,
});

const storedId = z
  .number({ error: 'id must be a positive integer' })
  .int('id must be a positive integer')
  .min(1, 'id must be a positive integer')
  .max(Number.MAX_SAFE_INTEGER, 'id must be a positive integer')
  .nullish();

type ChangesBody = z.output<typeof endpointChangesBody>;

/** Harbor's credential, flat (credential_type, access_key, access_secret) or nested; null: anonymous. */
function credentialOf(body: ChangesBody): CredentialChange | null | undefined {
  if (body.credential_type !== undefined || body.access_key !== undefined || body.access_secret !== undefined)
    return { type: body.credential_type, accessKey: body.access_key, accessSecret: body.access_secret };
  if (body.credential === undefined || body.credential === null) return body.credential;
  const { type, access_key: accessKey, access_secret: accessSecret } = body.credential;
  return { type, accessKey, accessSecret };
}

export function endpointChanges(body: ChangesBody): EndpointChanges {
  return {
    name: body.name,
    url: body.url,
    type: body.type,
    description: body.description,
    credential: credentialOf(body),
    insecure: body.insecure,
    // '' as Harbor's form sends a cleared field: no CA bundle.
    caCertificate: body.ca_certificate === undefined ? undefined : body.ca_certificate || null,
  };
}

export function newEndpoint(body: z.output<typeof newEndpointBody>): NewEndpoint {
  return { ...endpointChanges(body), name: body.name, url: body.url, type: body.type };
}

/** POST /registries/ping: `id` of a stored endpoint (fields given override it), else url and type. */
export const pingBody = jsonBody({ ...endpointFields, id: storedId }).transform((body, ctx): PingTarget => {
  const changes = endpointChanges(body);
  if (typeof body.id === 'number') return { kind: 'stored', id: body.id, changes };
  const { url, type } = changes;
  if (!url)
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'url (or the id of a registry) is required' });
  if (!type) ctx.addIssue({ code: 'custom', path: ['type'], message: 'type is required' });
  if (!url || !type) return z.NEVER;
  return { kind: 'described', endpoint: { ...changes, url, type } };
});
