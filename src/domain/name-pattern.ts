import { Minimatch, type MinimatchOptions } from 'minimatch';

// Harbor's replication patterns (name and tag filters): Harbor matches them with Go's doublestar
// (v1): `*` any run of characters but `/`, `**` as a whole path component any run including `/`
// (elsewhere it acts as `*`), `?` one character but `/`, `[abc]` `[a-z]` `[^a-z]` classes, `\`
// escapes, `{a,b}` alternatives (nested allowed). An empty pattern matches everything. Patterns are
// case-sensitive.
//
// minimatch does the matching. It is configured, and the pattern rewritten, where its glob dialect
// differs from doublestar's:
// - braces are expanded here (doublestar has no `{1..3}` ranges, which minimatch would expand);
// - inside a class, `!` first is a literal (doublestar negates with `^` only) and `[` is a literal
//   (no POSIX `[:alpha:]` classes in doublestar);
// - patterns Go refuses (ErrBadPattern: unclosed `[` or `{`, a trailing `\`, empty classes, `-`
//   without both ends of a range) are refused by checkPattern, so a policy cannot be saved with one;
// - `*` matches the empty string (an untagged artifact meets a tag filter as the tag "").

/** Bound on the alternatives one pattern expands to: `{a,b}{c,d}…` grows as a product. */
export const MAX_ALTERNATIVES = 256;
export const MAX_PATTERN_LENGTH = 1024;

const OPTIONS: MinimatchOptions = {
  dot: true,
  nobrace: true,
  noext: true,
  nonegate: true,
  nocomment: true,
  nocase: false,
  platform: 'linux',
  optimizationLevel: 0,
  preserveMultipleSlashes: true,
};

export class PatternError extends Error {
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`invalid pattern "${pattern.slice(0, 100)}": ${reason}`);
    this.name = 'PatternError';
  }
}

/** Null when the pattern is valid, else why not (for a 400 that names the problem). */
export function checkPattern(pattern: string): string | null {
  try {
    compilePattern(pattern);
    return null;
  } catch (err) {
    if (err instanceof PatternError) return err.message;
    throw err;
  }
}

export type Matcher = (subject: string) => boolean;

/** A matcher for one pattern; throws PatternError for a pattern Harbor would refuse. */
export function compilePattern(pattern: string): Matcher {
  if (pattern === '') return () => true;
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new PatternError(pattern, `longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  const alternatives = expandBraces(pattern, pattern).map((alt) => rewriteClasses(alt, pattern));
  const matchers = alternatives.map((alt) => {
    // minimatch never lets `*` match an empty path; doublestar does, and only an alternative made
    // of stars (or nothing) can match "".
    const emptyOk = /^\**$/.test(alt);
    const mm = new Minimatch(alt, OPTIONS);
    return (subject: string) => (subject === '' ? emptyOk : mm.match(subject));
  });
  return (subject) => matchers.some((m) => m(subject));
}

/** Index just past the class that opens at `start` (a `[`), validated as Go's path.Match does. */
function classEnd(p: string, start: number, whole: string): number {
  let i = start + 1;
  if (p[i] === '^') i++;
  let ranges = 0;
  const char = (): void => {
    const c = p[i];
    if (c === undefined) throw new PatternError(whole, 'unclosed character class "["');
    if (c === '-' || c === ']')
      throw new PatternError(whole, `"${c}" where a character class needs a character`);
    if (c === '\\') {
      i++;
      if (p[i] === undefined) throw new PatternError(whole, 'ends with an escape character "\\"');
    }
    i++;
  };
  for (;;) {
    if (p[i] === ']' && ranges > 0) return i + 1;
    const loStart = i;
    char();
    const lo = unescape(p.slice(loStart, i));
    if (p[i] === '-') {
      i++;
      const hiStart = i;
      char();
      const hi = unescape(p.slice(hiStart, i));
      if ((lo.codePointAt(0) ?? 0) > (hi.codePointAt(0) ?? 0)) {
        throw new PatternError(whole, `character range "${lo}-${hi}" is reversed`);
      }
    }
    ranges++;
  }
}

function unescape(s: string): string {
  return s.startsWith('\\') ? s.slice(1) : s;
}

/** Expands `{a,b}` alternatives (nested, escapes and classes respected), bounded. */
function expandBraces(p: string, whole: string): string[] {
  const open = findTopLevel(p, 0, '{', whole);
  if (open === -1) return [p];
  // Split the group's content on its own commas until its matching brace.
  const parts: string[] = [];
  let depth = 0;
  let partStart = open + 1;
  let i = open + 1;
  let close = -1;
  while (i < p.length) {
    const c = p[i];
    if (c === '\\') i += 2;
    else if (c === '[') i = classEnd(p, i, whole);
    else {
      if (c === '{') depth++;
      else if (c === '}') {
        if (depth === 0) {
          close = i;
          break;
        }
        depth--;
      } else if (c === ',' && depth === 0) {
        parts.push(p.slice(partStart, i));
        partStart = i + 1;
      }
      i++;
    }
  }
  if (close === -1) throw new PatternError(whole, 'unclosed alternatives "{"');
  parts.push(p.slice(partStart, close));
  const prefix = p.slice(0, open);
  const rests = expandBraces(p.slice(close + 1), whole);
  const out: string[] = [];
  for (const part of parts) {
    for (const alt of expandBraces(part, whole)) {
      for (const rest of rests) {
        out.push(prefix + alt + rest);
        if (out.length > MAX_ALTERNATIVES) {
          throw new PatternError(whole, `expands to more than ${MAX_ALTERNATIVES} alternatives`);
        }
      }
    }
  }
  return out;
}

/** The index of the first `target` outside escapes and classes, or -1; validates what it skips. */
function findTopLevel(p: string, from: number, target: string, whole: string): number {
  let i = from;
  while (i < p.length) {
    const c = p[i];
    if (c === '\\') {
      if (i + 1 >= p.length) throw new PatternError(whole, 'ends with an escape character "\\"');
      i += 2;
    } else if (c === '[') i = classEnd(p, i, whole);
    else if (c === target) return i;
    else i++;
  }
  return -1;
}

/** Makes classes mean in minimatch what they mean in doublestar (see the header). */
function rewriteClasses(alt: string, whole: string): string {
  let out = '';
  let i = 0;
  while (i < alt.length) {
    const c = alt[i] as string;
    if (c === '\\') {
      out += alt.slice(i, i + 2);
      i += 2;
    } else if (c === '[') {
      const end = classEnd(alt, i, whole);
      let body = alt.slice(i + 1, end - 1);
      let negation = '';
      if (body.startsWith('^')) {
        negation = '^';
        body = body.slice(1);
      }
      out += `[${negation}${escapeClassBody(body)}]`;
      i = end;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function escapeClassBody(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\') {
      out += body.slice(i, i + 2);
      i++;
    } else if (c === '[' || (c === '!' && i === 0)) out += `\\${c}`;
    else out += c;
  }
  return out;
}
