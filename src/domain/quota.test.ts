import { describe, expect, it } from 'vitest';
import {
  crossesWarning,
  exceededMessage,
  exceedsLimit,
  formatStorage,
  isValidStorageLimit,
  warningMessage,
} from './quota.js';

describe('storage quota rules', () => {
  it('prints sizes as Harbor does: binary units, four significant digits', () => {
    expect(formatStorage(0)).toBe('0B');
    expect(formatStorage(1023)).toBe('1023B');
    expect(formatStorage(1024)).toBe('1KiB');
    expect(formatStorage(1500)).toBe('1.465KiB');
    expect(formatStorage(10 * 1024 ** 3)).toBe('10GiB');
  });

  it('refuses only what goes over a limit, never under an unlimited one', () => {
    expect(exceedsLimit(100, 60, 40)).toBe(false);
    expect(exceedsLimit(100, 60, 41)).toBe(true);
    expect(exceedsLimit(-1, 10 ** 15, 10 ** 15)).toBe(false);
    // Nothing new to the project: passes even when usage is over a lowered limit.
    expect(exceedsLimit(100, 150, 0)).toBe(false);
  });

  it('warns once, when usage crosses 85% of the limit', () => {
    expect(crossesWarning(1000, 800, 49)).toBe(false);
    expect(crossesWarning(1000, 800, 50)).toBe(true);
    expect(crossesWarning(1000, 860, 10)).toBe(false);
    expect(crossesWarning(-1, 0, 10 ** 9)).toBe(false);
  });

  it("words messages as Harbor's quota middleware", () => {
    expect(exceededMessage({ hard: 10_000, used: 8600, adding: 2000 })).toBe(
      'Quota exceeded when processing the request of adding 1.953KiB of storage resource, which when ' +
        'updated to current usage of 8.398KiB will exceed the configured upper limit of 9.766KiB.',
    );
    expect(warningMessage(10_000, 8600)).toBe(
      'quota usage reach 85%: resource storage used 8.398KiB of 9.766KiB',
    );
  });

  it('accepts -1 or a positive number of bytes as a limit', () => {
    expect([-1, 1, 2 ** 40].every(isValidStorageLimit)).toBe(true);
    expect([0, -2, 1.5, Number.MAX_SAFE_INTEGER + 2].some(isValidStorageLimit)).toBe(false);
  });
});
