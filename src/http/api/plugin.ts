import type { FastifyInstance } from 'fastify';
import type { AccessService } from '../../services/access-service.js';
import type { AuthService } from '../../services/auth-service.js';
import { ANONYMOUS, isSignedIn, type Principal } from '../../services/principal.js';
import type { ProjectService } from '../../services/project-service.js';
import type { TokenService } from '../../services/token-service.js';
import { resolvePrincipal } from '../credentials.js';
import { ApiError } from './api-error.js';
import { sendApiError } from './error-handler.js';
import { registerProjectDetailRoutes, registerProjectRoutes } from './projects/routes.js';
import { registerAuditRoutes } from './audit/routes.js';
import { registerConfigurationRoutes } from './configurations/routes.js';
import type { SettingsService } from '../../services/settings-service.js';
import { CSRF_HEADER, SESSION_COOKIE, cookieValue } from '../session/routes.js';
import { SessionService } from '../../services/session-service.js';
import type { AuditService } from '../../services/audit-service.js';
import type { Database } from '../../metadata/database.js';
import { registerUserRoutes } from './users/routes.js';
import { registerMemberRoutes } from './members/routes.js';
import type { UserService } from '../../services/user-service.js';
import type { MemberService } from '../../services/member-service.js';
import { registerRobotRoutes } from './robots/routes.js';
import type { RobotService } from '../../services/robot-service.js';
import type { CatalogApiService } from '../../services/catalog-api-service.js';
import { registerRepositoryRoutes } from './repositories/routes.js';
import { registerSystemRoutes } from './system/routes.js';
import { registerRegistryRoutes } from './registries/routes.js';
import type { RegistryEndpointService } from '../../services/registry-endpoint-service.js';
import { registerJobServiceRoutes } from './jobservice/routes.js';
import { registerScheduleRoutes } from './schedules/routes.js';
import type { JobService } from '../../jobs/job-service.js';
import { registerReplicationPolicyRoutes } from './replication/policies-routes.js';
import type { ReplicationPolicyService } from '../../services/replication-policy-service.js';
import { registerReplicationExecutionRoutes } from './replication/executions-routes.js';
import { registerReplicationTombstoneRoutes } from './replication/tombstones-routes.js';
import type { ReplicationExecutionService } from '../../replication/execution/index.js';
import { registerLabelRoutes } from './labels/routes.js';
import { registerArtifactLabelRoutes } from './labels/artifact-label-routes.js';
import type { LabelService } from '../../services/labels-service.js';

// The Harbor-compatible management API under /api/v2.0: JSON bodies, Harbor's error shape, the
// caller resolved once per request (Basic for users and robots; sessions come with login).

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export interface ApiDeps {
  auth: AuthService;
  tokens: TokenService;
  access: AccessService;
  projects: ProjectService;
  users: UserService;
  audit: AuditService;
  db: Database;
  sessions: SessionService;
  settings: SettingsService;
  members: MemberService;
  robots: RobotService;
  catalog: CatalogApiService;
  registries: RegistryEndpointService;
  jobs: JobService;
  replicationPolicies: ReplicationPolicyService;
  replicationExecutions: ReplicationExecutionService;
  labels: LabelService;
}

const READ_METHODS = ['GET', 'HEAD', 'OPTIONS'];

const NUL_MESSAGE = 'NUL characters are not accepted in names, filters or fields';

export async function registerApi(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  await app.register(
    async (api) => {
      api.decorateRequest('principal', { getter: () => ANONYMOUS });
      api.addContentTypeParser(
        'application/json',
        { parseAs: 'string', bodyLimit: 1024 * 1024 },
        (_request, body, done) => {
          if (body === '') return done(null, {});
          let nul = false;
          try {
            // PostgreSQL text cannot hold NUL: refused here, for every field, with a 400.
            const parsed = JSON.parse(body as string, (key, value: unknown) => {
              if (key.includes('\0') || (typeof value === 'string' && value.includes('\0'))) nul = true;
              return value;
            }) as unknown;
            if (nul) return done(new ApiError('BAD_REQUEST', NUL_MESSAGE), undefined);
            done(null, parsed);
          } catch {
            done(new ApiError('BAD_REQUEST', 'the request body is not valid JSON'), undefined);
          }
        },
      );
      api.addHook('onRequest', async (request) => {
        // The same for the path and the query (ids, names, filters), before any route reads them.
        if (/%00/i.test(request.url)) throw new ApiError('BAD_REQUEST', NUL_MESSAGE);
      });
      // Who is calling is settled before the body is read (onRequest), so an anonymous write,
      // which no API route allows, is refused without reading what it sends.
      api.addHook('onRequest', async (request, reply) => {
        let principal = await resolvePrincipal(request, deps.auth, deps.tokens);
        // A registry token speaks for /v2 repositories only, never for an account: here it is
        // no credential at all (Harbor's API does not take them either).
        if (principal.kind === 'token') principal = ANONYMOUS;
        const sessionToken = request.headers.authorization
          ? undefined
          : cookieValue(request.headers.cookie, SESSION_COOKIE);
        if (principal.kind === 'anonymous' && sessionToken) {
          const session = await deps.sessions.resolve(sessionToken);
          if (session) {
            // Cookies are sent by browsers on their own: a write must also prove it came from
            // our page by echoing the CSRF token that only our page can read.
            if (!READ_METHODS.includes(request.method)) {
              const given = request.headers[CSRF_HEADER];
              if (
                !SessionService.csrfMatches(session.csrfToken, typeof given === 'string' ? given : undefined)
              ) {
                throw new ApiError('FORBIDDEN', 'CSRF token missing or invalid');
              }
            }
            reply.header(CSRF_HEADER, session.csrfToken);
            principal = session.principal;
          }
        }
        Object.defineProperty(request, 'principal', { value: principal, configurable: true });
        if (!isSignedIn(principal) && !READ_METHODS.includes(request.method)) {
          throw new ApiError('UNAUTHORIZED', 'authentication required');
        }
      });
      api.setErrorHandler(sendApiError);
      registerAuditRoutes(api, deps);
      registerConfigurationRoutes(api, deps.settings);
      registerProjectRoutes(api, deps);
      registerProjectDetailRoutes(api, deps);
      registerUserRoutes(api, deps.users, deps.access);
      registerMemberRoutes(api, deps.projects, deps.members);
      registerRobotRoutes(api, deps.robots);
      registerRepositoryRoutes(api, deps.catalog);
      registerLabelRoutes(api, deps.labels);
      registerArtifactLabelRoutes(api, deps.labels);
      registerSystemRoutes(api, deps);
      registerRegistryRoutes(api, deps.registries);
      registerJobServiceRoutes(api, deps);
      registerScheduleRoutes(api, deps);
      registerReplicationPolicyRoutes(api, deps.replicationPolicies);
      registerReplicationExecutionRoutes(api, deps.replicationExecutions);
      registerReplicationTombstoneRoutes(api, deps.replicationExecutions);
    },
    { prefix: '/api/v2.0' },
  );
}
