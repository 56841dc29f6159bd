import type { EndpointCapabilities } from '../../../services/registry-endpoint-capabilities.js';
import { MASKED_SECRET, type RegistryEndpoint } from '../../../services/registry-endpoint-service.js';

// Harbor's Registry shape (/registries and both sides of a replication policy) and RegistryInfo.
// The secret of a credential is never sent back: `access_secret` shows "*****" when one is
// stored, as Harbor does.

/** An endpoint in Harbor's Registry shape (also inside replication policies). */
export function registryJson(r: RegistryEndpoint) {
  return {
    id: r.id,
    name: r.name,
    url: r.url,
    type: r.type,
    description: r.description,
    insecure: r.insecure,
    // Harbor always has a credential object; an anonymous endpoint has an empty one.
    credential: {
      type: r.credential?.type ?? 'basic',
      access_key: r.credential?.accessKey ?? '',
      access_secret: r.credential?.hasSecret ? MASKED_SECRET : '',
    },
    ca_certificate: r.caCertificate ?? '',
    status: r.status,
    creation_time: r.createdAt.toISOString(),
    update_time: r.updatedAt.toISOString(),
  };
}

/** Harbor's RegistryInfo: the filters a policy form offers (as inputs or radio buttons) and the triggers. */
export function registryInfoJson(c: EndpointCapabilities) {
  return {
    type: c.type,
    description: c.description,
    supported_resource_filters: c.filterTypes.map((type) =>
      type === 'resource' ? { type, style: 'radio', values: c.resourceValues } : { type, style: 'input' },
    ),
    supported_triggers: c.triggers,
  };
}
