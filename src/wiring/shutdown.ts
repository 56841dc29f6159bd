import type { FastifyInstance } from 'fastify';
import type { Services } from './services.js';

// The stop order, the reverse of the start: the listener (after draining), then what runs in the
// background (tasks, the dispatcher, jobs), the flushers, and the connections last.

export interface Draining {
  draining: boolean;
}

export async function stopInstance(
  services: Services,
  app: FastifyInstance,
  state: Draining,
  options: { drain?: boolean },
): Promise<void> {
  const { config, logger, redisBus, backends } = services.platform;
  state.draining = true;
  // Stops claiming at once; running jobs get the grace, then are released to other instances.
  const jobsStopped = services.jobs.jobs.stop(config.shutdown.grace_seconds * 1000);
  const drainMs = options.drain === false ? 0 : config.shutdown.drain_seconds * 1000;
  if (drainMs > 0) {
    logger.info({ seconds: config.shutdown.drain_seconds }, 'draining: not ready, still serving');
    await new Promise((r) => setTimeout(r, drainMs));
  }
  await closeListener(app, config.shutdown.grace_seconds * 1000, () =>
    logger.warn('shutdown grace period over; closing remaining connections'),
  );
  await services.jobs.background.stop();
  await services.audit.pullStats.flush();
  // After the last writers (requests, the pull flush); events it leaves wait in the outbox.
  await services.dispatcher.stop();
  // Nothing more reaches the audit log: the forwarder sends what its connection holds.
  await services.audit.audit.close();
  // Jobs still finishing may write and so publish invalidations: Redis closes after them.
  await jobsStopped;
  await services.webhooks.close();
  await redisBus?.close();
  await backends.close();
}

/** Stops accepting and lets in-flight requests finish, closing what remains after the grace. */
async function closeListener(app: FastifyInstance, graceMs: number, onForced: () => void): Promise<void> {
  const forced = setTimeout(() => {
    onForced();
    app.server.closeAllConnections();
  }, graceMs);
  forced.unref();
  await app.close();
  clearTimeout(forced);
}
