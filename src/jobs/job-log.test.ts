import { describe, expect, it } from 'vitest';
import { attemptStartedLine, cleanLine, formatLog, MAX_LINE_LENGTH } from './job-log.js';
import { RETRY_UNTIL_DEADLINE } from './queue.js';

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

  it('count attempts plainly and name the instance', () => {
    expect(attemptStartedLine(2, 5, 'wharf-1')).toBe('attempt 2 of 5 started on wharf-1');
    // Retries a deadline ends have no count worth showing.
    expect(attemptStartedLine(2, RETRY_UNTIL_DEADLINE, 'wharf-1')).toBe('attempt 2 started on wharf-1');
  });
});
