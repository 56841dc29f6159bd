import { describe, expect, it } from 'vitest';
import type { EventType, RecordedEvent } from '../../domain/events.js';
import { AUDITED_TYPES, auditEntryOf, auditEventTypeNames } from './describe.js';

function recorded<T extends EventType>(
  event: Omit<RecordedEvent<T>, 'id' | 'sequence' | 'occurredAt'>,
): RecordedEvent {
  return {
    ...event,
    id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
    sequence: 1,
    occurredAt: new Date(0),
  } as RecordedEvent;
}

describe('audit descriptions', () => {
  it('lists Harbor-style event types, one per operation and resource type', () => {
    const names = auditEventTypeNames();
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
    for (const n of [
      'create_artifact',
      'pull_artifact',
      'login_user',
      'change_password_user',
      'disable_robot',
    ]) {
      expect(names).toContain(n);
    }
    // Replication's own completion is a webhook event, not an audited change.
    expect(AUDITED_TYPES.has('replication.finished')).toBe(false);
  });

  it('names the member, both roles, the project and the operator kind', () => {
    const entry = auditEntryOf(
      recorded<'member.role_changed'>({
        type: 'member.role_changed',
        actor: { name: 'robot$app+admin', kind: 'robot', clientIp: null },
        projectName: 'app',
        data: { member: 'ann', memberKind: 'user', role: 'maintainer', previousRole: 'developer' },
      }),
    );
    expect(entry).toMatchObject({
      operator: 'robot$app+admin',
      operatorKind: 'robot',
      projectName: 'app',
      resourceType: 'member',
      operation: 'update',
      resource: 'ann',
      description: 'changed the role of user ann in project app from developer to maintainer',
      success: true,
    });
  });

  it('records a refused sign-in as a failure', () => {
    const entry = auditEntryOf(
      recorded<'user.login'>({
        type: 'user.login',
        actor: { name: 'ann', kind: 'user', clientIp: '192.0.2.1' },
        projectName: null,
        data: { name: 'ann', result: 'failure' },
      }),
    );
    expect(entry).toMatchObject({ operation: 'login', success: false, clientIp: '192.0.2.1' });
  });

  it('files a deleted project under its id, carried by the event', () => {
    const entry = auditEntryOf(
      recorded<'project.deleted'>({
        type: 'project.deleted',
        actor: { name: 'admin', kind: 'user', clientIp: null },
        projectName: 'gone',
        data: { name: 'gone', id: 42 },
      }),
    );
    expect(entry).toMatchObject({ projectId: 42, projectName: null, description: 'deleted project gone' });
  });
});
