import { ServiceError } from './service-error.js';

// Project settings Harbor accepts for features Wharf does not have yet (content trust,
// vulnerability scanning, proxy cache). Accepting them and doing nothing
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
      // The link to the project's tag retention policy (POST /retentions sets it, as Harbor does).
      if (value !== '' && !/^\d{1,15}$/.test(value)) {
        throw new ServiceError('invalid', 'retention_id must be a retention policy id (digits) or ""');
      }
      return;
    case 'proxy_speed_kb':
      if (value !== '-1' && value !== '0') {
        throw notEnforced(key, 'proxy cache projects (and their bandwidth limit)', '"-1" or "0"');
      }
      return;
  }
}

/**
 * The project request's fields beyond its name and metadata (POST and PUT /projects): the
 * storage limit (a quota), and settings for features Wharf lacks, each accepted only with the
 * value meaning "off".
 */
export interface ProjectRequestSettings {
  /** Harbor's storage_limit: a quota in bytes; -1 is unlimited. */
  storageLimit?: number;
  /** Harbor's registry_id: the upstream registry of a proxy cache project; 0 is none. */
  proxyRegistryId?: number;
  /** Harbor's cve_allowlist: the CVE ids a vulnerability scan would let pass. */
  cveAllowlist?: readonly string[];
}

/** Refuses a proxy cache upstream or a CVE allowlist, naming Harbor's field. */
export function checkProjectRequestEnforceable(settings: ProjectRequestSettings): void {
  // storageLimit is not refused: it is a real quota (the project service checks and applies it).
  const { proxyRegistryId, cveAllowlist } = settings;
  if (proxyRegistryId !== undefined && proxyRegistryId !== 0) {
    throw notEnforced('registry_id', 'proxy cache projects', '0 or null');
  }
  if (cveAllowlist !== undefined && cveAllowlist.length > 0) {
    throw notEnforced('cve_allowlist', 'vulnerability scanning', 'an empty allowlist');
  }
}
