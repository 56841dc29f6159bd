import type {
  LastTrigger,
  WebhookExecution,
  WebhookOffer,
  WebhookTask,
} from '../../../services/webhooks/history-service.js';
import type { WebhookPolicyView } from '../../../services/webhooks/policy-service.js';

// Harbor's webhook shapes: WebhookPolicy, WebhookLastTrigger, and the 2.9+ Execution and Task of
// a webhook policy (vendor_type WEBHOOK, trigger EVENT).

const time = (d: Date | null) => (d ? d.toISOString() : null);

export function policyJson(p: WebhookPolicyView) {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    project_id: p.projectId,
    targets: p.targets.map((t) => ({
      type: t.type,
      address: t.address,
      auth_header: t.authHeader,
      skip_cert_verify: t.skipCertVerify,
      payload_format: t.payloadFormat,
    })),
    event_types: p.eventTypes,
    creator: p.creator,
    creation_time: time(p.creationTime),
    update_time: time(p.updateTime),
    enabled: p.enabled,
  };
}

export function executionJson(e: WebhookExecution) {
  return {
    id: e.id,
    vendor_type: 'WEBHOOK',
    vendor_id: e.policy_id,
    status: e.status,
    status_message: e.status_message,
    metrics: {
      task_count: e.task_count,
      success_task_count: e.success_count,
      error_task_count: e.error_count,
      pending_task_count: e.pending_count,
      running_task_count: e.running_count,
      scheduled_task_count: 0,
      stopped_task_count: e.stopped_count,
    },
    trigger: 'EVENT',
    extra_attrs: { event_type: e.event_type, event_id: e.event_id },
    start_time: time(e.start_time),
    end_time: time(e.end_time),
  };
}

export function taskJson(t: WebhookTask) {
  return {
    id: t.id,
    execution_id: t.execution_id,
    status: t.status,
    status_message: t.status_message,
    run_count: t.run_count,
    extra_attrs: { target_index: t.target_index },
    creation_time: time(t.creation_time),
    start_time: time(t.start_time),
    update_time: time(t.update_time),
    end_time: time(t.end_time),
  };
}

export function lastTriggerJson(t: LastTrigger) {
  return {
    policy_name: t.policyName,
    event_type: t.eventTypes.join(','),
    enabled: t.enabled,
    creation_time: time(t.creationTime),
    last_trigger_time: time(t.lastTriggerTime),
  };
}

/** Harbor's SupportedWebhookEventTypes (/webhook/events). */
export function supportedJson(offer: WebhookOffer) {
  return {
    event_type: offer.eventTypes,
    notify_type: offer.notifyTypes.map((n) => n.type),
    payload_formats: offer.notifyTypes.map((n) => ({ notify_type: n.type, formats: n.payloadFormats })),
  };
}
