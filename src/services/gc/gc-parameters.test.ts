import { describe, expect, it } from 'vitest';
import { ServiceError } from '../service-error.js';
import { parseGcParameters } from './gc-parameters.js';
import { describeSummary, emptySummary, formatBytes } from './gc-summary.js';

describe('parseGcParameters', () => {
  it('defaults to a real run that keeps untagged artifacts, with one worker', () => {
    expect(parseGcParameters(undefined)).toEqual({ deleteUntagged: false, dryRun: false, workers: 1 });
    expect(parseGcParameters({})).toEqual({ deleteUntagged: false, dryRun: false, workers: 1 });
  });

  it("reads Harbor's job parameters and the interface's names, booleans as strings too", () => {
    expect(parseGcParameters({ delete_untagged: true, dry_run: 'true', workers: 5 })).toEqual({
      deleteUntagged: true,
      dryRun: true,
      workers: 5,
    });
    expect(parseGcParameters({ deleteUntagged: 'false', dryRun: true, workers: '3' })).toEqual({
      deleteUntagged: false,
      dryRun: true,
      workers: 3,
    });
  });

  it.each([
    [{ workers: 0 }, 'workers must be an integer from 1 to 5'],
    [{ workers: 6 }, 'workers must be an integer from 1 to 5'],
    [{ workers: 1.5 }, 'workers must be an integer from 1 to 5'],
    [{ workers: 'two' }, 'workers must be an integer from 1 to 5'],
    [{ dry_run: 'yes' }, 'dry_run must be true or false'],
    [{ delete_untagged: 1 }, 'delete_untagged must be true or false'],
    [[], 'garbage collection parameters must be an object'],
    ['dry', 'garbage collection parameters must be an object'],
  ])('refuses %j as a bad request', (payload, message) => {
    const thrown = (() => {
      try {
        parseGcParameters(payload);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(ServiceError);
    expect((thrown as ServiceError).kind).toBe('invalid');
    expect((thrown as ServiceError).message).toBe(message);
  });
});

describe('the summary in words', () => {
  it('states what a run deleted, and what a dry run would', () => {
    const summary = {
      ...emptySummary(false),
      blobsDeleted: 12,
      bytesFreed: Math.round(3.4 * 1024 * 1024),
      manifestsDeleted: 2,
      uploadSessionsPurged: 1,
    };
    expect(describeSummary(summary)).toBe(
      'deleted 12 blobs (3.4 MiB) and 2 manifests; purged 1 upload session',
    );
    expect(describeSummary({ ...summary, dryRun: true, orphansRemoved: 2, linksRemoved: 1 })).toBe(
      'dry run: would delete 12 blobs (3.4 MiB) and 2 manifests; would purge 1 upload session and 2 orphan objects; would unlink 1 unused layer link',
    );
    expect(describeSummary(emptySummary(false))).toBe('deleted 0 blobs (0 bytes) and 0 manifests');
  });

  it('formats bytes in binary units', () => {
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(1023)).toBe('1023 bytes');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });
});
