import { describe, expect, it } from 'vitest';
import { cronError, nextFireTime } from './schedules.js';

describe('cron expressions', () => {
  it("take Harbor's six fields with seconds, in UTC", () => {
    const after = new Date('2024-03-01T10:30:00Z');
    expect(nextFireTime('0 0 * * * *', after).toISOString()).toBe('2024-03-01T11:00:00.000Z');
    expect(nextFireTime('0 0 2 * * *', after).toISOString()).toBe('2024-03-02T02:00:00.000Z');
    expect(nextFireTime('*/5 * * * * *', new Date('2024-03-01T10:30:01.500Z')).toISOString()).toBe(
      '2024-03-01T10:30:05.000Z',
    );
  });

  it('accept five fields too', () => {
    expect(nextFireTime('30 4 * * *', new Date('2024-03-01T10:30:00Z')).toISOString()).toBe(
      '2024-03-02T04:30:00.000Z',
    );
  });

  it('give the next time strictly after the given one', () => {
    const at = new Date('2024-03-01T11:00:00Z');
    expect(nextFireTime('0 0 * * * *', at).toISOString()).toBe('2024-03-01T12:00:00.000Z');
  });

  it('name what is wrong with an invalid expression', () => {
    expect(cronError('0 0 * * * *')).toBeNull();
    expect(cronError('every day')).toMatch(/./);
    expect(cronError('61 * * * * *')).toMatch(/./);
  });
});
