import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from '../metadata/database.js';
import {
  deleteSession,
  insertSession,
  purgeExpiredSessions,
  touchSession,
  type SessionLifetime,
} from '../metadata/sessions-table.js';
import { recordEvent } from '../metadata/outbox-table.js';
import { adminEvent } from './audit/admin-events.js';
import type { AuthService } from './auth-service.js';
import type { Principal } from './principal.js';
import { ServiceError } from './service-error.js';

// Login sessions for the API and the portal. The cookie carries a random token; the database keeps
// only its hash (a stolen database cannot be replayed as cookies), the user and a CSRF token. Any
// instance can serve any request of a session: nothing lives in process memory, so a session
// ended on one instance (logout, password change or reset, user deleted) is ended on all.

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export interface LiveSession {
  principal: Extract<Principal, { kind: 'user' }>;
  csrfToken: string;
}

export interface SessionSettings extends SessionLifetime {
  /** http.external_url: when it is https, the cookie is Secure whatever the request came over. */
  externalUrl?: string | undefined;
}

export const DEFAULT_SESSION_SETTINGS: SessionSettings = { idleSeconds: 30 * 60, maxSeconds: 12 * 3600 };

export class SessionService {
  private readonly lifetime: SessionLifetime;

  constructor(
    private readonly db: Database,
    private readonly auth: AuthService,
    private readonly settings: SessionSettings = DEFAULT_SESSION_SETTINGS,
  ) {
    this.lifetime = { idleSeconds: settings.idleSeconds, maxSeconds: settings.maxSeconds };
  }

  /** The cookie lives as long as the session can: its absolute lifetime. */
  get cookieMaxAgeSeconds(): number {
    return this.settings.maxSeconds;
  }

  /**
   * Whether the cookie gets the Secure flag. The configured external URL decides: behind a load
   * balancer that ends TLS the request itself arrives over http, and the cookie must still never
   * travel in clear. Without an external URL, the request's own protocol is all there is.
   */
  secureCookie(requestProtocol: string): boolean {
    if (this.settings.externalUrl !== undefined) return this.settings.externalUrl.startsWith('https:');
    return requestProtocol === 'https';
  }

  /** Checks credentials (throttled like every login) and opens a session; users only, not robots. */
  async login(
    username: string,
    password: string,
    clientAddress: string,
  ): Promise<{ token: string; csrfToken: string }> {
    // Every sign-in attempt is audited, the refused ones (wrong password, throttled) as failures.
    const signIn = (result: 'success' | 'failure') =>
      adminEvent('user.login', { name: username, kind: 'user', clientIp: clientAddress }, null, {
        name: username,
        result,
      });
    const login = await this.auth.verify(username, password, clientAddress).catch(async (err: unknown) => {
      await recordEvent(this.db, signIn('failure'));
      throw err;
    });
    if (!login || login.principal.kind !== 'user') {
      await recordEvent(this.db, signIn('failure'));
      throw new ServiceError('unauthorized', 'invalid username or password');
    }
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const userId = login.principal.id;
    const opened = await this.db.transaction(async (tx) => {
      const row = await insertSession(
        tx,
        { tokenHash: hashToken(token), userId, passwordHash: login.credentialHash, csrfToken },
        this.lifetime,
      );
      if (row) await recordEvent(tx, signIn('success'));
      return row;
    });
    // The password changed (or the user went) between the check and now: that change wins.
    if (!opened) throw new ServiceError('unauthorized', 'invalid username or password');
    await purgeExpiredSessions(this.db);
    return { token, csrfToken };
  }

  /** The session behind a cookie token, or null when unknown or expired (idle or absolute). */
  async resolve(token: string): Promise<LiveSession | null> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
    const row = await touchSession(this.db, hashToken(token), this.lifetime);
    if (!row) return null;
    return {
      principal: { kind: 'user', id: row.user_id, username: row.username, sysadmin: row.sysadmin },
      csrfToken: row.csrf_token,
    };
  }

  /**
   * Ends the session behind the cookie, but only when the request also carries its CSRF token:
   * a browser sends the cookie by itself on any cross-site link or form, and another site must
   * not be able to sign the user out. An unknown or expired cookie has nothing to end.
   */
  async logout(token: string, csrfToken: string | undefined): Promise<void> {
    const session = await this.resolve(token);
    if (!session) return;
    if (!SessionService.csrfMatches(session.csrfToken, csrfToken)) {
      throw new ServiceError('forbidden', 'CSRF token missing or invalid');
    }
    await deleteSession(this.db, hashToken(token));
  }

  static csrfMatches(expected: string, given: string | undefined): boolean {
    if (given === undefined) return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
