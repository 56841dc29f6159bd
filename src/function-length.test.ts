import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// No function of src/ runs much over 80 lines (STYLE.md): a longer one does several jobs and is
// split by job. Test code (*.test.ts, shared suites *.suite.ts) is a list of cases, not counted.

const MAX_LINES = 85;
const root = dirname(fileURLToPath(import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    const counted = path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('.suite.ts');
    return counted ? [path] : [];
  });
}

/** `file:line name (N lines)` for every function body longer than `max` lines. */
export function longFunctions(file: string, text: string, max: number): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const body = node.body as ts.Node;
      const first = source.getLineAndCharacterOfPosition(body.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(body.end).line;
      const name = node.name?.getText(source) ?? '<anonymous>';
      if (last - first + 1 > max) found.push(`${file}:${first + 1} ${name} (${last - first + 1} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('function length', () => {
  it('finds a long function (the check can fail)', () => {
    const body = Array.from({ length: 10 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    expect(longFunctions('x.ts', `function big() {\n${body}\n}\n`, 5)).toEqual(['x.ts:1 big (12 lines)']);
  });

  it(`no function in src/ is over ${MAX_LINES} lines`, () => {
    const long = sourceFiles(root).flatMap((file) =>
      longFunctions(relative(root, file), readFileSync(file, 'utf8'), MAX_LINES),
    );
    expect(long).toEqual([]);
  });
});
