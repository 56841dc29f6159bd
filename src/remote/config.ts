import type { Readable } from 'node:stream';
import type { OutboundGuard } from '../net/outbound-guard.js';
// What the client needs to know about a peer: the endpoint as an administrator registered it
// (services/registry-endpoint-service.ts), with the credential already decrypted.

/** `harbor`: Harbor or Wharf (listing through /api/v2.0); `docker-registry`: any OCI registry. */
export type RemoteRegistryType = 'harbor' | 'docker-registry';

export const REMOTE_REGISTRY_TYPES = [
  'docker-registry',
  'harbor',
] as const satisfies readonly RemoteRegistryType[];

export interface RemoteCredential {
  /**
   * `basic`: access_key/access_secret are a user name and password (or robot name and secret),
   * sent as Basic or exchanged for Bearer tokens at the peer's token service. `oauth`: the
   * access_secret is a ready bearer token, sent as it is.
   */
  type: 'basic' | 'oauth';
  accessKey: string;
  accessSecret: string;
}

/**
 * Bearer tokens from a function instead of a stored credential: this registry's own in-process
 * tokens (replication/execution/sides.ts). Asked for before every request, so that a copy
 * longer than one token's lifetime never goes on with an expired one.
 */
export interface TokenSource {
  type: 'source';
  /** A token for the scopes a request needs (none for the management API). */
  token(scopes: readonly string[], signal?: AbortSignal): Promise<string>;
}

export type PeerCredential = RemoteCredential | TokenSource;

/** Reads a blob of a repository from `offset`; rejects with a RemoteError as a peer would. */
export type LocalBlobReader = (
  name: string,
  digest: string,
  offset: number,
) => Promise<{ stream: Readable; size: number }>;

export interface RemoteRegistryConfig {
  /** Base URL, http(s)://host[:port][/path], without a trailing slash. */
  url: string;
  type: RemoteRegistryType;
  /** None: anonymous. */
  credential?: PeerCredential | null;
  /** Skip TLS certificate verification. */
  insecure?: boolean;
  /** PEM bundle of the CAs to trust for this peer (in addition to the system's). */
  caCertificate?: string | null;
  /** Bound of connecting and of waiting for response headers or for the next body bytes. */
  timeoutMs?: number;
  /**
   * This registry itself: blobs are read straight from its storage through this function
   * instead of over its own HTTP listener (a relay then costs one stream, not two).
   */
  localBlobs?: LocalBlobReader;
  /** Items per page when listing (catalog, tags, Harbor's API pages; Harbor allows 100 at most). */
  pageSize?: number;
  /** Which addresses may be connected to; default: the built-in policy (no link-local, no metadata). */
  outbound?: OutboundGuard;
  /**
   * Hosts (`name` or `name:port`) besides the endpoint's own whose token realm may receive the
   * stored credential (Docker Hub's registry-1.docker.io sends clients to auth.docker.io).
   */
  trustedRealmHosts?: readonly string[];
}

export const DEFAULT_TIMEOUT_MS = 30_000;
