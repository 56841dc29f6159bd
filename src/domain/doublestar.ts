// Harbor's "doublestar" patterns (the bmatcuk/doublestar glob its selectors use), matched without
// regular expressions so that no pattern a user stores can make a match take exponential time:
//   *        any run of characters except '/'
//   **       a whole path component: any number of components ('a/**/b' matches 'a/b', 'a/x/y/b');
//            elsewhere the same as '*'
//   ?        one character except '/'
//   [abc]    one of the characters (ranges a-z; [^...] or [!...] negates)
//   {a,b}    one of the alternatives (they may nest and hold wildcards)
//   \x       the character x itself
// The whole value must match. An empty pattern matches everything, as in Harbor's selectors.

/** A pattern that cannot be parsed: the message says what is wrong. */
export class PatternError extends Error {
  constructor(pattern: string, reason: string) {
    super(`pattern ${JSON.stringify(pattern)} is invalid: ${reason}`);
    this.name = 'PatternError';
  }
}

/** More alternatives than this (after expanding every {...}) is refused, not matched. */
const MAX_ALTERNATIVES = 256;

type Token =
  | { kind: 'char'; char: string }
  | { kind: 'any' }
  | { kind: 'class'; negated: boolean; ranges: Array<[string, string]> }
  | { kind: 'star' }
  /** '**' followed by '/': zero or more whole components with their '/'. */
  | { kind: 'components' }
  /** '**' at the end, after '/' or alone: everything that is left. */
  | { kind: 'rest' };

/** A parsed pattern, ready to match many values. */
export interface CompiledPattern {
  readonly source: string;
  matches(value: string): boolean;
}

/** Parses a pattern; throws PatternError for an unclosed '[' or '{', or too many alternatives. */
export function compileDoublestar(pattern: string): CompiledPattern {
  if (pattern === '') return { source: pattern, matches: () => true };
  const alternatives = expandBraces(pattern, pattern).map((alt) => tokenize(alt, pattern));
  return {
    source: pattern,
    matches: (value) => alternatives.some((tokens) => matchTokens(tokens, value)),
  };
}

/** One-off match; throws PatternError for an invalid pattern. */
export function doublestarMatch(pattern: string, value: string): boolean {
  return compileDoublestar(pattern).matches(value);
}

/** The reason a pattern is invalid, or null when it parses. */
export function doublestarProblem(pattern: string): string | null {
  try {
    compileDoublestar(pattern);
    return null;
  } catch (err) {
    if (err instanceof PatternError) return err.message;
    throw err;
  }
}

/** Every brace alternative of the pattern spelled out (escapes kept for the tokenizer). */
function expandBraces(text: string, whole: string): string[] {
  const open = findUnescaped(text, '{', 0);
  if (open < 0) return [text];
  const parts: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      parts.push(text.slice(start, i));
      const prefix = text.slice(0, open);
      const suffixes = expandBraces(text.slice(i + 1), whole);
      const out: string[] = [];
      for (const part of parts) {
        for (const inner of expandBraces(part, whole)) {
          for (const suffix of suffixes) {
            out.push(prefix + inner + suffix);
            if (out.length > MAX_ALTERNATIVES) {
              throw new PatternError(whole, `more than ${MAX_ALTERNATIVES} {...} alternatives`);
            }
          }
        }
      }
      return out;
    } else if (c === ',' && depth === 1) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  throw new PatternError(whole, "a '{' is not closed");
}

function findUnescaped(text: string, wanted: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === wanted) return i;
  }
  return -1;
}

function tokenize(text: string, whole: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '\\') {
      if (i + 1 >= text.length) throw new PatternError(whole, "it ends with a lone '\\'");
      tokens.push({ kind: 'char', char: text.charAt(++i) });
    } else if (c === '?') {
      tokens.push({ kind: 'any' });
    } else if (c === '[') {
      i = readClass(text, i, whole, tokens);
    } else if (c === '*') {
      i = readStars(text, i, tokens);
    } else {
      tokens.push({ kind: 'char', char: c });
    }
  }
  return tokens;
}

/** Reads '*' or '**' at `i`; returns the index of its last character. */
function readStars(text: string, i: number, tokens: Token[]): number {
  if (text[i + 1] !== '*') {
    tokens.push({ kind: 'star' });
    return i;
  }
  const atComponentStart = i === 0 || text[i - 1] === '/';
  const next = text[i + 2];
  if (atComponentStart && next === '/') {
    // Consecutive '**/' are one: keeps matching linear in their number.
    if (tokens.at(-1)?.kind !== 'components') tokens.push({ kind: 'components' });
    return i + 2;
  }
  tokens.push(atComponentStart && next === undefined ? { kind: 'rest' } : { kind: 'star' });
  return i + 1;
}

/** Reads a '[...]' class at `i`; returns the index of its ']'. */
function readClass(text: string, i: number, whole: string, tokens: Token[]): number {
  let j = i + 1;
  const negated = text[j] === '^' || text[j] === '!';
  if (negated) j++;
  const ranges: Array<[string, string]> = [];
  for (let first = true; j < text.length; first = false) {
    let c = text.charAt(j);
    if (c === ']' && !first) {
      tokens.push({ kind: 'class', negated, ranges });
      return j;
    }
    if (c === '\\') c = text.charAt(++j);
    let hi = c;
    if (text[j + 1] === '-' && j + 2 < text.length && text[j + 2] !== ']') {
      hi = text.charAt(j + 2) === '\\' ? text.charAt(j + 3) : text.charAt(j + 2);
      j += text.charAt(j + 2) === '\\' ? 3 : 2;
      if (hi < c) throw new PatternError(whole, `the range ${c}-${hi} in [...] is reversed`);
    }
    ranges.push([c, hi]);
    j++;
  }
  throw new PatternError(whole, "a '[' is not closed");
}

/** Whole-value match of one alternative, memoised on (token, position): polynomial at worst. */
function matchTokens(tokens: readonly Token[], value: string): boolean {
  const width = value.length + 1;
  const memo = new Int8Array((tokens.length + 1) * width);
  const at = (t: number, s: number): boolean => {
    const key = t * width + s;
    const known = memo[key];
    if (known !== 0) return known === 1;
    const result = step(t, s);
    memo[key] = result ? 1 : -1;
    return result;
  };
  const step = (t: number, s: number): boolean => {
    const token = tokens[t];
    if (!token) return s === value.length;
    switch (token.kind) {
      case 'rest':
        return true;
      case 'components':
        if (at(t + 1, s)) return true;
        for (let p = s; p < value.length; p++) if (value[p] === '/' && at(t + 1, p + 1)) return true;
        return false;
      case 'star':
        for (let p = s; ; p++) {
          if (at(t + 1, p)) return true;
          if (p >= value.length || value[p] === '/') return false;
        }
      default:
        return s < value.length && oneChar(token, value.charAt(s)) && at(t + 1, s + 1);
    }
  };
  return at(0, 0);
}

function oneChar(token: Exclude<Token, { kind: 'star' | 'components' | 'rest' }>, c: string): boolean {
  if (token.kind === 'char') return token.char === c;
  if (c === '/') return false;
  if (token.kind === 'any') return true;
  const inside = token.ranges.some(([lo, hi]) => c >= lo && c <= hi);
  return inside !== token.negated;
}
