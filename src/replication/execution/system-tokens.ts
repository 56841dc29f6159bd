import { parseScope } from '../../services/token-service.js';
import type { TokenSource } from '../../remote/config.js';

// This registry's own side of a replication is read and written over loopback with in-process
// tokens (sides.ts), each for exactly the repository actions one request's scopes ask (a mount
// names its source repository, for pull only). A token lives `auth.token.expiration_seconds`; a copy can take
// longer (a large image behind a bandwidth limit), so the client asks this source before every
// request and gets a fresh token once the current one is in the last fifth of its life. A
// request that has started keeps going: only its start is checked against the token.

export interface MintedToken {
  token: string;
  /** Lifetime in seconds from the moment it was minted. */
  expiresIn: number;
}

const MAX_CACHED = 100;

/** What one request asks for: repositories and the actions on each. */
export type WantedAccess = ReadonlyArray<{ name: string; actions: readonly string[] }>;

export function renewingTokenSource(
  mint: (wanted: WantedAccess) => Promise<MintedToken>,
  now: () => number = Date.now,
): TokenSource {
  const current = new Map<string, { token: string; renewAt: number }>();
  const minting = new Map<string, Promise<string>>();
  return {
    type: 'source',
    async token(scopes) {
      // Exactly the actions each scope asks (a mount's source: pull only), merged per repository.
      const wanted = new Map<string, Set<string>>();
      for (const scope of scopes) {
        const access = parseScope(scope);
        if (access?.type !== 'repository') continue;
        const actions = wanted.get(access.name) ?? new Set<string>();
        for (const a of access.actions) actions.add(a);
        wanted.set(access.name, actions);
      }
      const request = [...wanted]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, actions]) => ({ name, actions: [...actions].sort() }));
      const key = request.map((r) => `${r.name}:${r.actions.join(',')}`).join(' ');
      const cached = current.get(key);
      if (cached && now() < cached.renewAt) return cached.token;
      // Concurrent requests for the same repositories share one minting.
      let pending = minting.get(key);
      if (!pending) {
        pending = (async () => {
          try {
            const minted = await mint(request);
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
