import { describe, expect, it } from 'vitest';
import {
  endpointChanges,
  endpointChangesBody,
  newEndpoint,
  newEndpointBody,
  pingBody,
} from './endpoint-body.js';

// The edge of /registries: Harbor's Registry, RegistryUpdate and RegistryPing bodies checked for
// shape and types and mapped to the endpoint service's domain input.

function issues(result: { success: boolean; error?: { issues: Array<{ message: string }> } }): string {
  return (result.error?.issues ?? []).map((i) => i.message).join('; ');
}

describe('registry bodies', () => {
  it('maps a Registry with its nested credential', () => {
    const body = newEndpointBody.parse({
      name: 'branch',
      url: 'https://branch.example.com',
      type: 'harbor',
      credential: { type: '', access_key: 'robot$sync', access_secret: 's3cret' },
      insecure: false,
      ca_certificate: '',
    });
    expect(newEndpoint(body)).toEqual({
      name: 'branch',
      url: 'https://branch.example.com',
      type: 'harbor',
      credential: { accessKey: 'robot$sync', accessSecret: 's3cret' },
      insecure: false,
      // A cleared field removes the CA bundle.
      caCertificate: null,
    });
  });

  it('maps a RegistryUpdate with its flat credential; what it leaves out stays unchanged', () => {
    expect(
      endpointChanges(
        endpointChangesBody.parse({ credential_type: 'oauth', access_secret: 'token', description: 'd' }),
      ),
    ).toEqual({ description: 'd', credential: { type: 'oauth', accessSecret: 'token' } });
    expect(endpointChanges(endpointChangesBody.parse({ credential: null, type: '' }))).toEqual({
      credential: null,
    });
    expect(endpointChanges(endpointChangesBody.parse({}))).toEqual({});
  });

  it('pings a stored endpoint by id, or one described by url and type', () => {
    expect(pingBody.parse({ id: 4, insecure: true })).toEqual({
      kind: 'stored',
      id: 4,
      changes: { insecure: true },
    });
    expect(pingBody.parse({ url: 'http://127.0.0.1:5000', type: 'docker-registry' })).toEqual({
      kind: 'described',
      endpoint: { url: 'http://127.0.0.1:5000', type: 'docker-registry' },
    });
    expect(issues(pingBody.safeParse({ type: 'harbor' }))).toBe('url (or the id of a registry) is required');
    expect(issues(pingBody.safeParse({ url: 'http://127.0.0.1:5000' }))).toBe('type is required');
    expect(issues(pingBody.safeParse({ id: 0 }))).toMatch(/id must be a positive integer/);
  });

  it('names the Harbor field that is wrong', () => {
    const refused = (body: unknown) => issues(newEndpointBody.safeParse(body));
    expect(refused({ url: 'http://127.0.0.1:1', type: 'harbor' })).toBe('name is required');
    expect(refused({ name: 'x', type: 'harbor' })).toBe('url is required');
    expect(refused({ name: 'x', url: 'http://127.0.0.1:1' })).toBe('type is required');
    expect(refused({ name: 'x', url: 'http://127.0.0.1:1', type: 'quay' })).toBe(
      'unknown registry type "quay": one of docker-registry, harbor',
    );
    expect(refused({ name: 'x', url: 'http://127.0.0.1:1', type: 3 })).toBe('type must be a string');
    expect(
      refused({ name: 'x', url: 'http://127.0.0.1:1', type: 'harbor', credential: { type: 'secret' } }),
    ).toBe('unknown credential type "secret": basic or oauth');
    expect(refused({ name: 'x', url: 'http://127.0.0.1:1', type: 'harbor', credential: 'basic' })).toBe(
      'credential must be a JSON object or null',
    );
    expect(refused({ name: 'x', url: 'http://127.0.0.1:1', type: 'harbor', ca_certificate: 1 })).toBe(
      'ca_certificate must be a PEM string',
    );
    expect(issues(endpointChangesBody.safeParse({ type: 'quay' }))).toMatch(/unknown registry type "quay"/);
  });
});
