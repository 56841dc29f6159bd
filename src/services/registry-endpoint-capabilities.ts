import type { FilterType, ResourceFilterValue } from '../domain/replication-filters.js';
import type { TriggerType } from '../metadata/replication-policies-table.js';
import type { RemoteRegistryType } from '../remote/index.js';

// What replication policies can do with an endpoint of each type: a peer listed through Harbor's
// API shows artifact types and labels, which a plain OCI registry does not.

/** What policies with an endpoint of one type can use (the API shows it as Harbor's RegistryInfo). */
export interface EndpointCapabilities {
  type: RemoteRegistryType;
  description: string;
  /** Filter types a policy can use with this endpoint, in the order a form shows them. */
  filterTypes: FilterType[];
  /** The choices of a `resource` filter, when filterTypes holds one. */
  resourceValues: ResourceFilterValue[];
  triggers: TriggerType[];
}

/** What each endpoint type supports as a replication source or destination. */
export function capabilitiesOf(type: RemoteRegistryType): EndpointCapabilities {
  const harbor = type === 'harbor';
  return {
    type,
    description: harbor ? 'Harbor or Wharf, listed through /api/v2.0' : 'any OCI Distribution registry',
    // Labels and artifact types are only known of a peer that lists artifacts (Harbor's API).
    filterTypes: harbor ? ['name', 'tag', 'label', 'resource'] : ['name', 'tag'],
    resourceValues: harbor ? ['image', 'artifact'] : [],
    // event_based fires on local pushes and deletions: it applies to push policies to either type.
    triggers: ['manual', 'scheduled', 'event_based'],
  };
}
