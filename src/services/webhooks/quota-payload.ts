import type { QuotaEventData, RecordedEvent } from '../../domain/events.js';

// The event_data of Harbor's QUOTA_EXCEED and QUOTA_WARNING webhooks: the repository written to,
// the manifest concerned (only when the write was a manifest PUT), and Harbor's words for what
// happened under custom_attributes.Details. Pure code.

export function quotaBlock(event: RecordedEvent, repositoryIsPublic: boolean): Record<string, unknown> {
  const d = event.data as QuotaEventData;
  const slash = d.repository.indexOf('/');
  const block: Record<string, unknown> = {
    repository: {
      name: d.repository.slice(slash + 1),
      namespace: d.repository.slice(0, slash),
      repo_full_name: d.repository,
      repo_type: repositoryIsPublic ? 'public' : 'private',
    },
    custom_attributes: { Details: d.message },
  };
  if (d.digest !== null || d.tag !== null) {
    block.resources = [{ digest: d.digest ?? '', tag: d.tag ?? '' }];
  }
  return block;
}

export function quotaSlackText(type: 'QUOTA_EXCEED' | 'QUOTA_WARNING', event: RecordedEvent): string {
  const d = event.data as QuotaEventData;
  return `*${type}* in ${d.repository}: ${d.message}`;
}
