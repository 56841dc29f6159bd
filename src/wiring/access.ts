import { join } from 'node:path';
import { signInRequired } from '../config/schema.js';
import { AccessService } from '../services/access-service.js';
import { AuthService } from '../services/auth-service.js';
import { MemberService } from '../services/member-service.js';
import { ProjectService } from '../services/project-service.js';
import { QuotaService } from '../services/quotas/quota-service.js';
import { RobotService } from '../services/robot-service.js';
import { SessionService } from '../services/session-service.js';
import { SettingsService } from '../services/settings-service.js';
import { loadTokenKeys } from '../services/token-keys.js';
import { TokenService } from '../services/token-service.js';
import { UserService } from '../services/user-service.js';
import type { Platform } from './platform.js';

// Who may do what: accounts and logins, sessions, tokens, projects with their members and robots.

export interface AccessServices {
  auth: AuthService;
  access: AccessService;
  settings: SettingsService;
  projects: ProjectService;
  tokens: TokenService;
  users: UserService;
  sessions: SessionService;
  members: MemberService;
  robots: RobotService;
  quotas: QuotaService;
}

export async function buildAccess({ config, logger, db, registryDeps }: Platform): Promise<AccessServices> {
  const auth = new AuthService(db, {
    windowSeconds: config.login.failure_window_seconds,
    maxFailuresPerAccount: config.login.max_failures_per_account,
    maxFailuresPerAddress: config.login.max_failures_per_address,
    lockSeconds: config.login.lock_seconds,
  });
  if (config.auth.anonymous_pull !== undefined) {
    logger.warn(
      { anonymous_pull: config.auth.anonymous_pull, require_signin: signInRequired(config.auth) },
      'auth.anonymous_pull is deprecated: use auth.require_signin (public projects are pullable by anyone unless it is true)',
    );
  }
  const access = new AccessService(db, registryDeps.lookups, { requireSignIn: signInRequired(config.auth) });
  const settings = new SettingsService(db, {
    audit_log_forward_endpoint: config.audit.forward_endpoint,
    skip_audit_log_database: config.audit.skip_database,
  });
  const projects = new ProjectService(
    db,
    access,
    async () => (await settings.get()).project_creation_restriction,
  );
  const tokenKeyFile =
    config.auth.token.signing_key_file ?? join(config.data_dir, 'secrets', 'token-signing-key.pem');
  const tokens = new TokenService(
    await loadTokenKeys(
      tokenKeyFile,
      config.auth.token.verification_key_files,
      config.auth.token.signing_key_file === undefined,
    ),
    {
      issuer: config.auth.token.issuer,
      service: config.auth.token.service,
      expirationSeconds: config.auth.token.expiration_seconds,
    },
    access,
  );
  const sessions = new SessionService(db, auth, {
    idleSeconds: config.login.session_idle_seconds,
    maxSeconds: config.login.session_max_seconds,
    externalUrl: config.http.external_url,
  });
  return {
    auth,
    access,
    settings,
    projects,
    tokens,
    users: new UserService(db, auth),
    sessions,
    members: new MemberService(db, projects, access),
    robots: new RobotService(db, projects, access, auth),
    quotas: new QuotaService(db, access),
  };
}
