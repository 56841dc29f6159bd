import { describe, expect, it } from 'vitest';
import { changesOf } from './admin-events.js';

describe('changesOf', () => {
  it("names fields as the API does, drops secrets and credentials, says 'changed' for structures", () => {
    expect(
      changesOf({
        destNamespace: 'mirror',
        replicateDeletion: true,
        description: null,
        accessSecret: 'Sup3r-secret',
        credential: { type: 'basic', accessKey: 'ci', accessSecret: 'Sup3r-secret' },
        filters: [{ type: 'name', value: 'library/**' }],
        speed: undefined,
      }),
    ).toEqual({ dest_namespace: 'mirror', replicate_deletion: true, description: null, filters: 'changed' });
  });
});
