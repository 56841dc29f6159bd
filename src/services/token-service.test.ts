import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disabledLookupCache } from '../cluster/lookup-cache.js';
import type { Database } from '../metadata/database.js';
import { openMigratedMemoryDatabase } from '../../test/helpers/memory-database.js';
import { AccessService } from './access-service.js';
import { isSystemReplication } from './principal.js';
import { loadTokenKeys } from './token-keys.js';
import { SYSTEM_REPLICATION_SUBJECT, TokenService } from './token-service.js';

// Replication's in-process tokens: exactly the actions asked, and the system claim that makes a
// token "replication itself", which no account's token has, whatever the account is named.

describe('TokenService system tokens', () => {
  let dir: string;
  let db: Database;
  let tokens: TokenService;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-tokens-'));
    db = await openMigratedMemoryDatabase();
    tokens = new TokenService(
      await loadTokenKeys(join(dir, 'signing.pem'), [], true),
      { issuer: 'test-issuer', service: 'test-service', expirationSeconds: 60 },
      new AccessService(db, disabledLookupCache),
    );
  });
  afterAll(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('grants exactly the asked actions, all of them for *, and marks the token as system', async () => {
    const issued = await tokens.issueSystem([
      { name: 'p/app', actions: ['pull', 'push'] },
      { name: 'p/base', actions: ['pull', 'bogus'] },
      { name: 'p/all', actions: ['*'] },
    ]);
    const principal = await tokens.verify(issued.token);
    expect(principal).toMatchObject({ kind: 'token', subject: SYSTEM_REPLICATION_SUBJECT, system: true });
    if (principal?.kind !== 'token') throw new Error('not a token principal');
    expect(principal.access).toEqual([
      { type: 'repository', name: 'p/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'p/base', actions: ['pull'] },
      { type: 'repository', name: 'p/all', actions: ['pull', 'push', 'delete'] },
    ]);
    expect(isSystemReplication(principal)).toBe(true);
  });

  it('a token of an account named like the system subject is not replication', async () => {
    const issued = await tokens.issue({ kind: 'token', subject: SYSTEM_REPLICATION_SUBJECT, access: [] }, []);
    const principal = await tokens.verify(issued.token);
    expect(principal).toMatchObject({ kind: 'token', subject: SYSTEM_REPLICATION_SUBJECT });
    if (!principal) throw new Error('no principal');
    expect(isSystemReplication(principal)).toBe(false);
  });
});
