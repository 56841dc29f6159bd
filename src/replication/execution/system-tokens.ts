import type { TokenSource } from '../remote/config.js';

// This registry's own side of a replication is read and written over loopback with in-process
// tokens (sides.ts). A token lives `auth.token.expiration_seconds`; a copy can take longer (a
// large image behind a bandwidth limit), so the client asks this source before every request and
// gets a fresh token once the current one is in the last fifth of its life. A request that has
// started keeps going: only its start is checked against the token.

export interface MintedToken {
  token: string;
  /** Lifetime in seconds from the moment it was minted. */
  expiresIn: number;
}

export function renewingTokenSource(
  mint: () => Promise<MintedToken>,
  now: () => number = Date.now,
): TokenSource {
  let current: { token: string; renewAt: number } | undefined;
  let minting: Promise<string> | undefined;
  return {
    type: 'source',
    async token() {
      if (current && now() < current.renewAt) return current.token;
      // Concurrent requests of one copy share one minting.
      minting ??= (async () => {
        try {
          const minted = await mint();
          current = { token: minted.token, renewAt: now() + minted.expiresIn * 800 };
          return minted.token;
        } finally {
          minting = undefined;
        }
      })();
      return minting;
    },
  };
}
