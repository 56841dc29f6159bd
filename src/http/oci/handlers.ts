import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../domain/errors.js';
import { MANIFEST_MEDIA_TYPES, OCI_INDEX, baseMediaType } from '../../domain/media-types.js';
import type { BlobService } from '../../services/registry/blob-service.js';
import type { ListingService, Page } from '../../services/registry/listing-service.js';
import type { EventActor } from '../../domain/events.js';
import type { ArtifactService } from '../../services/artifacts/artifact-service.js';
import type { ManifestService, StoredManifest } from '../../services/registry/manifest-service.js';
import type { UploadService, UploadStatus } from '../../services/registry/upload-service.js';
import {
  parseManifestReference,
  requireRepositoryName,
  requireTag,
} from '../../services/registry/validate.js';
import type { HttpMetrics } from '../metrics.js';
import {
  contentLength,
  hasBody,
  pageSizeParam,
  queryValue,
  queryValues,
  requestedRange,
  uploadContentRange,
} from './headers.js';
import { ORIGIN_RECORDED_HEADER, statedDeletion, statedOrigin } from './origin-headers.js';
import type { OciRoute } from './routes.js';

export interface OciServices {
  blobs: BlobService;
  uploads: UploadService;
  manifests: ManifestService;
  /** The artifact core: every manifest and tag write (PUT, DELETE). */
  artifacts: ArtifactService;
  /** Who this request's writes are recorded as (the events' actor); set per request. */
  actor: EventActor;
  listing: ListingService;
  metrics: HttpMetrics;
  manifestMaxBytes: number;
  chunkMinLength: number;
  /** Whether the caller may read the source repository of a cross-repository mount. */
  mayPullFrom?: (repository: string) => Promise<boolean>;
  /** Whether the caller may state origin push times (origin-headers.ts): replication's own writes. */
  mayStateOrigins?: () => Promise<boolean>;
  /** Whose open upload sessions a new one counts against (uploadOwner); null or absent: no one's. */
  uploadOwner?: string | null;
  /** Records an audited event of this request (push, pull or delete of a manifest or tag). */
  audit?: (event: OciAuditEvent) => Promise<void>;
}

export interface OciAuditEvent {
  operation: 'create' | 'delete' | 'pull';
  resourceType: 'artifact' | 'tag';
  repository: string;
  /** `repository:tag` or `repository@digest`. */
  resource: string;
  /** The manifest's digest (pulls), and the tag it was pulled by, if any. */
  digest?: string;
  tag?: string;
}

/** The audit event of a manifest operation addressed by `route` (tag or digest). */
function manifestEvent(
  route: Extract<OciRoute, { kind: 'manifest' }>,
  operation: OciAuditEvent['operation'],
  digest?: string,
): OciAuditEvent {
  const byDigest = route.reference.includes(':');
  return {
    operation,
    // Deleting by tag only untags; everything else acts on the artifact.
    resourceType: operation === 'delete' && !byDigest ? 'tag' : 'artifact',
    repository: route.name,
    resource: byDigest ? `${route.name}@${route.reference}` : `${route.name}:${route.reference}`,
    ...(digest !== undefined && { digest }),
    ...(!byDigest && { tag: route.reference }),
  };
}

type Handler<R extends OciRoute> = (
  s: OciServices,
  route: R,
  req: FastifyRequest,
  reply: FastifyReply,
) => Promise<void>;

const READ_METHODS = ['GET', 'HEAD'] as const;

/** 405 UNSUPPORTED, with the Allow header that RFC 9110 requires on every 405. */
function methodNotAllowed(req: FastifyRequest, reply: FastifyReply, allowed: readonly string[]): never {
  reply.header('allow', allowed.join(', '));
  throw new RegistryError('UNSUPPORTED', `method ${req.method} is not supported on this endpoint`);
}

// ---- blobs ----------------------------------------------------------------------------------

const blob: Handler<Extract<OciRoute, { kind: 'blob' }>> = async (s, route, req, reply) => {
  if (req.method === 'DELETE') {
    await s.blobs.delete(route.name, route.digest);
    return reply.code(202).header('content-length', '0').send();
  }
  if (req.method !== 'GET' && req.method !== 'HEAD')
    methodNotAllowed(req, reply, [...READ_METHODS, 'DELETE']);
  const info = await s.blobs.stat(route.name, route.digest);
  const range = req.method === 'GET' ? requestedRange(req.headers.range, info.size) : null;
  reply
    .header('docker-content-digest', info.digest)
    .header('content-type', 'application/octet-stream')
    .header('accept-ranges', 'bytes')
    .header('etag', `"${info.digest}"`)
    .header('cache-control', 'max-age=31536000');
  if (req.method === 'HEAD') {
    return reply.header('content-length', String(info.size)).send();
  }
  const copy = await s.blobs.open(info, range ?? undefined);
  if (range) {
    reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${info.size}`);
  }
  reply.header('content-length', String(copy.length));
  // The body bypasses Fastify's stream piping: the driver copies into the socket through a few
  // reused buffers (about half the CPU of a stream per byte). onResponse hooks still run.
  reply.hijack();
  const res = reply.raw;
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) res.setHeader(name, typeof value === 'number' ? String(value) : value);
  }
  res.writeHead(reply.statusCode);
  try {
    await copy.copyTo(res);
    s.metrics.bytesSent.inc(copy.length);
    res.end();
  } catch (err) {
    // Headers are gone: the only honest signal left is cutting the connection short.
    req.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'blob download interrupted');
    res.destroy();
  }
};

// ---- uploads --------------------------------------------------------------------------------

function uploadLocation(status: UploadStatus): string {
  return `/v2/${status.repository}/blobs/uploads/${status.id}`;
}

function sendUploadStatus(
  s: OciServices,
  reply: FastifyReply,
  status: UploadStatus,
  code: number,
): FastifyReply {
  reply
    .code(code)
    .header('location', uploadLocation(status))
    .header('docker-upload-uuid', status.id)
    .header('range', `0-${Math.max(status.offset - 1, 0)}`);
  // RFC 9110 §8.6: a 204 must not carry Content-Length.
  if (code !== 204) reply.header('content-length', '0');
  if (s.chunkMinLength > 0) reply.header('oci-chunk-min-length', String(s.chunkMinLength));
  return reply.send();
}

function sendBlobCreated(reply: FastifyReply, name: string, digest: string): FastifyReply {
  return reply
    .code(201)
    .header('location', `/v2/${name}/blobs/${digest}`)
    .header('docker-content-digest', digest)
    .header('content-length', '0')
    .send();
}

const uploads: Handler<Extract<OciRoute, { kind: 'uploads' }>> = async (s, route, req, reply) => {
  if (req.method !== 'POST') methodNotAllowed(req, reply, ['POST']);
  const mount = queryValue(req.query, 'mount');
  const from = queryValue(req.query, 'from');
  // A mount needs pull rights on the source; without them it quietly becomes an upload (202).
  if (mount !== undefined && from !== undefined && (await s.mayPullFrom?.(from)) === true) {
    const mounted = await s.blobs.mount(route.name, from, mount, s.actor);
    if (mounted) return sendBlobCreated(reply, route.name, mounted.digest);
  }
  const digest = queryValue(req.query, 'digest');
  if (digest !== undefined) {
    const length = contentLength(req);
    const committed = await s.uploads.uploadMonolithic(route.name, digest, req.raw, length, s.actor);
    s.metrics.bytesReceived.inc(length ?? 0);
    return sendBlobCreated(reply, route.name, committed.value);
  }
  const status = await s.uploads.start(
    route.name,
    queryValue(req.query, 'digest-algorithm'),
    s.uploadOwner ?? null,
  );
  if (hasBody(req)) {
    // A POST body without ?digest= is a first chunk; keep it rather than dropping bytes.
    const length = contentLength(req);
    const next = await s.uploads.append(route.name, status.id, {
      body: req.raw,
      ...(length !== undefined && { length }),
    });
    s.metrics.bytesReceived.inc(next.received);
    return sendUploadStatus(s, reply, next, 202);
  }
  return sendUploadStatus(s, reply, status, 202);
};

const upload: Handler<Extract<OciRoute, { kind: 'upload' }>> = async (s, route, req, reply) => {
  switch (req.method) {
    case 'GET':
    case 'HEAD': {
      const status = await s.uploads.status(route.name, route.id);
      return void sendUploadStatus(s, reply, status, 204);
    }
    case 'PATCH': {
      const range = uploadContentRange(req);
      const length = contentLength(req);
      const status = await s.uploads.append(route.name, route.id, {
        body: req.raw,
        ...(range && { range }),
        ...(length !== undefined && { length }),
      });
      s.metrics.bytesReceived.inc(status.received);
      return void sendUploadStatus(s, reply, status, 202);
    }
    case 'PUT': {
      const range = uploadContentRange(req);
      const length = contentLength(req);
      const chunk = hasBody(req)
        ? { body: req.raw, ...(range && { range }), ...(length !== undefined && { length }) }
        : undefined;
      const digestValue = queryValue(req.query, 'digest');
      const digest = await s.uploads.finish(route.name, route.id, digestValue, chunk, s.actor);
      if (length) s.metrics.bytesReceived.inc(length);
      return void sendBlobCreated(reply, route.name, digest.value);
    }
    case 'DELETE':
      await s.uploads.cancel(route.name, route.id);
      return void reply.code(204).send();
    default:
      methodNotAllowed(req, reply, [...READ_METHODS, 'PATCH', 'PUT', 'DELETE']);
  }
};

// ---- manifests ------------------------------------------------------------------------------

/** Whether the client's Accept header admits the stored media type (no header: anything). */
function accepts(acceptHeader: string | undefined, mediaType: string): boolean {
  if (!acceptHeader) return true;
  const accepted = acceptHeader
    .split(',')
    .map((part) => baseMediaType(part))
    .filter((t): t is string => !!t);
  if (accepted.length === 0) return true;
  if (accepted.some((t) => t === mediaType || t === '*/*' || t === 'application/*')) return true;
  // Clients that list no manifest type at all (curl's default, application/json) get what is stored.
  return !accepted.some((t) => MANIFEST_MEDIA_TYPES.includes(t));
}

function manifestHeaders(reply: FastifyReply, m: StoredManifest): FastifyReply {
  return reply
    .header('docker-content-digest', m.digest)
    .header('content-type', m.mediaType)
    .header('content-length', String(m.size))
    .header('etag', `"${m.digest}"`);
}

async function readManifestBody(req: FastifyRequest, limit: number): Promise<Buffer> {
  const declared = contentLength(req);
  if (declared !== undefined && declared > limit) {
    req.raw.resume();
    throw new RegistryError('MANIFEST_TOO_LARGE', `manifest is larger than the limit of ${limit} bytes`);
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const part of req.raw) {
    // The raw request yields Buffers (no encoding is set on it).
    const chunk = Buffer.isBuffer(part) ? part : Buffer.from(String(part));
    total += chunk.length;
    if (total > limit) {
      req.raw.resume();
      throw new RegistryError('MANIFEST_TOO_LARGE', `manifest is larger than the limit of ${limit} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

const manifest: Handler<Extract<OciRoute, { kind: 'manifest' }>> = async (s, route, req, reply) => {
  switch (req.method) {
    case 'GET':
    case 'HEAD': {
      if (req.method === 'HEAD') {
        const stored = await s.manifests.stat(route.name, route.reference);
        if (!accepts(req.headers.accept, stored.mediaType)) throw notAcceptable(stored);
        return void manifestHeaders(reply, stored).send();
      }
      const content = await s.manifests.get(route.name, route.reference);
      if (!accepts(req.headers.accept, content.mediaType)) throw notAcceptable(content);
      s.metrics.bytesSent.inc(content.size);
      await s.audit?.(manifestEvent(route, 'pull', content.digest));
      return void manifestHeaders(reply, content).send(content.bytes);
    }
    case 'PUT': {
      // Everything the path and query say is checked before a byte of the body is read.
      parseManifestReference(route.reference);
      queryValues(req.query, 'tag').forEach(requireTag);
      // A stated origin counts only from replication (else it is ignored: the push is the
      // caller's right, the time is not; the sender records the time its own way then).
      const stated = statedOrigin(req.headers);
      const origin = stated && (await s.mayStateOrigins?.()) === true ? stated : undefined;
      const bytes = await readManifestBody(req, s.manifestMaxBytes);
      const result = await s.artifacts.putManifest(
        {
          repository: route.name,
          reference: route.reference,
          bytes,
          contentType: req.headers['content-type'],
          extraTags: queryValues(req.query, 'tag'),
          origin,
        },
        s.actor,
      );
      if (result.originRecorded) reply.header(ORIGIN_RECORDED_HEADER, 'true');
      else if (result.superseded?.length) reply.header(ORIGIN_RECORDED_HEADER, 'superseded');
      s.metrics.bytesReceived.inc(bytes.length);
      await s.audit?.(manifestEvent(route, 'create'));
      reply
        .code(201)
        .header('location', `/v2/${route.name}/manifests/${result.digest.value}`)
        .header('docker-content-digest', result.digest.value)
        .header('content-length', '0');
      if (result.subject) reply.header('oci-subject', result.subject);
      return void reply.send();
    }
    case 'DELETE': {
      // Replication's deletion of a tag may state when it happened at its origin: then the tag
      // goes only if nothing later was pushed here meanwhile (as for a stated push time).
      const stated = statedDeletion(req.headers);
      const deletedAt = stated && (await s.mayStateOrigins?.()) === true ? stated : undefined;
      // By digest: the manifest under the one delete rule set (412 DENIED while an index lists
      // it); by tag: only the tag.
      const ref = parseManifestReference(route.reference);
      let outcome: 'deleted' | 'superseded' = 'deleted';
      if ('tag' in ref) {
        const options = deletedAt ? { originDeletedAt: deletedAt } : {};
        outcome = await s.artifacts.deleteTag(route.name, ref.tag, s.actor, options);
      } else {
        await s.artifacts.deleteArtifact(route.name, route.reference, s.actor);
      }
      if (outcome === 'superseded') {
        return void reply
          .code(202)
          .header(ORIGIN_RECORDED_HEADER, 'superseded')
          .header('content-length', '0')
          .send();
      }
      await s.audit?.(manifestEvent(route, 'delete'));
      if (deletedAt) reply.header(ORIGIN_RECORDED_HEADER, 'true');
      return void reply.code(202).header('content-length', '0').send();
    }
    default:
      methodNotAllowed(req, reply, [...READ_METHODS, 'PUT', 'DELETE']);
  }
};

function notAcceptable(m: StoredManifest): RegistryError {
  return new RegistryError(
    'MANIFEST_UNKNOWN',
    `manifest ${m.digest} is a ${m.mediaType}, which the Accept header does not include`,
  );
}

// ---- listings -------------------------------------------------------------------------------

function sendPage(
  reply: FastifyReply,
  path: string,
  n: number | undefined,
  page: Page,
  body: object,
): FastifyReply {
  if (page.next !== undefined) {
    const params = new URLSearchParams({ ...(n !== undefined && { n: String(n) }), last: page.next });
    reply.header('link', `<${path}?${params.toString()}>; rel="next"`);
  }
  return reply.header('content-type', 'application/json').send(body);
}

const tags: Handler<Extract<OciRoute, { kind: 'tags' }>> = async (s, route, req, reply) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') methodNotAllowed(req, reply, READ_METHODS);
  const n = pageSizeParam(req.query);
  const page = await s.listing.tags(route.name, n, queryValue(req.query, 'last'));
  return void sendPage(reply, `/v2/${route.name}/tags/list`, n, page, { name: route.name, tags: page.items });
};

const catalog: Handler<Extract<OciRoute, { kind: 'catalog' }>> = async (s, _route, req, reply) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') methodNotAllowed(req, reply, READ_METHODS);
  const n = pageSizeParam(req.query);
  const page = await s.listing.catalog(n, queryValue(req.query, 'last'));
  return void sendPage(reply, '/v2/_catalog', n, page, { repositories: page.items });
};

const referrers: Handler<Extract<OciRoute, { kind: 'referrers' }>> = async (s, route, req, reply) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') methodNotAllowed(req, reply, READ_METHODS);
  const artifactType = queryValue(req.query, 'artifactType');
  const index = await s.manifests.referrers(route.name, route.digest, artifactType);
  if (artifactType !== undefined) reply.header('oci-filters-applied', 'artifactType');
  // Sent as bytes: Fastify would append "; charset=utf-8" to a serialised object, and the spec
  // names this response's Content-Type exactly.
  return void reply.header('content-type', OCI_INDEX).send(Buffer.from(JSON.stringify(index)));
};

export async function handleOciRoute(
  s: OciServices,
  route: OciRoute,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  // An invalid name is refused before any handler may read the body (authorisation cannot place
  // such a name in a project, so nothing else would stop a body from being read for it).
  if ('name' in route) requireRepositoryName(route.name);
  switch (route.kind) {
    case 'base':
      if (req.method !== 'GET' && req.method !== 'HEAD') methodNotAllowed(req, reply, READ_METHODS);
      return void reply.header('content-type', 'application/json').send({});
    case 'catalog':
      return catalog(s, route, req, reply);
    case 'uploads':
      return uploads(s, route, req, reply);
    case 'upload':
      return upload(s, route, req, reply);
    case 'blob':
      return blob(s, route, req, reply);
    case 'manifest':
      return manifest(s, route, req, reply);
    case 'tags':
      return tags(s, route, req, reply);
    case 'referrers':
      return referrers(s, route, req, reply);
  }
}
