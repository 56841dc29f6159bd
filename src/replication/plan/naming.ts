// Destination repository names (Harbor's dest_namespace and dest_namespace_replace_count, its
// "Destination Flattening"). With repository a/b/c and namespace n:
//
//   no namespace (empty)   a/b/c     the source name is kept whatever the count
//   count -1 (legacy)      n/c       "Flatten All Levels": only the last component is kept
//   count 0                n/a/b/c   "No Flattening": the namespace is prefixed
//   count 1                n/b/c     the first component is replaced by the namespace
//   count 2                n/c
//   count 3 (= components) n         every component is replaced
//   count 4 (> components) error     Harbor fails the task: the name has too few components
//
// Harbor's API treats a missing count as -1 (its UI offers 1 as the default); any negative count
// is the legacy mode.

export type DestinationName = { ok: true; name: string } | { ok: false; reason: string };

export function destinationRepository(
  repository: string,
  namespace: string,
  replaceCount: number,
): DestinationName {
  if (namespace === '') return { ok: true, name: repository };
  const components = repository.split('/');
  if (replaceCount < 0) return { ok: true, name: `${namespace}/${components[components.length - 1]}` };
  if (replaceCount === 0) return { ok: true, name: `${namespace}/${repository}` };
  if (replaceCount === components.length) return { ok: true, name: namespace };
  if (replaceCount > components.length) {
    return {
      ok: false,
      reason: `the repository ${repository} has only ${components.length} path components, but the destination namespace replaces ${replaceCount}`,
    };
  }
  return { ok: true, name: `${namespace}/${components.slice(replaceCount).join('/')}` };
}
