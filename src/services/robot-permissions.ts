import type { RobotPermission } from '../metadata/robots-table.js';

// How a robot's stored permission list decides one (project, resource, action), as Harbor's
// policy evaluation does: entries are allow or deny, and a matching deny overrides every allow,
// whichever entry comes first and whether it names the project or `*` (every project).

export type RobotDecision = 'allow' | 'deny' | 'none';

/** `*` in a deny entry matches anything; allows must name the resource and action exactly. */
function matches(pattern: string, value: string, effect: 'allow' | 'deny'): boolean {
  return pattern === value || (effect === 'deny' && pattern === '*');
}

/**
 * The decision of a robot's permissions for `resource`/`action` in a project (by name), or on the
 * system scope when `projectName` is null (Harbor's `/system` entries).
 */
export function robotDecision(
  permissions: readonly RobotPermission[],
  projectName: string | null,
  resource: string,
  action: string,
): RobotDecision {
  let allowed = false;
  for (const permission of permissions) {
    if (projectName === null) {
      if (permission.kind !== 'system') continue;
    } else if (permission.kind !== 'project') continue;
    else if (permission.namespace !== projectName && permission.namespace !== '*') continue;
    for (const entry of permission.access) {
      // Anything but an explicit deny is an allow (Harbor's default effect).
      const effect = entry.effect === 'deny' ? 'deny' : 'allow';
      if (!matches(entry.resource, resource, effect) || !matches(entry.action, action, effect)) continue;
      if (effect === 'deny') return 'deny';
      allowed = true;
    }
  }
  return allowed ? 'allow' : 'none';
}
