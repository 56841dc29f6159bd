import { describe, expect, it } from 'vitest';
import { cleanLine, formatLog, MAX_LINE_LENGTH } from './job-log.js';

describe('job log lines', () => {
  it('are one line each, without control characters, bounded', () => {
    expect(cleanLine('copied\nlayer\r\n1\u0007')).toBe('copied layer 1');
    expect(cleanLine('x'.repeat(MAX_LINE_LENGTH + 10)).length).toBe(MAX_LINE_LENGTH + 1);
  });

  it('are served as "time line" rows', () => {
    const at = new Date('2024-03-01T10:00:00Z');
    expect(
      formatLog([
        { at, line: 'started' },
        { at, line: 'done' },
      ]),
    ).toBe('2024-03-01T10:00:00.000Z started\n2024-03-01T10:00:00.000Z done\n');
  });
});
