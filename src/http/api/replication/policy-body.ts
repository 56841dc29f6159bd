import { z } from 'zod';
import {
  DECORATIONS,
  FILTER_TYPES,
  RESOURCE_FILTER_VALUES,
  type PolicyFilter,
} from '../../../domain/replication-filters.js';
import {
  TRIGGER_TYPES,
  type NewPolicy,
  type PolicyChanges,
  type PolicySides,
  type PolicyTrigger,
} from '../../../services/replication-policy-service.js';
import { jsonBody, optionalBoolean, optionalInteger, optionalString, requiredString } from '../schemas.js';

// The body of POST and PUT /replication/policies (Harbor's ReplicationPolicy, ReplicationFilter,
// ReplicationTrigger) checked for shape and types, and mapped to the policy service's domain
// input. The service keeps the rules: which side is remote, that the endpoint exists, names,
// patterns and crons that parse, which trigger suits which direction.
// As in Harbor, this registry is "registry 0": a side given as null, as {id: 0} or left out.
// `deletion` is Harbor's deprecated name of `replicate_deletion` (the current one wins).

const quoted = (input: unknown) => JSON.stringify(input)?.slice(0, 100) ?? String(input);

/** `src_registry` / `dest_registry`: a Registry object (only its id counts) or null; 0 is this registry. */
function registryRef(field: string) {
  const badId = `${field}.id must be a registry id (0 for this registry)`;
  return z
    .object(
      {
        id: z.number({ error: badId }).int(badId).min(0, badId).max(Number.MAX_SAFE_INTEGER, badId).nullish(),
      },
      { error: `${field} must be a registry object ({"id": …}) or null` },
    )
    .nullish();
}

/** matches or excludes; empty, null or left out: none (matches). */
const decoration = z
  .union([z.enum(DECORATIONS), z.literal('')], {
    error: (issue) => `invalid filter decoration ${quoted(issue.input)}: one of ${DECORATIONS.join(', ')}`,
  })
  .nullish()
  .transform((v) => v || undefined);

/** A name or tag filter: a pattern (null or left out: empty, which filters nothing). */
function patternFilter<T extends 'name' | 'tag'>(type: T) {
  const message = `the value of a ${type} filter must be a string`;
  return z.object({
    type: z.literal(type),
    value: z
      .string({ error: message })
      .nullish()
      .transform((v) => v ?? ''),
    decoration,
  });
}

const labelsMessage = 'the value of a label filter must be a list of label names';
const labelFilter = z.object({
  type: z.literal('label'),
  value: z
    .array(z.string({ error: labelsMessage }), { error: labelsMessage })
    .nullish()
    .transform((v) => v ?? []),
  decoration,
});

const resourceFilter = z.object({
  type: z.literal('resource'),
  value: z.enum(RESOURCE_FILTER_VALUES, {
    error: (issue) =>
      `invalid resource filter ${quoted(issue.input)}: one of ${RESOURCE_FILTER_VALUES.join(', ')}`,
  }),
  decoration: z
    .union([z.literal(''), z.null()], { error: 'only name, tag and label filters take a decoration' })
    .optional()
    .transform(() => undefined),
});

/** Harbor's ReplicationFilter, told apart by its type. */
export const filterShape = z.discriminatedUnion(
  'type',
  [patternFilter('name'), patternFilter('tag'), labelFilter, resourceFilter],
  {
    error: (issue) => {
      const input = issue.input;
      if (typeof input !== 'object' || input === null || Array.isArray(input))
        return 'each filter must be an object {type, value, decoration}';
      const type = 'type' in input ? input.type : undefined;
      return `invalid filter type ${quoted(type)}: one of ${FILTER_TYPES.join(', ')}`;
    },
  },
);

/** Harbor's ReplicationTrigger {type, trigger_settings: {cron}}; null, or a type left out: manual. */
const triggerShape = z
  .object(
    {
      type: z
        .union([z.enum(TRIGGER_TYPES), z.literal('')], {
          error: (issue) => `invalid trigger type ${quoted(issue.input)}: one of ${TRIGGER_TYPES.join(', ')}`,
        })
        .nullish()
        .transform((v) => v || 'manual'),
      trigger_settings: z
        .object(
          { cron: optionalString('trigger_settings.cron') },
          { error: 'trigger.trigger_settings must be an object {cron}' },
        )
        .nullish(),
    },
    { error: 'trigger must be an object {type, trigger_settings: {cron}}' },
  )
  .nullish()
  .transform((t): PolicyTrigger | undefined =>
    t === undefined ? undefined : { type: t?.type ?? 'manual', cron: t?.trigger_settings?.cron ?? '' },
  );

const policyFields = {
  name: optionalString('name'),
  description: optionalString('description'),
  src_registry: registryRef('src_registry'),
  dest_registry: registryRef('dest_registry'),
  dest_namespace: optionalString('dest_namespace'),
  dest_namespace_replace_count: optionalInteger('dest_namespace_replace_count'),
  filters: z
    .array(filterShape, { error: 'filters must be a list' })
    .nullish()
    .transform((v): PolicyFilter[] | undefined => (v === null ? [] : v)),
  trigger: triggerShape,
  replicate_deletion: optionalBoolean('replicate_deletion'),
  deletion: optionalBoolean('deletion'),
  override: optionalBoolean('override'),
  speed: optionalInteger('speed'),
  enabled: optionalBoolean('enabled'),
  copy_by_chunk: optionalBoolean('copy_by_chunk'),
};

/** PUT /replication/policies/{id}: changes the fields the body carries, keeps the others. */
export const policyChangesBody = jsonBody(policyFields);

/** POST /replication/policies: a name is required. */
export const newPolicyBody = jsonBody({ ...policyFields, name: requiredString('name') });

/** A side: null (this registry) for null, {id: 0}, {id: null} or {}; else the endpoint's id. */
function sideId(ref: { id?: number | null | undefined } | null | undefined): number | null {
  return ref?.id ? ref.id : null;
}

/** The sides change together when the body names either (the other is then this registry). */
function sidesOf(body: z.output<typeof policyChangesBody>): PolicySides | undefined {
  if (body.src_registry === undefined && body.dest_registry === undefined) return undefined;
  return { srcRegistryId: sideId(body.src_registry), destRegistryId: sideId(body.dest_registry) };
}

export function policyChanges(body: z.output<typeof policyChangesBody>): PolicyChanges {
  return {
    name: body.name,
    description: body.description,
    sides: sidesOf(body),
    destNamespace: body.dest_namespace,
    destNamespaceReplaceCount: body.dest_namespace_replace_count,
    filters: body.filters,
    trigger: body.trigger,
    replicateDeletion: body.replicate_deletion ?? body.deletion,
    override: body.override,
    speed: body.speed,
    enabled: body.enabled,
    copyByChunk: body.copy_by_chunk,
  };
}

export function newPolicy(body: z.output<typeof newPolicyBody>): NewPolicy {
  return { ...policyChanges(body), name: body.name };
}
