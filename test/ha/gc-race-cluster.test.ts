import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { fsckProblems, runRaceScenario, type RaceDeployment } from '../helpers/gc-race-scenario.js';
import { withSharedBackends, type SharedStore } from '../helpers/shared-backends.js';

// Issue #12, "Done when": the GC race of test/integration/gc-race.test.ts on two instances behind
// HAProxy (round robin, no stickiness), one PostgreSQL and one storage directory. The requests of
// one push land on both instances, and GC, started through the load balancer, runs as a job on
// whichever instance takes it: the protocol must hold across processes, not just within one.

describe('GC race on two instances behind a load balancer', () => {
  let cluster: Cluster;
  let store: SharedStore;

  beforeAll(async () => {
    cluster = await startCluster({
      instances: 2,
      loadBalancer: 'haproxy',
      projects: ['race'],
      extraConfig: 'gc:\n  grace_period_minutes: 0',
    });
    store = { databaseUrl: cluster.databaseUrl, storage: { filesystem: { root: cluster.storageRoot } } };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('never loses a byte an acknowledged tag references, and leaves no garbage', async () => {
    const deployment: RaceDeployment = {
      // Two workers through the load balancer, one straight to each instance.
      clients: [cluster.client(), cluster.client(), ...cluster.instances.map((i) => i.client)],
      gc: { url: cluster.url, authorization: cluster.authorization },
      withBackends: (inspect) => withSharedBackends(store, inspect),
      fsckClean: async () => {
        const cli = await cluster.fsck();
        const problems = cli.code === 0 ? [] : await withSharedBackends(store, fsckProblems);
        expect({ code: cli.code, problems }, `${cli.stdout}\n${cli.stderr}`).toEqual({
          code: 0,
          problems: [],
        });
        expect(cli.stdout).toMatch(/the store is clean/);
      },
      explain: (texts) => cluster.explain(texts),
    };
    await runRaceScenario(deployment, { repositories: ['race/a', 'race/b', 'race/c'], maxMs: 600_000 });
  });
});
