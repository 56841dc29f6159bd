import type { ChangedFields, EventActor, EventDataByType, EventType, NewEvent } from '../../domain/events.js';
import { eventActor, type Principal } from '../principal.js';

// The event an administrative change records in the outbox, in its change's transaction (project,
// member, robot, user, session, replication policy, registry endpoint): typed by its event type,
// its actor named as the audit log shows it (a robot is a robot, `robot$...`), with the client
// address the HTTP edge stamped on the principal.

export function adminEvent<T extends EventType>(
  type: T,
  by: Principal | EventActor,
  projectName: string | null,
  data: EventDataByType[T],
): NewEvent<T> {
  const actor = 'clientIp' in by ? by : eventActor(by);
  return { type, actor, projectName, data };
}

/** Names a secret: never written to the audit log, not even its new value's shape. */
const SECRET_FIELD = /secret|password|credential|token|access_?key|auth/i;

/**
 * What an update asked to change, for the audit log: each given field with its new value when it
 * is a plain value, "changed" for a structured one, named as the API names it; secrets are left
 * out entirely.
 */
export function changesOf(input: object): ChangedFields {
  const out: ChangedFields = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || SECRET_FIELD.test(key)) continue;
    const plain = value === null || ['string', 'number', 'boolean'].includes(typeof value);
    // Services take camelCase; the log speaks the API's snake_case (destNamespace: dest_namespace).
    out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = plain
      ? (value as string | number | boolean | null)
      : 'changed';
  }
  return out;
}

/** A label change; the audit log files a project label under its project. */
export function labelEvent(
  type: 'label.created' | 'label.updated' | 'label.deleted',
  principal: Principal,
  label: { id: number; name: string; project_id: number | null },
  fields?: object,
): NewEvent {
  const data = {
    name: label.name,
    id: label.id,
    projectId: label.project_id,
    ...(fields && { changes: changesOf(fields) }),
  };
  return adminEvent(type, principal, null, data);
}

/** A label put on or taken off an artifact, filed under the artifact's project. */
export function artifactLabelEvent(
  type: 'artifact.label_attached' | 'artifact.label_detached',
  principal: Principal,
  at: { project: { name: string }; repository: { name: string }; artifact: { digest: string } },
  label: { id: number; name: string },
): NewEvent {
  const data = {
    repository: at.repository.name,
    digest: at.artifact.digest,
    label: label.name,
    labelId: label.id,
  };
  return adminEvent(type, principal, at.project.name, data);
}
