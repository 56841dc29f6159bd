import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { OutboundGuard } from '../../net/outbound-guard.js';

// Checks a target's address when a policy is saved: an http(s) URL whose host the outbound
// policy allows. A name is resolved now (every address must be allowed); a name that does not
// resolve yet is accepted, since delivery checks again at connect time and fails the task clearly.

/** The problem with an address, or null when it may be used. */
export async function targetAddressProblem(address: string, guard: OutboundGuard): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return `target address "${address}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `target address "${address}" must be an http or https URL`;
  }
  if (url.username || url.password) {
    return 'target address must not carry credentials: use auth_header';
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const refused = `target address ${url.host} is refused by the outbound policy (outbound.deny_networks / allow_networks)`;
  if (isIP(host) !== 0) return guard.permits(host) ? null : refused;
  let addresses: Array<{ address: string }>;
  try {
    addresses = await lookup(host, { all: true });
  } catch {
    return null;
  }
  return addresses.every((a) => guard.permits(a.address)) ? null : refused;
}
