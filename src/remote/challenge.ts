// WWW-Authenticate challenges (RFC 7235) as registries send them: `Bearer realm="…",service="…",
// scope="…"` for token auth (distribution's token spec) or `Basic realm="…"`.

export interface Challenge {
  /** Lower-cased: 'bearer', 'basic', or whatever else the peer sent. */
  scheme: string;
  /** Parameter names lower-cased, values unquoted. */
  params: Record<string, string>;
}

/**
 * Parses the first challenge of a header value. Parameters may be quoted (with backslash escapes)
 * or bare tokens; a second challenge after the parameters is ignored (registries send one).
 */
export function parseChallenge(header: string | null | undefined): Challenge | null {
  if (!header) return null;
  const match = /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*(.*)$/s.exec(header);
  if (!match) return null;
  const scheme = (match[1] as string).toLowerCase();
  const params: Record<string, string> = {};
  const rest = match[2] as string;
  const param = /\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/gy;
  let m: RegExpExecArray | null;
  while ((m = param.exec(rest)) !== null) {
    if (m[0] === '') break;
    const name = (m[1] as string).toLowerCase();
    params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return { scheme, params };
}

/**
 * The URL of the `rel="next"` link of an RFC 8288 Link header, resolved against `base` (catalog,
 * tags and referrers pagination; registries send a path relative to themselves).
 */
export function nextLink(header: string | null | undefined, base: string): string | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*(.*)$/s.exec(part);
    if (!m) continue;
    const rels = /(?:^|;)\s*rel\s*=\s*"?([^";]*)"?/i.exec(m[2] as string);
    if (rels && (rels[1] as string).split(/\s+/).includes('next')) {
      return new URL(m[1] as string, base).toString();
    }
  }
  return null;
}
