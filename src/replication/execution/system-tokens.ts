import { parseScope } from '../../services/token-service.js';
import type { TokenSource } from '../remote/config.js';

// This registry's own side of a replication is read and written over loopback with in-process
// tokens (sides.ts), each for the repositories one request names in its scopes (a mount names
// its source repository too). A token lives `auth.token.expiration_seconds`; a copy can take
// longer (a large image behind a bandwidth limit), so the client asks this source before every
// request and gets a fresh token once the current one is in the last fifth of its life. A
// request that has started keeps going: only its start is checked against the token.

export interface MintedToken {
  token: string;
  /** Lifetime in seconds from the moment it was minted. */
  expiresIn: number;
}

const MAX_CACHED = 100;

export function renewingTokenSource(
  mint: (repositories: readonly string[]) => Promise<MintedToken>,
  now: () => number = Date.now,
): TokenSource {
  const current = new Map<string, { token: string; renewAt: number }>();
  const minting = new Map<string, Promise<string>>();
  return {
    type: 'source',
    async token(scopes) {
      const names = new Set<string>();
      for (const scope of scopes) {
        const access = parseScope(scope);
        if (access?.type === 'repository') names.add(access.name);
      }
      const repositories = [...names].sort();
      const key = repositories.join(' ');
      const cached = current.get(key);
      if (cached && now() < cached.renewAt) return cached.token;
      // Concurrent requests for the same repositories share one minting.
      let pending = minting.get(key);
      if (!pending) {
        pending = (async () => {
          try {
            const minted = await mint(repositories);
            if (current.size >= MAX_CACHED) current.clear();
            current.set(key, { token: minted.token, renewAt: now() + minted.expiresIn * 800 });
            return minted.token;
          } finally {
            minting.delete(key);
          }
        })();
        minting.set(key, pending);
      }
      return pending;
    },
  };
}
