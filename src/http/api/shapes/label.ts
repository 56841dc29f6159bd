import type { LabelRow } from '../../../services/labels-service.js';

/** A label in Harbor's Label shape (in /labels and inside artifacts listed with_label). */
export function labelJson(l: LabelRow) {
  return {
    id: l.id,
    name: l.name,
    description: l.description,
    color: l.color,
    scope: l.scope,
    // Harbor's global labels carry project 0.
    project_id: l.project_id ?? 0,
    creation_time: l.creation_time.toISOString(),
    update_time: l.update_time.toISOString(),
    // Harbor's field from the days of soft deletion: a label that can be read is not deleted.
    deleted: false,
  };
}
