// Which token realms may receive an endpoint's stored credential besides the endpoint's own host
// and port (the realm a peer names in its challenge is the peer's word, not the administrator's).

/** Docker Hub's registry sends clients to its token service on another host of Docker's. */
const BUILT_IN: Readonly<Record<string, readonly string[]>> = {
  'registry-1.docker.io': ['auth.docker.io'],
  'index.docker.io': ['auth.docker.io'],
  'docker.io': ['auth.docker.io'],
};

/**
 * The realm hosts trusted for an endpoint host (URL.host: the name, plus :port when not the
 * scheme's default): the built-in pairs and those configured (outbound.token_realms).
 */
export function trustedRealmHosts(
  configured: Readonly<Record<string, readonly string[]>>,
  endpointHost: string,
): string[] {
  const host = endpointHost.toLowerCase();
  return [...(BUILT_IN[host] ?? []), ...(configured[host] ?? [])];
}
