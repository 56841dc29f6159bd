import { describe, expect, it } from 'vitest';
import { PendingEvents } from './event-retry.js';
import type { EventPayload } from './types.js';

const event = (repository: string): EventPayload => ({ repository, tag: 'v1', operation: 'create' });

describe('PendingEvents', () => {
  it('writes kept events in order once writing works again, stopping at the first failure', async () => {
    const written: string[] = [];
    let failing = true;
    const reports: string[] = [];
    const pending = new PendingEvents(
      async (e) => {
        if (failing) throw new Error('database away');
        written.push(e.repository);
      },
      (message) => reports.push(message),
      { retryEveryMs: 60_000 },
    );
    pending.add(event('p/a'));
    pending.add(event('p/b'));
    await pending.flush();
    expect(written).toEqual([]);
    expect(pending.size).toBe(2);
    expect(reports).toEqual(['replication event of p/a still not written']);
    failing = false;
    await pending.flush();
    expect(written).toEqual(['p/a', 'p/b']);
    expect(pending.size).toBe(0);
    pending.close();
  });

  it('is bounded: past the limit the oldest is given up and reported', async () => {
    const reports: string[] = [];
    const written: string[] = [];
    const pending = new PendingEvents(
      async (e) => {
        written.push(e.repository);
      },
      (message) => reports.push(message),
      { maxPending: 2, retryEveryMs: 60_000 },
    );
    pending.add(event('p/a'));
    pending.add(event('p/b'));
    pending.add(event('p/c'));
    expect(reports).toEqual(['replication event of p/a given up: too many pending']);
    await pending.flush();
    expect(written).toEqual(['p/b', 'p/c']);
    pending.close();
  });

  it('retries on its own timer', async () => {
    let attempts = 0;
    const pending = new PendingEvents(
      async () => {
        attempts++;
        if (attempts < 3) throw new Error('database away');
      },
      () => undefined,
      { retryEveryMs: 20 },
    );
    pending.add(event('p/a'));
    for (let i = 0; i < 100 && pending.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pending.size).toBe(0);
    expect(attempts).toBe(3);
    pending.close();
  });
});
