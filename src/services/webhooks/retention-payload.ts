import type { RecordedEvent, RetentionFinishedData } from '../../domain/events.js';

// The event_data of TAG_RETENTION (Harbor's Retention model: total, retained, harbor_hostname,
// project_name, retention_policy_id, retention_rule, result, deleted_artifact), from a
// retention.finished event. Pure code.

/** Harbor reports the result upper case. */
const RESULT: Record<RetentionFinishedData['status'], string> = {
  Success: 'SUCCESS',
  Error: 'ERROR',
  Stopped: 'STOPPED',
};

function ruleJson(rule: unknown): Record<string, unknown> {
  const r = (rule ?? {}) as Record<string, unknown>;
  return {
    template: r.template,
    params: r.params,
    tag_selectors: r.tag_selectors,
    scope_selectors: r.scope_selectors,
  };
}

export function retentionBlock(event: RecordedEvent, registryHost: string): Record<string, unknown> {
  const d = event.data as RetentionFinishedData;
  const result = RESULT[d.status];
  const project = event.projectName ?? '';
  return {
    total: d.total,
    retained: d.retained,
    harbor_hostname: registryHost,
    project_name: project,
    retention_policy_id: d.policyId,
    retention_rule: d.rules.map(ruleJson),
    result,
    // One entry per removed artifact: its repository (within the project) and first tag, as Harbor.
    deleted_artifact: d.deleted.map((a) => {
      const name = a.repository.startsWith(`${project}/`)
        ? a.repository.slice(project.length + 1)
        : a.repository;
      return { type: 'image', status: result, name_tag: `${name}:${a.tags[0] ?? a.digest}` };
    }),
  };
}

export function retentionSlackText(event: RecordedEvent): string {
  const d = event.data as RetentionFinishedData;
  return `*TAG_RETENTION* of project ${event.projectName ?? ''} (policy ${d.policyId}, execution ${d.executionId}) ended: ${RESULT[d.status]}, ${d.retained} of ${d.total} retained, ${d.deleted.length} deleted`;
}
