import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobKey, uploadDataKey } from '../../src/storage/paths.js';
import { parseDigest } from '../../src/domain/digest.js';
import { startInProcessWharf, type InProcessWharf } from '../helpers/in-process-wharf.js';

// Issue #10, point 14: malformed requests get a 4xx, never a 5xx. Several thousand generated
// requests (fixed seed: the same ones on every run) go to every route the app has: the /v2 API
// (names, digests, references, upload ids, ranges, Content-Range, query values, methods, bodies),
// every /api/v2.0 route as Fastify lists it (so a new route is fuzzed without touching this
// file), the token service and the login routes. Each answer must be below 500, carry the error
// shape of its API, and, where the spec names one, the spec's error code. Afterwards the server
// still answers and pushes, and the database and storage hold nothing half-written.

const SEED = 0x10_0014;
const RUNS = { v2: 1500, api: 1200, token: 150, login: 40 } as const;

/** The error codes of the OCI Distribution spec, and distribution's TAG_INVALID: the only codes a /v2 error may carry. */
const OCI_CODES = new Set([
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'TAG_INVALID',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
  'RANGE_INVALID',
]);

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
type Method = (typeof METHODS)[number];

function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface Fixture {
  configDigest: string;
  layerDigest: string;
  manifestDigest: string;
  token: string;
  sessionCookie: string;
  csrf: string;
  uploadId: string;
}

interface FuzzRequest {
  /** What the request was generated from, for the failure report. */
  label: string;
  options: InjectOptions & { method: Method; url: string };
  /** The status and code the spec prescribes for this request, when it does. */
  expect?: { status: number; code?: string };
}

interface Failure {
  label: string;
  method: string;
  url: string;
  status: number;
  problem: string;
  body: string;
}

let wharf: InProcessWharf;
let fixture: Fixture;
const failures: Failure[] = [];
let sent = 0;
const STATS = new Map<string, number>();
const apiTemplatesHit = new Set<string>();

// ---- generators: the pieces of a malformed request -------------------------------------------

/** Raw path-segment text: percent-encodings of NUL, invalid UTF-8, slashes, dots, overlong text. */
const NASTY_SEGMENTS = [
  '%00',
  'a%00b',
  '%FF',
  '%C3%28',
  '%ED%A0%80',
  '%E0%80%AF',
  '%',
  '%zz',
  '..',
  '..%2F..%2Fetc',
  '%2e%2e',
  'a%2Fb',
  '%5C..%5C',
  'x'.repeat(300),
  '9'.repeat(40),
  '-1',
  '0',
  '1e3',
  '%20',
  "'%20OR%201=1--",
  '%E2%80%AE',
  '%F0%9F%90%B3',
];

/** Text drawn from a small alphabet rich in separators, encoded so the request line stays valid. */
const encodedText = fc
  .array(
    fc.constantFrom(
      'a',
      'Z',
      '0',
      '9',
      '.',
      '_',
      '-',
      '/',
      ':',
      '~',
      ' ',
      '%',
      '\u0000',
      'é',
      '😀',
      '"',
      '<',
      '\\',
    ),
    {
      maxLength: 40,
    },
  )
  .map((chars) => encodeURIComponent(chars.join('')));

const segment = fc.oneof(fc.constantFrom(...NASTY_SEGMENTS), encodedText);

/** A query value: numbers of every size, NUL, invalid UTF-8, Harbor q syntax, long text. */
const queryValue = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '1',
    '-1',
    '10',
    '100',
    '101',
    '99999999999999999999',
    '1e10',
    '0x10',
    ' 5',
    '%00',
    'a%00',
    '%FF',
    '%2500',
    'name%3D~a',
    'name%3D%5B1~2%5D',
    'name%3D%7Ba%20b%7D',
    'name%3D(a%20b)',
    'op_time%3D%5B2020-01-01%2000%3A00%3A00~2030-01-01%2000%3A00%3A00%5D',
    'creation_time%3D%5Bx~y%5D',
    '%7B',
    'true',
    'false',
    'x'.repeat(5000),
  ),
  encodedText,
  fc.integer().map(String),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
);

function queryString(pairs: Array<[string, string]>): string {
  return pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`;
}

const printable = fc
  .array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 80 })
  .map((codes) => String.fromCharCode(...codes));

// ---- /v2 --------------------------------------------------------------------------------------

interface NameChoice {
  text: string;
  /** true: valid and in the private project `test`; false: outside the grammar; null: unsure. */
  valid: boolean | null;
}

const v2Name: fc.Arbitrary<NameChoice> = fc.oneof(
  fc.constantFrom<NameChoice>(
    { text: 'test/app', valid: true },
    { text: 'test/new/deep', valid: true },
    { text: 'test/a.b_c--d', valid: true },
    { text: 'Test/App', valid: false },
    { text: 'test/-x', valid: false },
    { text: 'test/a..b', valid: false },
    { text: 'test/x_', valid: false },
    { text: 'test/UPPER', valid: false },
    { text: `test/${'a'.repeat(300)}`, valid: false },
  ),
  fc.tuple(fc.constantFrom('test', 'pub', 'nope', 'Bad'), segment).map(([p, s]) => ({
    text: `${p}/${s}`,
    valid: null,
  })),
  segment.map((s) => ({ text: s, valid: null })),
);

const v2Reference = (f: () => Fixture) =>
  fc.oneof(
    fc.constantFrom(
      'v1',
      'latest',
      'sha256:short',
      'md5:abc',
      '.INVALID_MANIFEST_NAME',
      '-x',
      'x'.repeat(129),
    ),
    fc.constant(null).map(() => f().manifestDigest),
    fc.constant(null).map(() => sha256(randomBytes(8))),
    segment,
  );

/** References that can name no manifest: a read must answer 404 MANIFEST_UNKNOWN. */
const IMPOSSIBLE_REFERENCES = new Set([
  'sha256:short',
  'md5:abc',
  '.INVALID_MANIFEST_NAME',
  '-x',
  'x'.repeat(129),
]);

const v2Digest = (f: () => Fixture) =>
  fc.oneof(
    fc.constant(null).map(() => f().layerDigest),
    fc.constant(null).map(() => sha256(randomBytes(8))),
    fc.constantFrom(
      'sha256:short',
      `sha256:${'A'.repeat(64)}`,
      `sha512:${'a'.repeat(64)}`,
      `sha384:${'a'.repeat(96)}`,
      'md5:d41d8cd98f00b204e9800998ecf8427e',
      `sha256:${'a'.repeat(64)}%00`,
    ),
    segment,
  );

const MALFORMED_DIGESTS = new Set([
  'sha256:short',
  `sha256:${'A'.repeat(64)}`,
  `sha512:${'a'.repeat(64)}`,
  'md5:d41d8cd98f00b204e9800998ecf8427e',
]);

const rangeHeader = fc.oneof(
  fc.constantFrom(
    'bytes=0-0',
    'bytes=0-',
    'bytes=-1',
    'bytes=-0',
    'bytes=5-1',
    'bytes=99999999999999999999-',
    'bytes=0-1,2-3',
    'items=0-1',
    'bytes=',
    'bytes=a-b',
    'bytes 0-1',
  ),
  printable,
);

const contentRange = fc.oneof(
  fc.constantFrom(
    '0-0',
    '0-9',
    'bytes 0-9/10',
    '10-5',
    '0-99999999999999999999',
    '-1-5',
    'bytes=0-9',
    '*/10',
    '',
  ),
  printable,
);

const v2Body = (f: () => Fixture) =>
  fc.oneof(
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
    fc.constantFrom('{}', '[]', 'null', '{"schemaVersion":2}', '{', '\u0000'),
    fc
      .record({
        schemaVersion: fc.constantFrom(2, 1, -1, '2'),
        mediaType: fc.constantFrom(MANIFEST_TYPE, 'application/vnd.oci.image.index.v1+json', 'text/plain', 7),
        config: fc.constant(null).map(() => ({
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: f().configDigest,
          size: 2,
        })),
        layers: fc.array(
          fc.record({
            mediaType: fc.constantFrom('application/vnd.oci.image.layer.v1.tar', 'x'),
            digest: fc.oneof(
              fc.constant(null).map(() => f().layerDigest),
              fc.constantFrom('sha256:bad', 'zz'),
            ),
            size: fc.oneof(fc.nat(), fc.constantFrom(-1, 1e300, 'big')),
          }),
          { maxLength: 3 },
        ),
        subject: fc.option(
          fc.record({
            mediaType: fc.constant(MANIFEST_TYPE),
            digest: fc.constant('sha256:x'),
            size: fc.nat(),
          }),
        ),
      })
      .map((m) => JSON.stringify(m)),
  );

/** The methods each /v2 endpoint serves. */
const KIND_METHODS: Record<string, readonly Method[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET', 'HEAD'],
  tags: ['GET', 'HEAD'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'HEAD', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET', 'HEAD'],
  junk: METHODS,
};

function v2Requests(f: () => Fixture): fc.Arbitrary<FuzzRequest> {
  const kind = fc.constantFrom(
    'base',
    'catalog',
    'tags',
    'manifest',
    'blob',
    'uploads',
    'upload',
    'referrers',
    'junk',
  );
  const auth = fc.constantFrom(
    'admin',
    'admin',
    'anonymous',
    'token',
    'garbage-bearer',
    'garbage-basic',
    'other-scheme',
  );
  const uploadId = fc.oneof(
    // A real open session of test/app: chunks with every kind of Content-Range go into it.
    fc.constant(null).map(() => f().uploadId),
    fc.uuid(),
    fc.constantFrom('abc', '%00', '..', 'X'.repeat(40)),
    segment,
  );
  const v2QueryValue = fc.oneof(
    {
      arbitrary: fc.constantFrom(
        '%00',
        'a%00',
        'v1%00x',
        '%FF',
        '%C3%28',
        '%ED%A0%80',
        '0',
        '1',
        '10',
        '99999999999999999999',
      ),
      weight: 2,
    },
    { arbitrary: queryValue, weight: 1 },
  );
  const query = fc.array(
    fc.tuple(
      fc.constantFrom(
        'n',
        'last',
        'last',
        'artifactType',
        'artifactType',
        'digest',
        'mount',
        'from',
        'tag',
        'digest-algorithm',
        'junk',
      ),
      v2QueryValue,
    ),
    { maxLength: 2 },
  );
  return fc
    .record({
      kind,
      anyMethod: fc.constantFrom(...METHODS),
      // Three requests in four use a method the endpoint has, so they get past the method check.
      fitMethod: fc.constantFrom(true, true, true, false),
      methodPick: fc.nat(),
      name: v2Name,
      reference: v2Reference(f),
      digest: v2Digest(f),
      uploadId,
      query,
      auth,
      range: fc.option(rangeHeader),
      contentRange: fc.option(contentRange),
      contentType: fc.oneof(
        { arbitrary: fc.constant(null), weight: 3 },
        {
          arbitrary: fc.constantFrom(MANIFEST_TYPE, 'application/json', 'application/octet-stream'),
          weight: 3,
        },
        { arbitrary: printable, weight: 1 },
      ),
      body: v2Body(f),
    })
    .map((raw) => {
      const fitting = KIND_METHODS[raw.kind] ?? METHODS;
      const method = raw.fitMethod ? (fitting[raw.methodPick % fitting.length] as Method) : raw.anyMethod;
      const r = { ...raw, method };
      let path: string;
      switch (r.kind) {
        case 'base':
          path = '/v2/';
          break;
        case 'catalog':
          path = '/v2/_catalog';
          break;
        case 'tags':
          path = `/v2/${r.name.text}/tags/list`;
          break;
        case 'manifest':
          path = `/v2/${r.name.text}/manifests/${r.reference}`;
          break;
        case 'blob':
          path = `/v2/${r.name.text}/blobs/${r.digest}`;
          break;
        case 'uploads':
          path = `/v2/${r.name.text}/blobs/uploads/`;
          break;
        case 'upload':
          path = `/v2/${r.name.text}/blobs/uploads/${r.uploadId}`;
          break;
        case 'referrers':
          path = `/v2/${r.name.text}/referrers/${r.digest}`;
          break;
        default:
          path = `/v2/${r.name.text}/${r.reference}`;
      }
      const headers: Record<string, string> = { ...authHeaders(r.auth, f()) };
      if (r.range !== null) headers.range = r.range;
      if (r.contentRange !== null) headers['content-range'] = r.contentRange;
      if (r.contentType !== null) headers['content-type'] = r.contentType;
      const ociMethod = r.method !== 'OPTIONS';
      let expected: FuzzRequest['expect'];
      const noQuery = r.query.length === 0;
      // The spec's answer is known only for a path the client sends as generated (URL parsing
      // resolves dot segments, %2e%2e included) and a Content-Type Fastify can parse (else 415).
      const asSent = new URL(path, 'http://wharf').pathname === path;
      const plainType =
        r.contentType === null || r.contentType === MANIFEST_TYPE || r.contentType === 'application/json';
      if (!asSent || !plainType) {
        expected = undefined;
      } else if (
        r.auth === 'admin' &&
        ociMethod &&
        noQuery &&
        r.name.valid === false &&
        r.kind !== 'junk' &&
        r.kind !== 'base' &&
        r.kind !== 'catalog'
      ) {
        expected = { status: 400, ...(r.method !== 'HEAD' && { code: 'NAME_INVALID' }) };
      } else if (
        r.auth === 'admin' &&
        r.kind === 'manifest' &&
        (r.method === 'GET' || r.method === 'HEAD') &&
        r.name.text === 'test/app' &&
        IMPOSSIBLE_REFERENCES.has(r.reference)
      ) {
        expected = { status: 404, ...(r.method === 'GET' && { code: 'MANIFEST_UNKNOWN' }) };
      } else if (
        r.auth === 'admin' &&
        r.kind === 'blob' &&
        r.method === 'GET' &&
        r.name.valid === true &&
        MALFORMED_DIGESTS.has(r.digest)
      ) {
        expected = { status: 400, code: 'DIGEST_INVALID' };
      } else if (
        r.auth === 'anonymous' &&
        ociMethod &&
        r.name.text === 'test/app' &&
        r.kind !== 'junk' &&
        r.kind !== 'base' &&
        r.kind !== 'catalog'
      ) {
        // A private project: an anonymous caller is asked to authenticate, whatever else is wrong.
        expected = { status: 401, ...(r.method !== 'HEAD' && { code: 'UNAUTHORIZED' }) };
      }
      return {
        label: `v2 ${r.kind} auth=${r.auth}`,
        options: {
          method: r.method,
          url: path + queryString(r.query),
          headers,
          ...(r.body !== undefined && { payload: r.body }),
        },
        ...(expected && { expect: expected }),
      };
    });
}

function authHeaders(kind: string, f: Fixture): Record<string, string> {
  switch (kind) {
    case 'admin':
      return { authorization: wharf.adminAuth };
    case 'token':
      return { authorization: `Bearer ${f.token}` };
    case 'session':
      return { cookie: `sid=${f.sessionCookie}`, 'x-harbor-csrf-token': f.csrf };
    case 'session-no-csrf':
      return { cookie: `sid=${f.sessionCookie}` };
    case 'garbage-bearer':
      return { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' };
    case 'garbage-basic':
      // Undecodable (no colon): treated as no credentials, never a password check.
      return { authorization: 'Basic !!!not-base64' };
    case 'other-scheme':
      return { authorization: 'Negotiate abc' };
    default:
      return {};
  }
}

// ---- /api/v2.0, from Fastify's own route table -------------------------------------------------

interface RouteTemplate {
  path: string;
  methods: Method[];
}

/** Every route Fastify has, parsed from printRoutes (each line: tree prefix, segment, methods). */
function routeTable(): RouteTemplate[] {
  const text = wharf.app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: RouteTemplate[] = [];
  for (const line of text.split('\n')) {
    const m = /^([│├└─\s]*)(\S.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    stack.length = depth - 1;
    const path = (stack[depth - 2] ?? '') + (m[2] as string);
    stack[depth - 1] = path;
    const methods = (m[3] as string)
      .split(', ')
      .filter((x): x is Method => (METHODS as readonly string[]).includes(x));
    routes.push({ path, methods });
  }
  return routes;
}

/** Values for each path parameter: the fixtures' real ones, and everything else. */
function paramValues(name: string): fc.Arbitrary<string> {
  const known: Record<string, string[]> = {
    project: ['test', 'pub', 'library', '2', '3', 'nope'],
    repository: ['app', 'app%252Fx', 'new%252Fdeep', 'missing'],
    reference: ['v1', 'latest', 'sha256:short', '.INVALID'],
    tag: ['v1', 'v2', '-bad', 'x'.repeat(200)],
    name: ['public', 'auto_scan', 'severity', 'unknown_key', 'prevent_vul'],
    job_type: ['REPLICATION', 'GARBAGE_COLLECTION', 'nope', 'all'],
    // Never the admin's own id 1: the fuzzer is not meant to lock itself out by chance.
    user_id: ['2', '3', '0', '999'],
  };
  const ids = ['1', '2', '3', '0', '999999', '-1', 'abc', '1.5', '99999999999999999999'];
  return fc.oneof(
    { arbitrary: fc.constantFrom(...(known[name] ?? ids)), weight: 3 },
    { arbitrary: segment, weight: 1 },
  );
}

const HARBOR_FIELDS = [
  'project_name',
  'metadata',
  'public',
  'storage_limit',
  'registry_id',
  'cve_allowlist',
  'username',
  'password',
  'old_password',
  'new_password',
  'email',
  'realname',
  'comment',
  'sysadmin_flag',
  'role_id',
  'member_user',
  'member_group',
  'name',
  'description',
  'duration',
  'level',
  'disable',
  'permissions',
  'secret',
  'scope',
  'color',
  'project_id',
  'url',
  'type',
  'insecure',
  'credential',
  'access_key',
  'access_secret',
  'src_registry',
  'dest_registry',
  'dest_namespace',
  'filters',
  'trigger',
  'enabled',
  'deletion',
  'override',
  'speed',
  'policy_id',
  'status',
  'action',
  'auth_mode',
  'project_creation_restriction',
  'self_registration',
  'tags',
  'repository',
  'tag',
  'id',
  'items',
];

/** Loopback or nonsense only: the fuzzer must make no connection beyond this host. */
const urlValue = fc.constantFrom(
  'http://127.0.0.1:9',
  'https://127.0.0.1:9/x',
  'ftp://x',
  'not a url',
  '',
  'http://[::1',
  '%00',
);

const jsonLeaf = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1,
    2,
    1e308,
    -1e308,
    1.5,
    2 ** 53 + 1,
    '',
    'true',
    'false',
    '-1',
    'x'.repeat(3000),
  ),
  fc.string({ maxLength: 30 }),
  fc.integer(),
);

const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, jsonLeaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 3 }),
  object: fc.dictionary(fc.constantFrom(...HARBOR_FIELDS), tie('value'), { maxKeys: 4 }),
})).value;

const apiBody = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('{', 'not json', '[]', '"text"', '42', 'null', '{"a":"\\u0000"}', '{"__proto__":{"x":1}}'),
  fc
    .tuple(fc.dictionary(fc.constantFrom(...HARBOR_FIELDS), jsonValue, { maxKeys: 6 }), fc.option(urlValue))
    .map(([object, url]) => JSON.stringify(url === null ? object : { ...object, url })),
);

const apiQueryKeys = fc.constantFrom(
  'page',
  'page_size',
  'q',
  'sort',
  'name',
  'public',
  'owner',
  'with_tag',
  'with_label',
  'with_scan_overview',
  'with_signature',
  'with_immutable_status',
  'with_accessory',
  'username',
  'email',
  'project_id',
  'policy_id',
  'status',
  'trigger',
  'operation',
  'resource',
  'resource_type',
  'label_id',
  'scope',
  'junk',
);

function apiRequests(templates: RouteTemplate[]): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      template: fc.constantFrom(...templates),
      params: fc.dictionary(
        fc.constantFrom('project', 'repository', 'reference', 'tag', 'name', 'job_type', 'user_id', 'other'),
        fc.constant(null),
      ),
      seed: fc.nat(),
      // Mostly a method the route has; one request in six tries another.
      methodOverride: fc.oneof(
        { arbitrary: fc.constant(null), weight: 5 },
        { arbitrary: fc.constantFrom(...METHODS), weight: 1 },
      ),
      methodPick: fc.nat(),
      query: fc.array(fc.tuple(apiQueryKeys, queryValue), { maxLength: 4 }),
      auth: fc.constantFrom(
        'admin',
        'admin',
        'anonymous',
        'session',
        'session-no-csrf',
        'token',
        'garbage-basic',
        'other-scheme',
      ),
      contentType: fc.constantFrom(
        'application/json',
        'application/json',
        'text/plain',
        'application/json; charset=latin1',
        'none',
      ),
      body: apiBody,
    })
    .chain((r) => {
      const names = [...r.template.path.matchAll(/:([a-z_]+)/g)].map((m) => m[1] as string);
      return fc.tuple(fc.constant(r), fc.tuple(...names.map((n) => paramValues(n))));
    })
    .map(([r, values]) => {
      let i = 0;
      const path = r.template.path.replace(/:([a-z_]+)/g, () => values[i++] as string);
      const method =
        r.methodOverride ?? r.template.methods[r.methodPick % r.template.methods.length] ?? 'GET';
      apiTemplatesHit.add(r.template.path);
      const headers: Record<string, string> = { ...authHeaders(r.auth, fixture) };
      if (r.contentType !== 'none' && r.body !== undefined) headers['content-type'] = r.contentType;
      return {
        label: `api ${method} ${r.template.path} auth=${r.auth}`,
        options: {
          method,
          url: path + queryString(r.query),
          headers,
          ...(r.body !== undefined && { payload: r.body }),
        },
      };
    });
}

// ---- token service and login -----------------------------------------------------------------

const tokenRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.constantFrom<Method>('GET', 'GET', 'HEAD', 'POST'),
    service: fc.option(fc.oneof(fc.constantFrom('wharf-registry', 'other', '%00', '%FF'), encodedText)),
    scopes: fc.array(
      fc.oneof(
        fc.constantFrom(
          'repository:test/app:pull',
          'repository:test/app:pull,push,delete,*',
          'repository:Bad/Name:push',
          'repository:test/app',
          'registry:catalog:*',
          'repository:pub/x:pull',
          'repository:test%00x:pull',
          '%00',
          'a:b:c:d:e',
          `repository:${'a'.repeat(3000)}:pull`,
        ),
        encodedText,
      ),
      { maxLength: 4 },
    ),
    account: fc.option(queryValue),
    auth: fc.constantFrom('admin', 'anonymous', 'token', 'garbage-bearer', 'garbage-basic', 'other-scheme'),
  })
  .map((r) => {
    const pairs: Array<[string, string]> = [];
    if (r.service !== null) pairs.push(['service', r.service]);
    for (const scope of r.scopes) pairs.push(['scope', scope]);
    if (r.account !== null) pairs.push(['account', r.account]);
    return {
      label: `token auth=${r.auth}`,
      options: {
        method: r.method,
        url: `/service/token${queryString(pairs)}`,
        headers: authHeaders(r.auth, fixture),
      },
    };
  });

const loginRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({
    path: fc.constantFrom('/c/login', '/c/login', '/c/login', '/c/log_out'),
    method: fc.constantFrom<Method>('POST', 'POST', 'POST', 'GET', 'PUT'),
    contentType: fc.constantFrom(
      'application/x-www-form-urlencoded',
      'application/json',
      'text/plain',
      'none',
    ),
    body: fc.oneof(
      fc.constantFrom(
        'principal=%00admin&password=x',
        'principal=adm%00in&password=x',
        'principal=%FF%FE&password=x',
        'principal=&password=',
        'principal=admin',
        '{"principal":"ad\\u0000min","password":"x"}',
        '{"principal":["admin"],"password":{}}',
        '{"principal":"admin","password":null}',
        '{',
        `principal=${'a'.repeat(20_000)}&password=x`,
      ),
      fc
        .uint8Array({ maxLength: 200 })
        .map((b) => Buffer.concat([Buffer.from('principal='), Buffer.from(b), Buffer.from('&password=x')])),
    ),
  })
  .map((r) => ({
    label: `login ${r.method} ${r.path} ${r.contentType}`,
    options: {
      method: r.method,
      url: r.path,
      headers: r.contentType === 'none' ? {} : { 'content-type': r.contentType },
      payload: r.body,
    },
  }));

// ---- checking each answer ----------------------------------------------------------------------

function errorCodeOf(body: string): string | undefined | null {
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ code?: unknown }> };
    const code = parsed.errors?.[0]?.code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}

async function send(request: FuzzRequest): Promise<void> {
  let res: LightMyRequestResponse;
  sent++;
  try {
    res = await wharf.app.inject(request.options);
  } catch (err) {
    failures.push({
      label: request.label,
      method: request.options.method,
      url: request.options.url.slice(0, 200),
      status: -1,
      problem: `inject failed: ${(err as Error).message}`,
      body: '',
    });
    return;
  }
  const problems: string[] = [];
  const bucket = `${request.label
    .split(' ')
    .slice(0, request.label.startsWith('api') ? 1 : 2)
    .join(' ')} ${res.statusCode}`;
  STATS.set(bucket, (STATS.get(bucket) ?? 0) + 1);
  if (res.statusCode >= 500) problems.push('5xx');
  // As the server sees it: the client resolves dot segments (as fetch does).
  const isV2 = new URL(request.options.url, 'http://wharf').pathname.startsWith('/v2');
  if (res.statusCode >= 400 && request.options.method !== 'HEAD') {
    const code = errorCodeOf(res.body);
    if (code === null) problems.push('error body without the {errors:[{code}]} shape');
    else if (isV2 && code !== undefined && !OCI_CODES.has(code))
      problems.push(`code ${code} is not an OCI code`);
  }
  if (request.expect) {
    if (res.statusCode !== request.expect.status) problems.push(`expected ${request.expect.status}`);
    if (request.expect.code && errorCodeOf(res.body) !== request.expect.code) {
      problems.push(`expected code ${request.expect.code}`);
    }
  }
  if (res.statusCode === 401 && !res.headers['www-authenticate']) problems.push('401 without a challenge');
  if (problems.length > 0) {
    failures.push({
      label: request.label,
      method: request.options.method,
      url: request.options.url.slice(0, 200),
      status: res.statusCode,
      problem: problems.join('; '),
      body: res.body.slice(0, 300),
    });
  }
}

async function run(arbitrary: fc.Arbitrary<FuzzRequest>, numRuns: number, seedOffset: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arbitrary, async (request) => {
      await send(request);
      return true;
    }),
    { seed: SEED + seedOffset, numRuns, endOnFailure: true },
  );
}

// ---- fixtures ---------------------------------------------------------------------------------

async function inject(options: InjectOptions & { url: string }): Promise<LightMyRequestResponse> {
  return wharf.app.inject({ ...options, headers: { authorization: wharf.adminAuth, ...options.headers } });
}

async function pushBlob(repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const res = await inject({
    method: 'POST',
    url: `/v2/${repo}/blobs/uploads/?digest=${digest}`,
    payload: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (res.statusCode !== 201) throw new Error(`push blob: ${res.statusCode} ${res.body}`);
  return digest;
}

async function pushImage(
  repo: string,
  tag: string,
): Promise<{ manifest: string; config: string; layer: string }> {
  const configBytes = Buffer.from(JSON.stringify({ os: 'linux', nonce: randomBytes(4).toString('hex') }));
  const layerBytes = randomBytes(256);
  const config = await pushBlob(repo, configBytes);
  const layer = await pushBlob(repo, layerBytes);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: config,
      size: configBytes.length,
    },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: layerBytes.length }],
  });
  const res = await inject({
    method: 'PUT',
    url: `/v2/${repo}/manifests/${tag}`,
    payload: manifest,
    headers: { 'content-type': MANIFEST_TYPE },
  });
  if (res.statusCode !== 201) throw new Error(`push manifest: ${res.statusCode} ${res.body}`);
  return { manifest: sha256(manifest), config, layer };
}

beforeAll(async () => {
  wharf = await startInProcessWharf({}, { projects: ['test'] });
  const pub = await inject({
    method: 'POST',
    url: '/api/v2.0/projects',
    payload: JSON.stringify({ project_name: 'pub', metadata: { public: 'true' } }),
    headers: { 'content-type': 'application/json' },
  });
  expect(pub.statusCode).toBe(201);
  const image = await pushImage('test/app', 'v1');
  await pushImage('pub/x', 'v1');
  for (const [url, body] of [
    [
      '/api/v2.0/users',
      { username: 'fuzzer', password: 'Fuzzer-Passw0rd', email: 'f@example.com', realname: 'F' },
    ],
    ['/api/v2.0/labels', { name: 'fuzz', scope: 'g', color: '#000000' }],
    ['/api/v2.0/registries', { name: 'peer', url: 'http://127.0.0.1:9', type: 'docker-registry' }],
  ] as const) {
    // Extra rows for ids to point at; the fuzz runs whether or not each shape is accepted.
    await inject({
      method: 'POST',
      url,
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  }
  const tokenRes = await inject({
    method: 'GET',
    url: '/service/token?service=wharf-registry&scope=repository:test/app:pull,push,delete',
  });
  const login = await wharf.app.inject({
    method: 'POST',
    url: '/c/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `principal=admin&password=${encodeURIComponent('Harbor12345-inproc')}`,
  });
  const cookie = /sid=([^;]+)/.exec(String(login.headers['set-cookie']))?.[1] ?? '';
  const upload = await inject({ method: 'POST', url: '/v2/test/app/blobs/uploads/' });
  expect(upload.statusCode).toBe(202);
  fixture = {
    configDigest: image.config,
    layerDigest: image.layer,
    manifestDigest: image.manifest,
    token: (JSON.parse(tokenRes.body) as { token: string }).token,
    sessionCookie: cookie,
    csrf: String(login.headers['x-harbor-csrf-token'] ?? ''),
    uploadId: String(upload.headers['docker-upload-uuid']),
  };
}, 120_000);

afterAll(async () => {
  await wharf?.close();
});

// ---- the run ----------------------------------------------------------------------------------

describe('malformed requests get a 4xx, never a 5xx (fast-check, fixed seed)', () => {
  it('the route table lists the APIs this test fuzzes', () => {
    const routes = routeTable();
    const paths = routes.map((r) => r.path);
    expect(paths.some((p) => p.startsWith('/v2') && p.endsWith('*'))).toBe(true);
    expect(paths).toContain('/service/token');
    expect(paths).toContain('/c/login');
    expect(paths.filter((p) => p.startsWith('/api/v2.0/')).length).toBeGreaterThan(40);
  });

  it.each([
    // The cases the review found answering 500, each with the answer it gets now.
    ['/v2/_catalog?last=%00', 400, 'UNSUPPORTED'],
    ['/v2/test/app/tags/list?last=v1%00', 400, 'UNSUPPORTED'],
    ['/v2/test/app/tags/list?n=%00', 400, 'UNSUPPORTED'],
    [`/v2/test/app/referrers/${sha256('x')}?artifactType=a%00b`, 400, 'UNSUPPORTED'],
    // A path that is not valid percent-encoding: refused before routing, in the OCI error shape.
    ['/v2/test/app/manifests/%FF', 400, 'UNSUPPORTED'],
    ['/v2/test/app/manifests/.INVALID_MANIFEST_NAME', 404, 'MANIFEST_UNKNOWN'],
    ['/api/v2.0/projects?page=99999999999999999999', 400, 'BAD_REQUEST'],
    ['/api/v2.0/audit-logs?page=99999999999999999999', 400, 'BAD_REQUEST'],
    ['/api/v2.0/projects?q=name%3D%2500', 400, 'BAD_REQUEST'],
    ['/api/v2.0/projects/99999999999999999999999999/summary', 404, 'NOT_FOUND'],
  ])('GET %s is %i %s', async (url, status, code) => {
    const res = await inject({ method: 'GET', url });
    expect(res.statusCode, res.body).toBe(status);
    expect(errorCodeOf(res.body)).toBe(code);
  });

  it.each([
    'principal=ad%00min&password=x',
    'principal=%FF%FE&password=x',
    '{"principal":"ad\\u0000min","password":"x"}',
  ])('login with a malformed username (%s) is a 4xx', async (payload) => {
    const res = await wharf.app.inject({
      method: 'POST',
      url: '/c/login',
      headers: {
        'content-type': payload.startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded',
      },
      payload,
    });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expect(res.statusCode, res.body).toBeLessThan(500);
  });

  it(`${RUNS.v2 + RUNS.api + RUNS.token + RUNS.login} generated requests across /v2, /api/v2.0, the token service and login`, async () => {
    const f = () => fixture;
    const apiTemplates = routeTable().filter(
      (r) => !r.path.startsWith('/v2') && r.path !== '/service/token' && !r.path.startsWith('/c/'),
    );
    await run(v2Requests(f), RUNS.v2, 1);
    await run(apiRequests(apiTemplates), RUNS.api, 2);
    await run(tokenRequests, RUNS.token, 3);
    // Last: failed logins count towards the address's throttle, which may then answer 429.
    await run(loginRequests, RUNS.login, 4);

    expect(sent).toBeGreaterThanOrEqual(2000);
    // The requests reached the handlers, not only the authentication in front of them.
    const succeeded = (group: string) =>
      [...STATS.entries()]
        .filter(([bucket]) => bucket.startsWith(group) && / 2\d\d$/.test(bucket))
        .reduce((sum, [, n]) => sum + n, 0);
    expect(succeeded('v2')).toBeGreaterThan(20);
    expect(succeeded('api')).toBeGreaterThan(100);
    // Every route of the management API was requested at least once.
    expect(apiTemplates.filter((t) => !apiTemplatesHit.has(t.path)).map((t) => t.path)).toEqual([]);
    const report = failures
      .slice(0, 40)
      .map((x) => `${x.status} ${x.method} ${x.url} [${x.label}] ${x.problem} :: ${x.body}`);
    expect(report, `${failures.length} of ${sent} requests answered wrongly`).toEqual([]);
  }, 600_000);

  it('afterwards the server is healthy and still takes a push', async () => {
    expect((await inject({ method: 'GET', url: '/v2/' })).statusCode).toBe(200);
    expect((await wharf.app.inject({ method: 'GET', url: '/api/v2.0/ping' })).statusCode).toBe(200);
    const health = await wharf.app.inject({ method: 'GET', url: '/api/v2.0/health' });
    expect(health.statusCode, health.body).toBe(200);
    const after = await pushImage('test/after-fuzz', 'v1');
    const pulled = await inject({ method: 'GET', url: `/v2/test/after-fuzz/manifests/${after.manifest}` });
    expect(pulled.statusCode).toBe(200);
  });

  it('nothing is left half-written: every row points at what exists', async () => {
    await wharf.stop();
    const backends = await wharf.openBackends();
    try {
      const { db, storage } = backends;
      // Tags and references never point at a manifest or blob that is not there.
      const danglingTags = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM tags t LEFT JOIN manifests m ON m.id = t.manifest_id WHERE m.id IS NULL',
      );
      expect(danglingTags[0]?.n).toBe(0);
      const missingBlobs = await db.query<{ digest: string }>(
        `SELECT r.digest FROM manifest_references r LEFT JOIN blobs b ON b.digest = r.digest
         WHERE r.kind IN ('config', 'layer') AND b.digest IS NULL`,
      );
      expect(missingBlobs).toEqual([]);
      const missingChildren = await db.query<{ digest: string }>(
        `SELECT r.digest FROM manifest_references r JOIN manifests m ON m.id = r.manifest_id
         WHERE r.kind = 'manifest'
           AND NOT EXISTS (SELECT 1 FROM manifests c WHERE c.repository_id = m.repository_id AND c.digest = r.digest)`,
      );
      expect(missingChildren).toEqual([]);
      // Every blob row (manifests included) has its bytes, of its size.
      const blobs = await db.query<{ digest: string; size: string | number }>(
        'SELECT digest, size FROM blobs',
      );
      expect(blobs.length).toBeGreaterThan(0);
      for (const blob of blobs) {
        const parsed = parseDigest(blob.digest);
        expect(parsed.ok, blob.digest).toBe(true);
        if (!parsed.ok) continue;
        const stat = await storage.stat(blobKey(parsed.digest));
        expect(stat?.size, blob.digest).toBe(Number(blob.size));
      }
      // An upload session never counts bytes its data does not hold.
      const sessions = await db.query<{ id: string; byte_offset: string | number }>(
        'SELECT id, byte_offset FROM upload_sessions',
      );
      for (const session of sessions) {
        if (Number(session.byte_offset) === 0) continue;
        const stat = await storage.stat(uploadDataKey(session.id));
        expect(stat?.size ?? 0, session.id).toBeGreaterThanOrEqual(Number(session.byte_offset));
      }
    } finally {
      await backends.close();
    }
  });
});
