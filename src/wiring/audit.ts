import { AuditService } from '../services/audit-service.js';
import { PullStatsService } from '../services/pull-stats-service.js';
import type { Platform } from './platform.js';

// The audit log (an outbox consumer, with syslog forwarding) and the batched pull statistics.

export interface AuditServices {
  audit: AuditService;
  pullStats: PullStatsService;
}

export function buildAudit({ config, logger, db, outbound }: Platform): AuditServices {
  const audit = new AuditService(
    db,
    {
      logPulls: config.audit.log_pulls,
      forwardEndpoint: config.audit.forward_endpoint,
      skipDatabase: config.audit.skip_database,
    },
    outbound,
    (err) => logger.warn({ err }, 'forwarding audit entries to syslog failed; retrying'),
  );
  const pullStats = new PullStatsService(db, (err) => logger.warn({ err }, 'writing pull statistics failed'));
  return { audit, pullStats };
}
