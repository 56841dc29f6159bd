import { apiArea } from '../area.js';
import { registerReplicationExecutionRoutes } from './executions-routes.js';
import { registerReplicationPolicyRoutes } from './policies-routes.js';
import { registerReplicationTombstoneRoutes } from './tombstones-routes.js';

/** Replication: policies, executions (with tasks and logs), and Wharf's tombstone exchange. */
export const replicationArea = apiArea(
  'replication',
  ['replicationPolicies', 'replicationExecutions'],
  (api, { replicationPolicies, replicationExecutions }) => {
    registerReplicationPolicyRoutes(api, replicationPolicies);
    registerReplicationExecutionRoutes(api, replicationExecutions);
    registerReplicationTombstoneRoutes(api, replicationExecutions);
  },
);
