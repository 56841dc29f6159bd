import type { FastifyInstance } from 'fastify';
import type { AccessService } from '../../services/access-service.js';
import type { AuthService } from '../../services/auth-service.js';
import { ANONYMOUS, type Principal } from '../../services/principal.js';
import type { ProjectService } from '../../services/project-service.js';
import type { TokenService } from '../../services/token-service.js';
import { auditArea } from './audit/routes.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { validatorCompiler } from 'fastify-type-provider-zod';
import type { ApiArea } from './area.js';
import { validationMessage } from '../validation-message.js';
import { registerOpenApi, registerOpenApiRoute } from './openapi.js';
import { wharfVersion } from './version.js';
import { projectsArea } from './projects/routes.js';
import { configurationsArea } from './configurations/routes.js';
import { usersArea } from './users/routes.js';
import { membersArea } from './members/routes.js';
import { robotsArea } from './robots/routes.js';
import { repositoriesArea } from './repositories/routes.js';
import { systemArea } from './system/routes.js';
import { registriesArea } from './registries/routes.js';
import { jobServiceArea } from './jobservice/routes.js';
import { schedulesArea } from './schedules/routes.js';
import { replicationArea } from './replication/area.js';
import { labelsArea } from './labels/area.js';
import { webhooksArea } from './webhooks/routes.js';
import { quotasArea } from './quotas/routes.js';
import type { QuotaService } from '../../services/quotas/quota-service.js';
import { gcArea, purgeAuditArea } from './maintenance/routes.js';
import type { MaintenanceJobs } from '../../services/maintenance/maintenance-jobs.js';
import { retentionsArea } from './retentions/routes.js';
import type { RetentionExecutionService, RetentionPolicyService } from '../../services/retention/index.js';
import { immutableArea } from './immutable/routes.js';
import type { ImmutableRuleService } from '../../services/immutable-rules-service.js';
import type { WebhookPolicyService } from '../../services/webhooks/policy-service.js';
import type { WebhookHistoryService } from '../../services/webhooks/history-service.js';
import type { SettingsService } from '../../services/settings-service.js';
import type { SessionService } from '../../services/session-service.js';
import { callerResolver, parseJsonBody, refuseNulInUrl } from './request-context.js';
import type { AuditService } from '../../services/audit-service.js';
import type { UserService } from '../../services/user-service.js';
import type { MemberService } from '../../services/member-service.js';
import type { RobotService } from '../../services/robot-service.js';
import type { CatalogApiService } from '../../services/catalog-api-service.js';
import type { ArtifactApiService } from '../../services/artifacts/artifact-api-service.js';
import type { RegistryEndpointService } from '../../services/registry-endpoint-service.js';
import type { JobService } from '../../jobs/job-service.js';
import type { ReplicationPolicyService } from '../../services/replication-policy-service.js';
import type { ReplicationExecutionService } from '../../replication/execution/index.js';
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
  sessions: SessionService;
  settings: SettingsService;
  members: MemberService;
  robots: RobotService;
  catalog: CatalogApiService;
  /** Writes of registry content (repository, artifact and tag deletes, tag creation). */
  artifacts: ArtifactApiService;
  registries: RegistryEndpointService;
  jobs: JobService;
  replicationPolicies: ReplicationPolicyService;
  replicationExecutions: ReplicationExecutionService;
  labels: LabelService;
  webhooks: WebhookPolicyService;
  webhookHistory: WebhookHistoryService;
  /** Project storage quotas (/quotas). */
  quotas: QuotaService;
  /** Tag retention policies, and their executions, tasks and logs. */
  retentionPolicies: RetentionPolicyService;
  retentionExecutions: RetentionExecutionService;
  /** Tag immutability rules of projects. */
  immutableRules: ImmutableRuleService;
  /** /system/gc: garbage collection's runs and schedule; null where the instance has no GC. */
  gc: MaintenanceJobs | null;
  /** /system/purgeaudit: the audit log purge's runs and schedule. */
  purgeAudit: MaintenanceJobs;
}

/** The API's areas, one Fastify plugin each, each given only the services it declares. */
const AREAS: readonly ApiArea[] = [
  configurationsArea,
  projectsArea,
  usersArea,
  membersArea,
  robotsArea,
  repositoriesArea,
  labelsArea,
  systemArea,
  registriesArea,
  jobServiceArea,
  schedulesArea,
  replicationArea,
  webhooksArea,
  quotasArea,
  retentionsArea,
  immutableArea,
  auditArea,
  gcArea,
  purgeAuditArea,
];

export async function registerApi(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  await app.register(
    async (api) => {
      api.decorateRequest('principal', { getter: () => ANONYMOUS });
      api.addContentTypeParser(
        'application/json',
        { parseAs: 'string', bodyLimit: 1024 * 1024 },
        parseJsonBody,
      );
      api.addHook('onRequest', refuseNulInUrl);
      api.addHook('onRequest', callerResolver(deps));
      // Route schemas are zod (fastify-type-provider-zod); a failure is a 400 naming the field.
      api.setValidatorCompiler(validatorCompiler);
      api.setSchemaErrorFormatter((errors, dataVar) => new Error(validationMessage(errors, dataVar)));
      const typed = api.withTypeProvider<ZodTypeProvider>();
      await registerOpenApi(app, typed, wharfVersion());
      registerOpenApiRoute(typed);
      for (const area of AREAS) {
        await typed.register(
          async (scope) => area.register(scope.withTypeProvider<ZodTypeProvider>(), deps),
          {
            name: area.name,
          },
        );
      }
    },
    { prefix: '/api/v2.0' },
  );
}
