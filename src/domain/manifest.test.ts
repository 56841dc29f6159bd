import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RegistryError } from './errors.js';
import { parseManifest, requiredBlobDigests, type ParsedManifest } from './manifest.js';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from './media-types.js';

function digest(seed: string): string {
  return `sha256:${createHash('sha256').update(seed).digest('hex')}`;
}

const CONFIG = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('config'), size: 10 };
const LAYER = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest('layer'), size: 20 };
const CHILD = { mediaType: OCI_MANIFEST, digest: digest('child'), size: 30, platform: { os: 'linux' } };

function bytes(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc));
}

function parse(doc: unknown, contentType?: string): ParsedManifest {
  return parseManifest(bytes(doc), contentType);
}

function expectInvalid(doc: unknown, contentType: string | undefined, message: RegExp): void {
  let error: unknown;
  try {
    parseManifest(typeof doc === 'string' ? Buffer.from(doc) : bytes(doc), contentType);
  } catch (err) {
    error = err;
  }
  expect(error, message.source).toBeInstanceOf(RegistryError);
  expect((error as RegistryError).code).toBe('MANIFEST_INVALID');
  expect((error as RegistryError).message).toMatch(message);
}

const image = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: CONFIG, layers: [LAYER] };

describe('parseManifest: image manifests', () => {
  it('parses an OCI image manifest', () => {
    expect(parse(image, OCI_MANIFEST)).toEqual({
      mediaType: OCI_MANIFEST,
      kind: 'image',
      config: CONFIG,
      layers: [LAYER],
      manifests: [],
      artifactType: CONFIG.mediaType,
    });
  });

  it('parses a Docker schema 2 manifest', () => {
    const docker = { ...image, mediaType: DOCKER_MANIFEST };
    expect(parse(docker, DOCKER_MANIFEST).kind).toBe('image');
    expect(parse(docker, DOCKER_MANIFEST).mediaType).toBe(DOCKER_MANIFEST);
  });

  it('takes the type from Content-Type, ignoring its parameters and case', () => {
    expect(parse(image, `${OCI_MANIFEST.toUpperCase()}; charset=utf-8`).mediaType).toBe(OCI_MANIFEST);
  });

  it('takes the type from the mediaType field when Content-Type names no manifest type', () => {
    const docker = { ...image, mediaType: DOCKER_MANIFEST };
    expect(parse(docker, 'application/json').mediaType).toBe(DOCKER_MANIFEST);
    expect(parse(docker, undefined).mediaType).toBe(DOCKER_MANIFEST);
  });

  it('takes the type from Content-Type when the body has no mediaType field', () => {
    const { mediaType: _omitted, ...untyped } = image;
    expect(parse(untyped, DOCKER_MANIFEST).mediaType).toBe(DOCKER_MANIFEST);
  });

  it('infers OCI types from the shape when nothing names one', () => {
    const { mediaType: _omitted, ...untyped } = image;
    expect(parse(untyped).mediaType).toBe(OCI_MANIFEST);
    expect(parse({ schemaVersion: 2, manifests: [CHILD] }).mediaType).toBe(OCI_INDEX);
  });

  it('keeps subject, annotations, artifactType and descriptor details', () => {
    const subject = { mediaType: OCI_MANIFEST, digest: digest('subject'), size: 99 };
    const layer = { ...LAYER, annotations: { a: 'b' }, urls: ['https://example.invalid/x'] };
    const parsed = parse(
      {
        ...image,
        layers: [layer],
        subject,
        artifactType: 'application/vnd.example.sbom',
        annotations: { 'org.example': 'yes' },
      },
      OCI_MANIFEST,
    );
    expect(parsed.subject).toEqual(subject);
    expect(parsed.layers).toEqual([layer]);
    expect(parsed.artifactType).toBe('application/vnd.example.sbom');
    expect(parsed.annotations).toEqual({ 'org.example': 'yes' });
  });

  it('treats an empty artifactType as absent: the config media type stands in', () => {
    expect(parse({ ...image, artifactType: '' }, OCI_MANIFEST).artifactType).toBe(CONFIG.mediaType);
  });

  it('accepts an empty layer list (artifacts)', () => {
    expect(parse({ ...image, layers: [] }, OCI_MANIFEST).layers).toEqual([]);
  });

  it('accepts descriptors with sha512 digests', () => {
    const sha512 = `sha512:${createHash('sha512').update('x').digest('hex')}`;
    expect(parse({ ...image, layers: [{ ...LAYER, digest: sha512 }] }, OCI_MANIFEST).layers[0]?.digest).toBe(
      sha512,
    );
  });
});

describe('parseManifest: indexes', () => {
  it('parses an OCI index and a Docker manifest list', () => {
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [CHILD] };
    expect(parse(index, OCI_INDEX)).toEqual({
      mediaType: OCI_INDEX,
      kind: 'index',
      layers: [],
      manifests: [CHILD],
    });
    const list = { ...index, mediaType: DOCKER_MANIFEST_LIST };
    expect(parse(list, DOCKER_MANIFEST_LIST).kind).toBe('index');
  });

  it('leaves artifactType out of an index that declares none (or an empty one)', () => {
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
    expect(parse(index, OCI_INDEX).artifactType).toBeUndefined();
    expect(parse({ ...index, artifactType: '' }, OCI_INDEX).artifactType).toBeUndefined();
    expect(parse({ ...index, artifactType: 'application/x.y' }, OCI_INDEX).artifactType).toBe(
      'application/x.y',
    );
  });
});

describe('parseManifest: refusals', () => {
  it('refuses what is not a JSON object', () => {
    expectInvalid('{"schemaVersion": 2,', OCI_MANIFEST, /not valid JSON/);
    expectInvalid('', OCI_MANIFEST, /not valid JSON/);
    expectInvalid([], OCI_MANIFEST, /JSON object/);
    expectInvalid(null, OCI_MANIFEST, /JSON object/);
    expectInvalid('"text"', OCI_MANIFEST, /JSON object/);
  });

  it('refuses any schemaVersion but the number 2', () => {
    expectInvalid({ ...image, schemaVersion: 1 }, OCI_MANIFEST, /schemaVersion/);
    expectInvalid({ ...image, schemaVersion: '2' }, OCI_MANIFEST, /schemaVersion/);
    expectInvalid({ ...image, schemaVersion: undefined }, OCI_MANIFEST, /schemaVersion/);
  });

  it('refuses a mediaType field that contradicts Content-Type', () => {
    expectInvalid(image, DOCKER_MANIFEST, /does not match/);
    expectInvalid({ ...image, mediaType: OCI_INDEX }, OCI_MANIFEST, /does not match/);
  });

  it('refuses media types that are not manifests', () => {
    expectInvalid(
      { ...image, mediaType: 'application/x-nope' },
      undefined,
      /unsupported manifest media type/,
    );
    expectInvalid({ ...image, mediaType: 42 }, OCI_MANIFEST, /mediaType must be a string/);
  });

  it('refuses missing or malformed parts', () => {
    expectInvalid({ ...image, config: undefined }, OCI_MANIFEST, /config must be an object/);
    expectInvalid({ ...image, layers: undefined }, OCI_MANIFEST, /layers is required/);
    expectInvalid({ ...image, layers: {} }, OCI_MANIFEST, /layers must be an array/);
    expectInvalid({ schemaVersion: 2, mediaType: OCI_INDEX }, OCI_INDEX, /manifests is required/);
    expectInvalid({ ...image, annotations: { a: 1 } }, OCI_MANIFEST, /annotations must be a map of strings/);
    expectInvalid({ ...image, artifactType: 7 }, OCI_MANIFEST, /artifactType must be a string/);
  });

  it('refuses malformed descriptors, naming where', () => {
    const bad = (layer: unknown) => ({ ...image, layers: [LAYER, layer] });
    expectInvalid(bad('x'), OCI_MANIFEST, /layers\[1\] must be an object/);
    expectInvalid(bad({ ...LAYER, mediaType: '' }), OCI_MANIFEST, /layers\[1\]\.mediaType is required/);
    expectInvalid(bad({ ...LAYER, digest: undefined }), OCI_MANIFEST, /layers\[1\]\.digest is required/);
    expectInvalid(bad({ ...LAYER, digest: 'sha256:abc' }), OCI_MANIFEST, /layers\[1\]\.digest/);
    expectInvalid(bad({ ...LAYER, digest: `md5:${'a'.repeat(32)}` }), OCI_MANIFEST, /layers\[1\]\.digest/);
    expectInvalid(bad({ ...LAYER, size: -1 }), OCI_MANIFEST, /size must be a non-negative integer/);
    expectInvalid(bad({ ...LAYER, size: 1.5 }), OCI_MANIFEST, /size must be a non-negative integer/);
    expectInvalid(bad({ ...LAYER, size: '20' }), OCI_MANIFEST, /size must be a non-negative integer/);
    expectInvalid(bad({ ...LAYER, urls: 'x' }), OCI_MANIFEST, /urls must be an array of strings/);
    expectInvalid({ ...image, subject: { digest: 'x' } }, OCI_MANIFEST, /subject\.mediaType is required/);
  });
});

describe('requiredBlobDigests', () => {
  it('lists config and layers once each, and nothing for an index', () => {
    const parsed = parse({ ...image, layers: [LAYER, LAYER] }, OCI_MANIFEST);
    expect(requiredBlobDigests(parsed)).toEqual([CONFIG.digest, LAYER.digest]);
    expect(requiredBlobDigests(parse({ schemaVersion: 2, manifests: [CHILD] }))).toEqual([]);
  });

  it('exempts foreign layers that have URLs, but not those without', () => {
    const foreign = {
      mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
      digest: digest('foreign'),
      size: 5,
    };
    const withUrls = parse(
      { ...image, mediaType: DOCKER_MANIFEST, layers: [{ ...foreign, urls: ['https://example.invalid/f'] }] },
      DOCKER_MANIFEST,
    );
    expect(requiredBlobDigests(withUrls)).toEqual([CONFIG.digest]);
    const withoutUrls = parse({ ...image, mediaType: DOCKER_MANIFEST, layers: [foreign] }, DOCKER_MANIFEST);
    expect(requiredBlobDigests(withoutUrls)).toEqual([CONFIG.digest, foreign.digest]);
  });
});
