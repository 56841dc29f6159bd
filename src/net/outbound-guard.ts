import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { buildConnector } from 'undici';

// The one gate every outbound connection passes (registry endpoints, token realms, and later
// webhooks and the proxy cache): the address actually connected to is checked, after DNS, at
// connect time, so a name that resolves to a cloud metadata service (or is re-pointed there
// between a check and the connection, DNS rebinding) is refused all the same.

/** Link-local networks: cloud metadata services and other hosts' private configuration live there. */
const LINK_LOCAL = ['169.254.0.0/16', 'fe80::/10'];
/** Cloud metadata addresses outside link-local (AWS IPv6, Alibaba Cloud), and AWS's IPv4 one. */
const METADATA = ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200'];

/** The same IPv4 addresses reached through NAT64 (64:ff9b::/96) on an IPv6-only network. */
const NAT64 = ['64:ff9b::a9fe:0/112', '64:ff9b::6464:64c8'];

/** The networks refused unless `allow_networks` names them. Loopback is not among them. */
export const DEFAULT_DENIED_NETWORKS: readonly string[] = [...LINK_LOCAL, ...METADATA, ...NAT64];

export interface OutboundNetworks {
  /** Refused in addition to the defaults (CIDRs or single addresses). */
  deny_networks: readonly string[];
  /** Allowed even when a deny entry (default or configured) covers them. */
  allow_networks: readonly string[];
}

/** A connection the outbound policy refuses; never worth retrying unchanged. */
export class OutboundRefusedError extends Error {
  readonly code = 'ERR_OUTBOUND_REFUSED';

  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(
      host === address
        ? `connections to ${address} are refused by the outbound policy (outbound.deny_networks / allow_networks)`
        : `connections to ${host} (${address}) are refused by the outbound policy (outbound.deny_networks / allow_networks)`,
    );
    this.name = 'OutboundRefusedError';
  }
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n`; throws a message naming the entry. */
export function parseNetwork(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address = '', prefixText, extra] = entry.trim().split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined)
    throw new Error(`"${entry}" is not an IP address or CIDR network`);
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) throw new Error(`"${entry}" has an invalid prefix length`);
  return { address, prefix, family };
}

function blockListOf(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const { address, prefix, family } = parseNetwork(entry);
    list.addSubnet(address, prefix, family);
  }
  return list;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address it carries. */
function canonical(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return { address: mapped[1] as string, family: 'ipv4' };
  return { address, family: isIP(address) === 4 ? 'ipv4' : 'ipv6' };
}

export class OutboundGuard {
  readonly #denied: BlockList;
  readonly #allowed: BlockList;

  constructor(networks: OutboundNetworks = { deny_networks: [], allow_networks: [] }) {
    this.#denied = blockListOf([...DEFAULT_DENIED_NETWORKS, ...networks.deny_networks]);
    this.#allowed = blockListOf(networks.allow_networks);
  }

  /** Whether a connection to this IP address may be made. */
  permits(ip: string): boolean {
    if (isIP(ip) === 0) return false;
    const { address, family } = canonical(ip);
    if (this.#allowed.check(address, family)) return true;
    return !this.#denied.check(address, family);
  }

  /**
   * A DNS lookup for net/tls.connect that fails when any address the name resolves to is
   * refused (a name with one good and one refused address is refused: the connection could take either).
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const wantsAll = (options as LookupOptions).all === true;
    dnsLookup(hostname, { ...(options as LookupOptions), all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, wantsAll ? [] : '', undefined);
      const refused = addresses.find((a) => !this.permits(a.address));
      if (refused) return callback(new OutboundRefusedError(hostname, refused.address), wantsAll ? [] : '');
      const first = addresses[0];
      if (wantsAll || !first) return callback(null, addresses);
      callback(null, first.address, first.family);
    });
  };

  /**
   * An undici connector with these TLS/socket options that refuses what the policy refuses: IP
   * literals before connecting (net.connect does no lookup for them), names through `lookup`.
   */
  connector(options: buildConnector.BuildOptions): buildConnector.connector {
    const connect = buildConnector({ ...options, lookup: this.lookup });
    return (opts, callback) => {
      if (isIP(opts.hostname) !== 0 && !this.permits(opts.hostname)) {
        callback(new OutboundRefusedError(opts.hostname, opts.hostname), null);
        return;
      }
      connect(opts, callback);
    };
  }
}

/** The guard with the built-in policy only: for connections made before configuration is known. */
export const DEFAULT_OUTBOUND_GUARD = new OutboundGuard();

/** The refusal inside an error (undici may wrap what the connector reported), if any. */
export function outboundRefusal(err: unknown): OutboundRefusedError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof OutboundRefusedError) return e;
  }
  return undefined;
}
