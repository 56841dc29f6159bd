import { describe, expect, it } from 'vitest';
import type { EventActor, NewEvent, RecordedEvent } from '../../domain/events.js';
import type { Queryable } from '../../metadata/database.js';
import type { ReplicationPolicy } from '../../services/replication-policy-service.js';
import { SYSTEM_REPLICATION_SUBJECT } from '../../services/token-service.js';
import { replicationEventConsumer } from './event-consumer.js';
import { EVENT_JOB } from './types.js';

// The event-based replication consumer: which outbox events become which trigger jobs, written
// in the dispatcher's transaction; replication's own writes start nothing.

const USER: EventActor = { name: 'alice', kind: 'user', clientIp: '127.0.0.1' };
const REPLICATION: EventActor = { name: SYSTEM_REPLICATION_SUBJECT, kind: 'system', clientIp: '127.0.0.1' };
const TX: Queryable = {
  query: () => Promise.resolve([]),
  execScript: () => Promise.resolve(),
};

function policy(overrides: Partial<ReplicationPolicy> = {}): ReplicationPolicy {
  return {
    id: 1,
    name: 'p',
    description: '',
    creator: 'admin',
    srcRegistryId: null,
    destRegistryId: 7,
    destNamespace: '',
    destNamespaceReplaceCount: -1,
    filters: [],
    trigger: { type: 'event_based', cron: '' },
    replicateDeletion: true,
    override: true,
    speed: 0,
    enabled: true,
    copyByChunk: false,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...overrides,
  };
}

let sequence = 0;
function recorded(event: NewEvent): RecordedEvent {
  sequence++;
  return {
    ...event,
    id: `00000000-0000-0000-0000-${String(sequence).padStart(12, '0')}`,
    sequence,
    occurredAt: new Date(),
  };
}

async function jobsFor(events: NewEvent[], policies: ReplicationPolicy[] = [policy()]) {
  const jobs: Array<{ type: string; payload: unknown; db: Queryable | undefined }> = [];
  const readThrough: Array<Queryable | undefined> = [];
  const consumer = replicationEventConsumer({
    policies: {
      all: (db) => {
        readThrough.push(db);
        return Promise.resolve(policies);
      },
    },
    jobs: {
      enqueue: (type, payload, options) => {
        jobs.push({ type, payload, db: options.db });
        return Promise.resolve(undefined);
      },
    },
  });
  await consumer.consume(TX, events.map(recorded));
  // Everything goes through the dispatcher's transaction (the embedded database serves one at a time).
  expect(jobs.every((j) => j.type === EVENT_JOB && j.db === TX)).toBe(true);
  expect(readThrough.every((db) => db === TX)).toBe(true);
  return jobs.map((j) => j.payload);
}

const pushed = (tags: string[], actor = USER): NewEvent => ({
  type: 'artifact.pushed',
  actor,
  projectName: 'p',
  data: { repository: 'p/app', digest: 'sha256:' + 'a'.repeat(64), mediaType: 'x', size: 1, tags },
});

describe('replication event consumer', () => {
  it('turns pushes, tag changes and deletions into trigger jobs, one per distinct change', async () => {
    const jobs = await jobsFor([
      pushed(['v1']),
      {
        type: 'tag.created',
        actor: USER,
        projectName: 'p',
        data: { repository: 'p/app', tag: 'v1', digest: 'd' },
      },
      pushed([]),
      {
        type: 'tag.deleted',
        actor: USER,
        projectName: 'p',
        data: { repository: 'p/app', tag: 'old', digest: null },
      },
      {
        type: 'artifact.deleted',
        actor: USER,
        projectName: 'p',
        data: { repository: 'p/app', digest: 'd', mediaType: 'x', size: 1, tags: [] },
      },
      { type: 'repository.deleted', actor: USER, projectName: 'p', data: { repository: 'p/gone' } },
    ]);
    expect(jobs).toEqual([
      { repository: 'p/app', tag: 'v1', operation: 'create' },
      { repository: 'p/app', tag: null, operation: 'create' },
      { repository: 'p/app', tag: 'old', operation: 'delete' },
      { repository: 'p/app', tag: null, operation: 'delete' },
      { repository: 'p/gone', tag: null, operation: 'delete' },
    ]);
  });

  it("starts nothing for replication's own writes (no loops between two-way peers)", async () => {
    expect(await jobsFor([pushed(['v1'], REPLICATION)])).toEqual([]);
    // A user's push in the same batch still counts.
    expect(await jobsFor([pushed(['v1'], REPLICATION), pushed(['v2'])])).toEqual([
      { repository: 'p/app', tag: 'v2', operation: 'create' },
    ]);
  });

  it('keeps the policy rules: deletions only when replicated, filters, enabled event-based policies', async () => {
    const deleted: NewEvent = {
      type: 'tag.deleted',
      actor: USER,
      projectName: 'p',
      data: { repository: 'p/app', tag: 'v1', digest: null },
    };
    expect(await jobsFor([deleted], [policy({ replicateDeletion: false })])).toEqual([]);
    expect(await jobsFor([pushed(['v1'])], [policy({ enabled: false })])).toEqual([]);
    expect(await jobsFor([pushed(['v1'])], [policy({ trigger: { type: 'manual', cron: '' } })])).toEqual([]);
    expect(
      await jobsFor([pushed(['v1'])], [policy({ filters: [{ type: 'name', value: 'other/**' }] })]),
    ).toEqual([]);
    expect(await jobsFor([], [policy()])).toEqual([]);
  });
});
