import { describe, expect, it } from 'vitest';
import { BackgroundTasks } from './background-tasks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('background tasks', () => {
  it('reports a failing task by name until a later run succeeds', async () => {
    const errors: string[] = [];
    const tasks = new BackgroundTasks((name) => errors.push(name));
    let fail = true;
    tasks.add({
      name: 'purge',
      intervalMs: 10,
      run: async () => {
        if (fail) throw new Error('database unavailable');
      },
    });
    await sleep(50);
    await expect(tasks.check()).rejects.toThrow(/purge failed at .*database unavailable/);
    expect(errors[0]).toBe('purge');
    fail = false;
    await sleep(50);
    await expect(tasks.check()).resolves.toBeUndefined();
    await tasks.stop();
  });

  it('never runs a task twice at once, and stop waits for the run in progress', async () => {
    const tasks = new BackgroundTasks(() => undefined);
    let running = 0;
    let most = 0;
    let finished = 0;
    tasks.add({
      name: 'slow',
      intervalMs: 5,
      run: async () => {
        running++;
        most = Math.max(most, running);
        await sleep(40);
        running--;
        finished++;
      },
    });
    await sleep(60);
    await tasks.stop();
    expect(most).toBe(1);
    expect(running).toBe(0);
    expect(finished).toBeGreaterThan(0);
  });
});
