import { describe, expect, it } from 'vitest';
import { isLabelScope, labelColorProblem, labelDescriptionProblem, labelNameProblem } from './labels.js';

describe('label rules', () => {
  it('accepts names of 1 to 128 characters, counted as characters, not bytes', () => {
    expect(labelNameProblem('a')).toBeNull();
    expect(labelNameProblem('release candidate')).toBeNull();
    expect(labelNameProblem('x'.repeat(128))).toBeNull();
    expect(labelNameProblem('é'.repeat(128))).toBeNull();
    expect(labelNameProblem('🚀'.repeat(128))).toBeNull();
  });

  it('refuses empty, too long, control characters and surrounding white space', () => {
    expect(labelNameProblem('')).toMatch(/required/);
    expect(labelNameProblem('x'.repeat(129))).toMatch(/longer than 128/);
    expect(labelNameProblem('a\nb')).toMatch(/control/);
    expect(labelNameProblem('a\u0000')).toMatch(/control/);
    expect(labelNameProblem('a\u0085')).toMatch(/control/);
    expect(labelNameProblem(' a')).toMatch(/white space/);
    expect(labelNameProblem('a ')).toMatch(/white space/);
  });

  it('accepts #RRGGBB in either case and the empty colour', () => {
    expect(labelColorProblem('#00FF7f')).toBeNull();
    expect(labelColorProblem('')).toBeNull();
    for (const bad of ['red', '#fff', '00ff00', '#00ff0', '#00ff000', '#gg0000', ' #000000']) {
      expect(labelColorProblem(bad), bad).toMatch(/#RRGGBB/);
    }
  });

  it('bounds descriptions', () => {
    expect(labelDescriptionProblem('')).toBeNull();
    expect(labelDescriptionProblem('d'.repeat(1024))).toBeNull();
    expect(labelDescriptionProblem('d'.repeat(1025))).toMatch(/1024/);
  });

  it('knows the two scopes', () => {
    expect(isLabelScope('g')).toBe(true);
    expect(isLabelScope('p')).toBe(true);
    expect(isLabelScope('G')).toBe(false);
    expect(isLabelScope(undefined)).toBe(false);
  });
});
