import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../domain/events.js';
import { executionStatus } from './history-service.js';
import { buildPayload, type PayloadContext } from './payloads.js';
import { signBody } from './sender.js';

const pushed: RecordedEvent = {
  id: '2c4d6c1e-0f58-4d8b-9f0a-4b7a3c2d1e0f',
  sequence: 7,
  type: 'artifact.pushed',
  actor: { name: 'alice', kind: 'user', clientIp: null },
  projectName: 'lib',
  occurredAt: new Date('2026-01-02T03:04:05.678Z'),
  data: { repository: 'lib/app', digest: 'sha256:abc', mediaType: 'x', size: 1, tags: ['v1', 'latest'] },
};

const ctx: PayloadContext = {
  registryHost: 'reg.example.com',
  registryUrl: 'https://reg.example.com',
  projectId: 3,
  policyId: 9,
  repository: { public: true, created: new Date('2026-01-01T00:00:00Z') },
};

describe('webhook payloads', () => {
  it('builds Harbor Default JSON with one resource per tag', () => {
    const p = buildPayload('http', 'Default', 'PUSH_ARTIFACT', pushed, ctx);
    expect(p.contentType).toBe('application/json');
    expect(JSON.parse(p.body)).toEqual({
      type: 'PUSH_ARTIFACT',
      occur_at: 1767323045,
      operator: 'alice',
      event_data: {
        resources: [
          { digest: 'sha256:abc', tag: 'v1', resource_url: 'reg.example.com/lib/app:v1' },
          { digest: 'sha256:abc', tag: 'latest', resource_url: 'reg.example.com/lib/app:latest' },
        ],
        repository: {
          date_created: 1767225600,
          name: 'app',
          namespace: 'lib',
          repo_full_name: 'lib/app',
          repo_type: 'public',
        },
      },
    });
  });

  it('puts the digest in place of the tag of an untagged artifact', () => {
    const untagged = { ...pushed, data: { ...pushed.data, tags: [] } } as RecordedEvent;
    const body = JSON.parse(buildPayload('http', 'Default', 'DELETE_ARTIFACT', untagged, ctx).body) as {
      event_data: { resources: unknown[] };
    };
    expect(body.event_data.resources).toEqual([
      { digest: 'sha256:abc', tag: 'sha256:abc', resource_url: 'reg.example.com/lib/app@sha256:abc' },
    ]);
  });

  it('builds a structured CloudEvent whose id is the event id', () => {
    const p = buildPayload('http', 'CloudEvents', 'PUSH_ARTIFACT', pushed, ctx);
    expect(p.contentType).toBe('application/cloudevents+json');
    const ce = JSON.parse(p.body) as Record<string, unknown>;
    expect(ce).toMatchObject({
      specversion: '1.0',
      id: pushed.id,
      source: '/projects/3/webhook/policies/9',
      type: 'harbor.artifact.pushed',
      datacontenttype: 'application/json',
      time: '2026-01-02T03:04:05.678Z',
      operator: 'alice',
      data: { repository: { repo_full_name: 'lib/app' } },
    });
  });

  it('builds a Slack message whatever the format asked', () => {
    const body = JSON.parse(buildPayload('slack', 'Default', 'PUSH_ARTIFACT', pushed, ctx).body) as {
      text: string;
      blocks: Array<{ text: { text: string } }>;
    };
    expect(body.text).toContain('*PUSH_ARTIFACT* by alice');
    expect(body.text).toContain('reg.example.com/lib/app:latest');
    expect(body.blocks[0]?.text.text).toBe(body.text);
  });

  it('signs with HMAC-SHA256 (RFC 4231 test case 2)', () => {
    expect(signBody('Jefe', 'what do ya want for nothing?')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('derives an execution status from its tasks', () => {
    const counts = {
      task_count: 2,
      success_count: 0,
      error_count: 0,
      pending_count: 0,
      running_count: 0,
      stopped_count: 0,
    };
    const row = {
      id: 1,
      policy_id: 1,
      event_id: '',
      event_type: 'PUSH_ARTIFACT',
      start_time: new Date(),
      end_time: null,
      status_message: '',
    };
    expect(executionStatus({ ...row, ...counts, pending_count: 2 })).toBe('Pending');
    expect(executionStatus({ ...row, ...counts, pending_count: 1, success_count: 1 })).toBe('Running');
    expect(executionStatus({ ...row, ...counts, error_count: 1, success_count: 1 })).toBe('Error');
    expect(executionStatus({ ...row, ...counts, success_count: 2 })).toBe('Success');
  });
});
