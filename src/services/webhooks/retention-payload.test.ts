import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../domain/events.js';
import { buildPayload, type PayloadContext } from './payloads.js';

const rule = {
  id: 1,
  template: 'latestPushedK',
  params: { latestPushedK: 1 },
  tag_selectors: [{ kind: 'doublestar', decoration: 'matches', pattern: '**' }],
  scope_selectors: { repository: [{ kind: 'doublestar', decoration: 'repoMatches', pattern: '**' }] },
};

const finished: RecordedEvent = {
  id: '0d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  sequence: 11,
  type: 'retention.finished',
  actor: { name: 'tag-retention', kind: 'system', clientIp: null },
  projectName: 'lib',
  occurredAt: new Date('2026-01-02T03:04:05Z'),
  data: {
    policyId: 4,
    executionId: 12,
    status: 'Success',
    trigger: 'MANUAL',
    total: 3,
    retained: 1,
    deleted: [
      { repository: 'lib/app', digest: 'sha256:aaa', tags: ['old', 'older'] },
      { repository: 'lib/app/web', digest: 'sha256:bbb', tags: [] },
    ],
    rules: [rule],
  },
};

const ctx: PayloadContext = {
  registryHost: 'reg.example.com',
  registryUrl: 'https://reg.example.com',
  projectId: 3,
  policyId: 9,
  repository: null,
};

describe('TAG_RETENTION payloads', () => {
  it("carry Harbor's retention block: counts, policy, rules, result and deleted artifacts", () => {
    const body = JSON.parse(buildPayload('http', 'Default', 'TAG_RETENTION', finished, ctx).body) as unknown;
    expect(body).toEqual({
      type: 'TAG_RETENTION',
      occur_at: 1767323045,
      operator: 'tag-retention',
      event_data: {
        retention: {
          total: 3,
          retained: 1,
          harbor_hostname: 'reg.example.com',
          project_name: 'lib',
          retention_policy_id: 4,
          retention_rule: [
            {
              template: 'latestPushedK',
              params: { latestPushedK: 1 },
              tag_selectors: rule.tag_selectors,
              scope_selectors: rule.scope_selectors,
            },
          ],
          result: 'SUCCESS',
          deleted_artifact: [
            { type: 'image', status: 'SUCCESS', name_tag: 'app:old' },
            { type: 'image', status: 'SUCCESS', name_tag: 'app/web:sha256:bbb' },
          ],
        },
      },
    });
  });

  it('go out as CloudEvents of type harbor.tag_retention.finished and as a Slack message', () => {
    const ce = JSON.parse(buildPayload('http', 'CloudEvents', 'TAG_RETENTION', finished, ctx).body) as {
      type: string;
      data: { retention: { result: string } };
    };
    expect(ce.type).toBe('harbor.tag_retention.finished');
    expect(ce.data.retention.result).toBe('SUCCESS');
    const slack = JSON.parse(buildPayload('slack', 'Default', 'TAG_RETENTION', finished, ctx).body) as {
      text: string;
    };
    expect(slack.text).toContain('1 of 3 retained, 2 deleted');
  });
});
