import type { FastifyInstance } from 'fastify';
import { isDigest } from '../../../domain/digest.js';
import { isRepositoryName, isTag } from '../../../domain/reference.js';
import type { ReplicationExecutionService } from '../../../replication/execution/index.js';
import { ApiError } from '../api-error.js';
import { objectBody, optionalString, requiredString } from '../body.js';

// Wharf extensions (not in Harbor's API) that let two Wharf instances replicate both ways and
// agree on every tag (docs/architecture.md, Replication). System administrators only; a peer
// that is Harbor answers 404 and is then planned without them.
//
//   GET /api/v2.0/replication/tombstones?repository=<name>[&tag=<tag>]
//       → 200 [{repository, tag, digest, deleted_at}]: the repository's unexpired tombstones
//         (tags deleted here, with the digest they had and when), or only the tag's.
//   PUT /api/v2.0/replication/tombstones {repository, tag, digest, deleted_at}
//       → 200 {recorded}: a deletion a peer's replication made here, kept with the peer's time;
//         not recorded while the tag exists here.
//   PUT /api/v2.0/replication/tag-origins {repository, tag, digest, push_time, origin?}
//       → 200 {recorded}: the origin push time of a tag a peer's replication copied here, served
//         as the tag's push_time while the tag still points at that digest.

function repositoryOf(value: string, field: string): string {
  if (!isRepositoryName(value)) throw new ApiError('BAD_REQUEST', `${field} is not a repository name`);
  return value;
}

function fieldsOf(body: Record<string, unknown>) {
  const repository = repositoryOf(requiredString(body, 'repository'), 'repository');
  const tag = requiredString(body, 'tag');
  if (!isTag(tag)) throw new ApiError('BAD_REQUEST', 'tag is not a valid tag');
  const digest = requiredString(body, 'digest');
  if (!isDigest(digest)) throw new ApiError('BAD_REQUEST', 'digest is not a valid digest');
  return { repository, tag, digest };
}

function timeOf(body: Record<string, unknown>, field: string): Date {
  const value = requiredString(body, field);
  const time = new Date(value);
  if (!/^\d{4}-\d\d-\d\dT/.test(value) || Number.isNaN(time.getTime()))
    throw new ApiError('BAD_REQUEST', `${field} must be an RFC 3339 time`);
  return time;
}

export function registerReplicationTombstoneRoutes(
  api: FastifyInstance,
  executions: ReplicationExecutionService,
): void {
  api.get('/replication/tombstones', async (request) => {
    executions.requireAdmin(request.principal);
    const query = request.query as Record<string, unknown>;
    const repository = typeof query.repository === 'string' ? query.repository : '';
    if (repository === '') throw new ApiError('BAD_REQUEST', 'repository is required');
    const tag = typeof query.tag === 'string' ? query.tag : undefined;
    if (tag !== undefined && !isTag(tag)) throw new ApiError('BAD_REQUEST', 'tag is not a valid tag');
    const rows = await executions.tombstones(request.principal, repositoryOf(repository, 'repository'), tag);
    return rows.map((r) => ({
      repository: r.repository,
      tag: r.tag,
      digest: r.digest,
      deleted_at: r.deleted_at.toISOString(),
    }));
  });

  api.put('/replication/tombstones', async (request) => {
    executions.requireAdmin(request.principal);
    const body = objectBody(request.body);
    const recorded = await executions.recordTombstone(request.principal, {
      ...fieldsOf(body),
      deleted_at: timeOf(body, 'deleted_at'),
    });
    return { recorded };
  });

  api.put('/replication/tag-origins', async (request) => {
    executions.requireAdmin(request.principal);
    const body = objectBody(request.body);
    const recorded = await executions.recordTagOrigin(request.principal, {
      ...fieldsOf(body),
      pushTime: timeOf(body, 'push_time'),
      origin: (optionalString(body, 'origin') ?? '').slice(0, 2_000),
    });
    return { recorded };
  });
}
