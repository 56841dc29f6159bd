import { describe, expect, it } from 'vitest';
import { filterShape, newPolicy, newPolicyBody, policyChanges, policyChangesBody } from './policy-body.js';

// The edge of /replication/policies: Harbor's snake_case body checked for shape and types and
// mapped to the policy service's domain input (the rules are the service's, tested through the API).

function issues(result: { success: boolean; error?: { issues: Array<{ message: string }> } }): string {
  return (result.error?.issues ?? []).map((i) => i.message).join('; ');
}

describe('filterShape', () => {
  it.each([
    [
      { type: 'name', value: 'library/**' },
      { type: 'name', value: 'library/**' },
    ],
    [
      { type: 'name', value: null },
      { type: 'name', value: '' },
    ],
    [
      { type: 'tag', value: 'v*', decoration: 'excludes' },
      { type: 'tag', value: 'v*', decoration: 'excludes' },
    ],
    [
      { type: 'tag', value: 'v*', decoration: '' },
      { type: 'tag', value: 'v*' },
    ],
    [
      { type: 'label', value: ['a', 'b'], decoration: 'matches' },
      { type: 'label', value: ['a', 'b'], decoration: 'matches' },
    ],
    [
      { type: 'label', value: null },
      { type: 'label', value: [] },
    ],
    [
      { type: 'resource', value: 'image', decoration: null },
      { type: 'resource', value: 'image' },
    ],
  ])('reads %j', (raw, expected) => {
    expect(filterShape.parse(raw)).toEqual(expected);
  });

  it.each([
    [{ type: 'kind', value: 'x' }, /^invalid filter type "kind": one of name, tag, label, resource$/],
    [{ value: 'x' }, /invalid filter type/],
    ['name', /each filter must be an object/],
    [{ type: 'tag', value: 'x', decoration: 'contains' }, /invalid filter decoration "contains"/],
    [{ type: 'tag', value: 5 }, /the value of a tag filter must be a string/],
    [{ type: 'name', value: ['a'] }, /the value of a name filter must be a string/],
    [{ type: 'label', value: 'prod' }, /list of label names/],
    [{ type: 'label', value: ['a', 1] }, /list of label names/],
    [{ type: 'resource', value: 'helm' }, /invalid resource filter "helm"/],
    [{ type: 'resource', value: 'image', decoration: 'excludes' }, /take a decoration/],
  ])('refuses %j', (raw, message) => {
    const result = filterShape.safeParse(raw);
    expect(result.success).toBe(false);
    expect(issues(result)).toMatch(message);
  });
});

describe('policy bodies', () => {
  it('maps a full Harbor body to the domain input', () => {
    const body = newPolicyBody.parse({
      name: 'to-peer',
      src_registry: null,
      dest_registry: { id: 7 },
      dest_namespace: 'mirror',
      dest_namespace_replace_count: 1,
      filters: [{ type: 'tag', value: 'v*', decoration: 'matches' }],
      trigger: { type: 'scheduled', trigger_settings: { cron: '0 0 2 * * *' } },
      deletion: true,
      speed: -1,
      copy_by_chunk: true,
      unknown_field: 'ignored',
    });
    expect(newPolicy(body)).toEqual({
      name: 'to-peer',
      sides: { srcRegistryId: null, destRegistryId: 7 },
      destNamespace: 'mirror',
      destNamespaceReplaceCount: 1,
      filters: [{ type: 'tag', value: 'v*', decoration: 'matches' }],
      trigger: { type: 'scheduled', cron: '0 0 2 * * *' },
      replicateDeletion: true,
      speed: -1,
      copyByChunk: true,
    });
  });

  it('keeps what a PUT leaves out; registry 0 and null are this registry; a null trigger is manual', () => {
    expect(policyChanges(policyChangesBody.parse({ enabled: false }))).toEqual({ enabled: false });
    expect(
      policyChanges(policyChangesBody.parse({ src_registry: { id: 3 }, dest_registry: { id: 0 } })).sides,
    ).toEqual({ srcRegistryId: 3, destRegistryId: null });
    expect(policyChanges(policyChangesBody.parse({ trigger: null })).trigger).toEqual({
      type: 'manual',
      cron: '',
    });
    expect(policyChanges(policyChangesBody.parse({ trigger: { type: '' } })).trigger).toEqual({
      type: 'manual',
      cron: '',
    });
    expect(policyChanges(policyChangesBody.parse({ filters: null })).filters).toEqual([]);
    // The current name wins over the deprecated one.
    expect(
      policyChanges(policyChangesBody.parse({ replicate_deletion: false, deletion: true })).replicateDeletion,
    ).toBe(false);
  });

  it('names the Harbor field that is wrong', () => {
    const refused = (body: unknown) => issues(newPolicyBody.safeParse(body));
    expect(refused({ dest_registry: { id: 1 } })).toMatch(/name is required/);
    expect(refused({ name: 'x', dest_registry: { id: 'one' } })).toMatch(
      /dest_registry.id must be a registry id/,
    );
    expect(refused({ name: 'x', dest_registry: 3 })).toMatch(/dest_registry must be a registry object/);
    expect(refused({ name: 'x', trigger: 'manual' })).toMatch(/trigger must be an object/);
    expect(refused({ name: 'x', trigger: { type: 'sometimes' } })).toMatch(
      /invalid trigger type "sometimes"/,
    );
    expect(refused({ name: 'x', trigger: { type: 'scheduled', trigger_settings: { cron: 5 } } })).toMatch(
      /trigger_settings.cron must be a string/,
    );
    expect(refused({ name: 'x', filters: { type: 'name' } })).toMatch(/filters must be a list/);
    expect(refused({ name: 'x', dest_namespace: 7 })).toMatch(/dest_namespace must be a string/);
    expect(refused({ name: 'x', speed: '100' })).toMatch(/speed must be an integer/);
    expect(refused({ name: 'x', copy_by_chunk: 'yes' })).toMatch(/copy_by_chunk must be true or false/);
  });
});
