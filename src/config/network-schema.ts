import { z } from 'zod';
import { parseNetwork } from '../net/outbound-guard.js';

// Configuration of the network edge: which proxies may say who the client is (http.trust_proxy),
// and where Wharf itself may connect to (outbound).

/** proxy-addr's names for whole ranges, accepted besides addresses and CIDRs. */
const RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

const network = z.string().superRefine((value, ctx) => {
  try {
    parseNetwork(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const proxyAddress = z.string().superRefine((value, ctx) => {
  if (RANGE_NAMES.includes(value)) return;
  try {
    parseNetwork(value);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not an address, a CIDR network, or one of ${RANGE_NAMES.join(', ')}`,
    });
  }
});

/**
 * Whose X-Forwarded-For / -Proto to believe: false (nobody: the client address is the socket's),
 * a list of the load balancers' addresses/CIDRs (the client is the right-most address not in the
 * list), or a hop count (that many proxies in front: the client is that far from the right).
 * `true`, from older configuration files, means one hop: the address the proxy in front appended,
 * never the left-most one a client can write itself.
 */
export const trustProxySchema = z
  .union([z.boolean(), z.number().int().min(1).max(10), z.array(proxyAddress).min(1)])
  .default(false);

export type TrustProxySetting = z.infer<typeof trustProxySchema>;

const hostName = z
  .string()
  .min(1)
  .max(300)
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, 'must be a host name, optionally with :port')
  .transform((host) => host.toLowerCase());

export const outboundSchema = z
  .object({
    /**
     * Networks Wharf must not connect to, besides the built-in ones (link-local 169.254.0.0/16 and
     * fe80::/10, cloud metadata addresses). Loopback and private networks are allowed by default.
     */
    deny_networks: z.array(network).default([]),
    /** Networks allowed even when a deny entry (built-in or configured) covers them. */
    allow_networks: z.array(network).default([]),
    /**
     * Per endpoint host: other hosts whose token realm may receive the endpoint's credential
     * (always: a realm on the endpoint's own host and port). Docker Hub's pair is built in.
     */
    token_realms: z.record(hostName, z.array(hostName)).default({}),
  })
  .strict()
  .default({ deny_networks: [], allow_networks: [], token_realms: {} });

export type OutboundConfig = z.infer<typeof outboundSchema>;
