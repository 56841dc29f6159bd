import { describe, expect, it } from 'vitest';
import type { RobotPermission } from '../metadata/robots-table.js';
import { robotDecision } from './robot-permissions.js';

const project = (namespace: string, access: RobotPermission['access']): RobotPermission => ({
  kind: 'project',
  namespace,
  access,
});

describe('robotDecision', () => {
  it('allows what an entry names and nothing else', () => {
    const perms = [project('p', [{ resource: 'repository', action: 'pull' }])];
    expect(robotDecision(perms, 'p', 'repository', 'pull')).toBe('allow');
    expect(robotDecision(perms, 'p', 'repository', 'push')).toBe('none');
    expect(robotDecision(perms, 'q', 'repository', 'pull')).toBe('none');
  });

  it('lets a deny override an allow, in either order and from a wildcard namespace', () => {
    const allow = { resource: 'repository', action: 'push', effect: 'allow' };
    const deny = { resource: 'repository', action: 'push', effect: 'deny' };
    expect(robotDecision([project('p', [allow, deny])], 'p', 'repository', 'push')).toBe('deny');
    expect(robotDecision([project('p', [deny, allow])], 'p', 'repository', 'push')).toBe('deny');
    expect(robotDecision([project('p', [allow]), project('*', [deny])], 'p', 'repository', 'push')).toBe(
      'deny',
    );
    // A deny for another action leaves the allow alone.
    expect(
      robotDecision([project('p', [allow, { ...deny, action: 'pull' }])], 'p', 'repository', 'push'),
    ).toBe('allow');
  });

  it('reads * in a deny as every resource or action, but never widens an allow', () => {
    const allow = { resource: 'repository', action: 'pull' };
    expect(
      robotDecision(
        [project('p', [allow, { resource: 'repository', action: '*', effect: 'deny' }])],
        'p',
        'repository',
        'pull',
      ),
    ).toBe('deny');
    expect(robotDecision([project('p', [{ resource: '*', action: '*' }])], 'p', 'repository', 'pull')).toBe(
      'none',
    );
  });

  it('ignores system-kind entries for project decisions', () => {
    const perms = [{ kind: 'system', namespace: '/', access: [{ resource: 'repository', action: 'pull' }] }];
    expect(robotDecision(perms, 'p', 'repository', 'pull')).toBe('none');
    expect(robotDecision(perms, null, 'repository', 'pull')).toBe('allow');
    const deny = [
      { kind: 'system', namespace: '/', access: [{ resource: 'label', action: 'list', effect: 'deny' }] },
    ];
    expect(robotDecision(deny, null, 'label', 'list')).toBe('deny');
    expect(robotDecision(deny, 'p', 'label', 'list')).toBe('none');
  });
});
