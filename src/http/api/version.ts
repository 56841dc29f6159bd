import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Wharf's version from package.json (src/http/api and dist/http/api alike). */
export function wharfVersion(): string {
  try {
    const pkg: unknown = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8'),
    );
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') {
      return pkg.version;
    }
    return 'unknown';
  } catch {
    return 'unknown';
  }
}
