import { z } from 'zod';
import { jsonBody } from '../schemas.js';

// Harbor's RetentionPolicy body (swagger: RetentionPolicy, RetentionRule, RetentionSelector,
// RetentionRuleTrigger, RetentionPolicyScope). The shape is checked here (a 400 naming the field);
// what the values mean (templates, decorations, patterns, cron) the retention service checks.
// Absent or null optional fields read as Harbor's defaults.

const text = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .nullish()
    .transform((v) => v ?? '');

const selector = z.object(
  {
    kind: text('kind'),
    decoration: text('decoration'),
    pattern: text('pattern'),
    extras: z
      .string({ error: 'extras must be a string' })
      .nullish()
      .transform((v) => v ?? undefined),
  },
  { error: 'a selector must be a JSON object' },
);

const integer = (field: string) =>
  z
    .number({ error: `${field} must be an integer` })
    .int(`${field} must be an integer`)
    .nullish()
    .transform((v) => v ?? 0);

const rule = z.object(
  {
    id: integer('id'),
    priority: integer('priority'),
    disabled: z
      .boolean({ error: 'disabled must be true or false' })
      .nullish()
      .transform((v) => v ?? false),
    action: text('action').transform((v) => (v === '' ? 'retain' : v)),
    template: text('template'),
    params: z
      .record(z.string(), z.unknown(), { error: 'params must be a JSON object' })
      .nullish()
      .transform((v) => v ?? {}),
    tag_selectors: z
      .array(selector, { error: 'tag_selectors must be an array' })
      .nullish()
      .transform((v) => v ?? []),
    scope_selectors: z
      .record(z.string(), z.array(selector, { error: 'scope_selectors values must be arrays' }), {
        error: 'scope_selectors must be a JSON object',
      })
      .nullish()
      .transform((v) => v ?? {}),
  },
  { error: 'a rule must be a JSON object' },
);

export const retentionPolicyBody = jsonBody({
  algorithm: text('algorithm').transform((v) => (v === '' ? 'or' : v)),
  rules: z
    .array(rule, { error: 'rules must be an array' })
    .nullish()
    .transform((v) => v ?? []),
  trigger: z.object(
    {
      kind: text('trigger.kind'),
      settings: z
        .object({ cron: text('trigger.settings.cron') }, { error: 'trigger.settings must be a JSON object' })
        .nullish()
        .transform((v) => v ?? { cron: '' }),
      references: z
        .record(z.string(), z.unknown())
        .nullish()
        .transform((v) => v ?? undefined),
    },
    { error: 'trigger is required and must be a JSON object' },
  ),
  scope: z.object(
    {
      level: text('scope.level'),
      ref: z.number({ error: 'scope.ref must be a project id' }).int('scope.ref must be a project id'),
    },
    { error: 'scope is required and must be a JSON object' },
  ),
});

export const executionBody = jsonBody({
  dry_run: z
    .boolean({ error: 'dry_run must be true or false' })
    .nullish()
    .transform((v) => v ?? false),
});

export const operationBody = jsonBody({ action: text('action') });

/** Ids in these paths: one that is not a number names nothing, a 404 rather than a 400. */
export const policyParams = z.object({ id: z.string() });
export const executionParams = policyParams.extend({ eid: z.string() });
export const taskParams = executionParams.extend({ tid: z.string() });

/** Harbor's /retentions/metadatas: the templates, scope and tag selectors its portal offers. */
export const RETENTION_METADATA = {
  templates: [
    {
      rule_template: 'latestPushedK',
      display_text: 'the most recently pushed # artifacts',
      action: 'retain',
      params: [{ type: 'int', unit: 'COUNT', required: true }],
    },
    {
      rule_template: 'latestPulledN',
      display_text: 'the most recently pulled # artifacts',
      action: 'retain',
      params: [{ type: 'int', unit: 'COUNT', required: true }],
    },
    {
      rule_template: 'nDaysSinceLastPush',
      display_text: 'pushed within the last # days',
      action: 'retain',
      params: [{ type: 'int', unit: 'DAYS', required: true }],
    },
    {
      rule_template: 'nDaysSinceLastPull',
      display_text: 'pulled within the last # days',
      action: 'retain',
      params: [{ type: 'int', unit: 'DAYS', required: true }],
    },
    { rule_template: 'always', display_text: 'always', action: 'retain', params: [] },
  ],
  scope_selectors: [
    { display_text: 'Repositories', kind: 'doublestar', decorations: ['repoMatches', 'repoExcludes'] },
  ],
  tag_selectors: [{ display_text: 'Tags', kind: 'doublestar', decorations: ['matches', 'excludes'] }],
};
