import { ServiceError } from './service-error.js';

// Project settings Harbor accepts for features Wharf does not have yet (content trust,
// vulnerability scanning, quotas, proxy cache, retention). Accepting them and doing nothing
// would promise a protection that is not there, so a value that asks for the behaviour is
// refused with a 400 naming the setting; the values that mean "off" (Harbor's defaults) pass, so
// clients that send a full project form keep working.

const SWITCHES: Readonly<Record<string, string>> = {
  enable_content_trust: 'content trust (signature enforcement)',
  enable_content_trust_cosign: 'cosign signature enforcement',
  prevent_vul: 'blocking pulls of vulnerable images',
  auto_scan: 'vulnerability scanning on push',
  auto_sbom_generation: 'SBOM generation on push',
};

/** Harbor's severities; by itself a severity asks for nothing (prevent_vul would use it). */
const SEVERITIES = new Set(['none', 'unknown', 'negligible', 'low', 'medium', 'high', 'critical']);

function notEnforced(key: string, feature: string, off: string): ServiceError {
  return new ServiceError(
    'invalid',
    `${key}: Wharf does not support ${feature} yet, so it cannot be turned on; only ${off} is accepted`,
  );
}

/**
 * Checks one project metadata value (already known to be a string) for a behaviour Wharf does
 * not enforce. Returns normally for the "off" values and for settings Wharf honours.
 */
export function checkMetadataEnforceable(key: string, value: string): void {
  const feature = Object.hasOwn(SWITCHES, key) ? SWITCHES[key] : undefined;
  if (feature !== undefined) {
    if (value === 'false') return;
    if (value === 'true') throw notEnforced(key, feature, '"false"');
    throw new ServiceError('invalid', `${key} must be "true" or "false"`);
  }
  switch (key) {
    case 'severity':
      if (!SEVERITIES.has(value)) {
        throw new ServiceError('invalid', `severity must be one of ${[...SEVERITIES].join(', ')}`);
      }
      return;
    case 'retention_id':
      if (value !== '' && value !== '0') throw notEnforced(key, 'tag retention policies', '"" or "0"');
      return;
    case 'proxy_speed_kb':
      if (value !== '-1' && value !== '0') {
        throw notEnforced(key, 'proxy cache projects (and their bandwidth limit)', '"-1" or "0"');
      }
      return;
  }
}

/**
 * The project request's own fields beyond its name and metadata (POST and PUT /projects):
 * `storage_limit` (quotas), `registry_id` (proxy cache) and `cve_allowlist` (scanning).
 */
export function checkProjectRequestEnforceable(body: Record<string, unknown>): void {
  const limit = body.storage_limit;
  if (limit !== undefined && limit !== null && limit !== -1) {
    throw notEnforced('storage_limit', 'project storage quotas', '-1 (unlimited)');
  }
  const registry = body.registry_id;
  if (registry !== undefined && registry !== null && registry !== 0) {
    throw notEnforced('registry_id', 'proxy cache projects', '0 or null');
  }
  const allowlist = body.cve_allowlist;
  if (allowlist !== undefined && allowlist !== null) {
    const items =
      typeof allowlist === 'object' && !Array.isArray(allowlist)
        ? (allowlist as Record<string, unknown>).items
        : allowlist;
    const empty = items === undefined || items === null || (Array.isArray(items) && items.length === 0);
    if (!empty) throw notEnforced('cve_allowlist', 'vulnerability scanning', 'an empty allowlist');
  }
}
