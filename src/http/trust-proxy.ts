import type { TrustProxySetting } from '../config/network-schema.js';

// http.trust_proxy as Fastify (proxy-addr) applies it. Fastify's own `true` believes the
// left-most X-Forwarded-For address, which is whatever the client wrote: rate limits, login locks
// and the audit log's client_ip would be the client's choice. Wharf never passes `true` on.

/** Trusts the first `hops` addresses counted from the socket: proxy-addr's reading of a hop count. */
export type HopTrust = (address: string, hop: number) => boolean;

/** Fastify's trustProxy for the setting: false, the proxies' addresses/CIDRs, or a hop count. */
export function fastifyTrustProxy(setting: TrustProxySetting): false | string[] | HopTrust {
  if (setting === false) return false;
  if (Array.isArray(setting)) return setting;
  // `true` is one hop: the address the proxy in front appended (or wrote), nothing left of it.
  const hops = setting === true ? 1 : setting;
  return (_address, hop) => hop < hops;
}

/** Said once at startup when the configuration still has the old `trust_proxy: true`. */
export function trustProxyWarning(setting: TrustProxySetting): string | null {
  if (setting !== true) return null;
  return (
    'http.trust_proxy: true is read as one proxy hop (the client address is the one the load balancer ' +
    'in front of Wharf wrote); list the load balancers instead (http.trust_proxy: [10.0.0.5, 10.0.0.6]), ' +
    'so that a client reaching the port directly cannot choose its own address'
  );
}
