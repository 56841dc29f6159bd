import type { Logger } from 'pino';
import type { WharfConfig } from '../config/schema.js';
import { ArtifactService } from '../services/artifacts/artifact-service.js';
import { gcJobType, type GcDeps } from '../services/gc/index.js';
import { openBackends } from './backends.js';
import { registerJobTypes, type JobServices } from './jobs.js';
import { buildPlatform, type Platform } from './platform.js';
import type { RegistryServices } from './registry.js';

// Online garbage collection (src/services/gc): what a run works with, and its job type on the
// job service (the /system/gc API enqueues and schedules it; `wharf gc` runs the same engine).

export function gcDeps({ config, db, backends }: Platform, { artifacts }: RegistryServices): GcDeps {
  return {
    // The services' database: the deletions' events wake the dispatcher like any other write.
    db,
    storage: backends.storage,
    artifacts,
    gracePeriodMinutes: config.gc.grace_period_minutes,
  };
}

/** Registers the GARBAGE_COLLECTION job type; returns the engine's dependencies for other callers. */
export function buildGc(platform: Platform, registry: RegistryServices, { jobs, gc }: JobServices): GcDeps {
  const deps = gcDeps(platform, registry);
  // Wrapped by its maintenance history (/system/gc), which keeps each run's log after the job's row.
  registerJobTypes(jobs, [gc.jobType(gcJobType(deps))]);
  return deps;
}

/**
 * The engine outside a server (`wharf gc`): the configured backends, and the platform so that the
 * deletions invalidate the cluster's caches (over Redis when configured) like a server's would.
 */
export async function openGcEngine(
  config: WharfConfig,
  logger: Logger,
): Promise<{ deps: GcDeps; close(): Promise<void> }> {
  const backends = await openBackends(config);
  try {
    const platform = buildPlatform(config, logger, backends);
    const deps: GcDeps = {
      db: platform.db,
      storage: backends.storage,
      artifacts: new ArtifactService(platform.registryDeps),
      gracePeriodMinutes: config.gc.grace_period_minutes,
    };
    const close = async () => {
      await platform.redisBus?.close().catch(() => undefined);
      await backends.close();
    };
    return { deps, close };
  } catch (err) {
    await backends.close().catch(() => undefined);
    throw err;
  }
}
