import { X509Certificate } from 'node:crypto';
import { RemoteError } from '../remote/index.js';
import { ServiceError } from './service-error.js';

// The endpoint service's checks of single values, kept apart from its persistence: names, CA
// bundles, where a stored credential may go, and the words a failed ping is explained with.

const MAX_CA_BYTES = 64 * 1024;

export function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** The same host and port, and no step down from https to http. */
export function sameDestination(stored: string, next: string): boolean {
  const a = new URL(stored);
  const b = new URL(next);
  return a.host === b.host && (a.protocol === b.protocol || b.protocol === 'https:');
}

/** A bundle of PEM certificates that all parse (the TLS client would fail later, less clearly). */
export function checkCaBundle(pem: string): void {
  if (pem.length > MAX_CA_BYTES)
    throw new ServiceError('invalid', `ca_certificate must be at most ${MAX_CA_BYTES} bytes`);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ServiceError('invalid', 'ca_certificate must hold PEM certificates');
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new ServiceError('invalid', 'ca_certificate holds a certificate that cannot be parsed');
    }
  }
}

export function endpointInUse(policies: string[]): ServiceError {
  return new ServiceError(
    'precondition',
    policies.length > 0
      ? `the registry is used by replication policies (${policies.slice(0, 10).join(', ')}); delete or change them first`
      : 'the registry is used by replication policies; delete or change them first',
  );
}

/** A clear reason for a failed check, without credentials (RemoteError messages carry none). */
export function pingFailure(err: unknown, timeoutMs: number): string {
  if (typeof err === 'object' && err !== null && 'name' in err && err.name === 'TimeoutError') {
    return `the registry is unhealthy: no answer within ${timeoutMs / 1000} s`;
  }
  if (err instanceof RemoteError) {
    switch (err.kind) {
      case 'unreachable':
        return `the registry is unreachable: ${err.message}`;
      case 'unauthorized':
        return `the registry refused the credentials: ${err.message}`;
      default:
        return `the registry is unhealthy: ${err.message}`;
    }
  }
  return 'the registry is unhealthy';
}
