import type { Redis } from 'ioredis';
import type { AppDeps, HealthCheck, Lifecycle } from '../http/app.js';
import { pingDatabase } from '../metadata/database.js';
import type { Services } from './services.js';

// What the HTTP app is given: the services each area of routes calls, and the instance's settings.

export function appDeps(services: Services, lifecycle: Lifecycle): AppDeps {
  const { platform, access, registry, audit, replication, webhooks, jobs } = services;
  const { config, logger, metrics, redisBus, instanceName } = platform;
  const ociAccess = {
    auth: access.auth,
    tokens: access.tokens,
    access: access.access,
    policy: {
      challenge: config.auth.challenge,
      realm: config.auth.realm,
      externalUrl: config.http.external_url,
    },
  };
  return {
    logger,
    logRequests: config.log.requests,
    oci: {
      blobs: registry.blobs,
      uploads: registry.uploads,
      manifests: registry.manifests,
      artifacts: registry.artifacts,
      listing: registry.listing,
      metrics,
      manifestMaxBytes: config.limits.manifest_max_bytes,
      chunkMinLength: config.uploads.chunk_min_length,
    },
    auth: access.auth,
    api: {
      ...access,
      audit: audit.audit,
      catalog: registry.catalog,
      artifacts: registry.artifactApi,
      labels: registry.labels,
      immutableRules: registry.immutableRules,
      registries: replication.registries,
      jobs: jobs.jobs,
      replicationPolicies: replication.policies,
      replicationExecutions: replication.executions,
      retentionPolicies: services.retention.policies,
      retentionExecutions: services.retention.executions,
      webhooks: webhooks.policies,
      webhookHistory: webhooks.history,
      gc: jobs.gc,
      purgeAudit: jobs.purgeAudit,
    },
    pullStats: audit.pullStats,
    ociAccess,
    metrics,
    health: healthChecks(services),
    requestsPerMinute: config.limits.requests_per_minute,
    rateLimitStore: redisBus?.redis
      ? { redis: redisBus.redis, nameSpace: `${config.redis?.key_prefix ?? ''}rate:` }
      : null,
    trustProxy: config.http.trust_proxy,
    instanceName,
    lifecycle,
  };
}

/** The components /api/v2.0/health reports. */
function healthChecks({ platform, jobs }: Services): HealthCheck[] {
  const { db, backends, redisBus } = platform;
  return [
    { name: 'database', check: () => pingDatabase(db) },
    ...(redisBus ? [{ name: 'redis', check: redisCheck(() => redisBus.redis) }] : []),
    { name: 'storage', check: () => backends.storage.check() },
    { name: 'jobs', check: () => jobs.background.check() },
  ];
}

function redisCheck(redis: () => Redis | null): () => Promise<void> {
  return async () => {
    const client = redis();
    if (!client) throw new Error('no redis connection');
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`unexpected PING answer ${answer}`);
  };
}
