import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from '../metadata/database.js';
import {
  deleteSession,
  insertSession,
  purgeExpiredSessions,
  touchSession,
} from '../metadata/sessions-table.js';
import type { AuthService } from './auth-service.js';
import type { Principal } from './principal.js';
import { ServiceError } from './service-error.js';

// Login sessions for the API and the portal. The cookie carries a random token; the database keeps
// only its hash (a stolen database cannot be replayed as cookies), the user and a CSRF token. Any
// instance can serve any request of a session: nothing lives in process memory.

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export interface LiveSession {
  principal: Extract<Principal, { kind: 'user' }>;
  csrfToken: string;
}

export class SessionService {
  constructor(
    private readonly db: Database,
    private readonly auth: AuthService,
    private readonly idleSeconds: number,
  ) {}

  private expiry(): Date {
    return new Date(Date.now() + this.idleSeconds * 1000);
  }

  /** Checks credentials (throttled like every login) and opens a session; users only, not robots. */
  async login(
    username: string,
    password: string,
    clientAddress: string,
  ): Promise<{ token: string; csrfToken: string }> {
    const principal = await this.auth.authenticate(username, password, clientAddress);
    if (!principal || principal.kind !== 'user')
      throw new ServiceError('unauthorized', 'invalid username or password');
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    await insertSession(this.db, hashToken(token), principal.id, csrfToken, this.expiry());
    await purgeExpiredSessions(this.db);
    return { token, csrfToken };
  }

  /** The session behind a cookie token, or null when unknown or expired. */
  async resolve(token: string): Promise<LiveSession | null> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
    const row = await touchSession(this.db, hashToken(token), this.expiry());
    if (!row) return null;
    return {
      principal: { kind: 'user', id: row.user_id, username: row.username, sysadmin: row.sysadmin },
      csrfToken: row.csrf_token,
    };
  }

  async logout(token: string): Promise<void> {
    await deleteSession(this.db, hashToken(token));
  }

  static csrfMatches(expected: string, given: string | undefined): boolean {
    if (given === undefined) return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
