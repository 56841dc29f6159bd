// Content digests as the OCI image spec defines them: `algorithm:encoded`.
// Only registered algorithms that we can verify are accepted; everything else is DIGEST_INVALID
// or UNSUPPORTED at the edge. Validated digests are the only ones that may reach storage paths.

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
  /** The canonical string form, `algorithm:hex`. */
  readonly value: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** The spec's general grammar, used to tell "malformed" from "well-formed but unsupported". */
const GENERAL_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === 'sha256' || value === 'sha512';
}

export type DigestParseResult =
  { ok: true; digest: Digest } | { ok: false; reason: 'malformed' | 'unsupported'; message: string };

export function parseDigest(input: string): DigestParseResult {
  if (!GENERAL_GRAMMAR.test(input)) {
    return { ok: false, reason: 'malformed', message: `invalid digest "${truncate(input)}"` };
  }
  const colon = input.indexOf(':');
  const algorithm = input.slice(0, colon);
  const hex = input.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    return {
      ok: false,
      reason: 'unsupported',
      message: `unsupported digest algorithm "${truncate(algorithm)}"`,
    };
  }
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    return {
      ok: false,
      reason: 'malformed',
      message: `invalid ${algorithm} digest: expected ${HEX_LENGTH[algorithm]} lowercase hex characters`,
    };
  }
  return { ok: true, digest: { algorithm, hex, value: input } };
}

/** True when the string is a syntactically valid digest of a supported algorithm. */
export function isDigest(input: string): boolean {
  return parseDigest(input).ok;
}

export function makeDigest(algorithm: DigestAlgorithm, hex: string): Digest {
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
