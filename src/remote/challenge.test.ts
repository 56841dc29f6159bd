import { describe, expect, it } from 'vitest';
import { nextLink, parseChallenge } from './challenge.js';

describe('parseChallenge', () => {
  it('reads a token challenge with quoted parameters', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://r.example/service/token",service="registry",scope="repository:a/b:pull,push"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://r.example/service/token',
        service: 'registry',
        scope: 'repository:a/b:pull,push',
      },
    });
  });

  it('reads Basic, bare tokens, spaces and escapes', () => {
    expect(parseChallenge('Basic realm="Wharf", charset="UTF-8"')).toEqual({
      scheme: 'basic',
      params: { realm: 'Wharf', charset: 'UTF-8' },
    });
    expect(parseChallenge('bearer realm = "a\\"b" , service=svc')).toEqual({
      scheme: 'bearer',
      params: { realm: 'a"b', service: 'svc' },
    });
  });

  it('returns null for nothing', () => {
    expect(parseChallenge(undefined)).toBeNull();
    expect(parseChallenge('')).toBeNull();
  });
});

describe('nextLink', () => {
  const base = 'http://127.0.0.1:5000/v2/_catalog?n=2';
  it('resolves a relative next link', () => {
    expect(nextLink('</v2/_catalog?last=b&n=2>; rel="next"', base)).toBe(
      'http://127.0.0.1:5000/v2/_catalog?last=b&n=2',
    );
  });
  it('picks next among several relations', () => {
    expect(nextLink('</p?page=1>; rel="prev" , </p?page=3>; rel="next"', base)).toBe(
      'http://127.0.0.1:5000/p?page=3',
    );
  });
  it('is null without a next relation', () => {
    expect(nextLink('</p?page=1>; rel="prev"', base)).toBeNull();
    expect(nextLink(null, base)).toBeNull();
  });
});
