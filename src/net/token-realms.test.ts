import { describe, expect, it } from 'vitest';
import { trustedRealmHosts } from './token-realms.js';

describe('trustedRealmHosts', () => {
  it("has Docker Hub's pair built in and adds the configured hosts by endpoint host", () => {
    expect(trustedRealmHosts({}, 'registry-1.docker.io')).toEqual(['auth.docker.io']);
    expect(trustedRealmHosts({}, 'registry.example.com')).toEqual([]);
    const configured = { 'registry.example.com:5000': ['registry.example.com:5001'] };
    expect(trustedRealmHosts(configured, 'Registry.Example.com:5000')).toEqual(['registry.example.com:5001']);
    // Another port of the same name is another endpoint host.
    expect(trustedRealmHosts(configured, 'registry.example.com')).toEqual([]);
  });
});
