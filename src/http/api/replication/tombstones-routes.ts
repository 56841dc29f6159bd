import { z } from 'zod';
import type { Principal } from '../../../services/principal.js';
import { isDigest } from '../../../domain/digest.js';
import { isRepositoryName, isTag } from '../../../domain/reference.js';
import type { ReplicationExecutionService } from '../../../replication/execution/index.js';
import type { ApiInstance } from '../area.js';
import { jsonBody, optionalString, requiredString } from '../schemas.js';

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

const repository = requiredString('repository').refine(
  isRepositoryName,
  'repository is not a repository name',
);
const tag = requiredString('tag').refine(isTag, 'tag is not a valid tag');
const digest = requiredString('digest').refine(isDigest, 'digest is not a valid digest');

function rfc3339(field: string) {
  return requiredString(field)
    .refine(
      (v) => /^\d{4}-\d\d-\d\dT/.test(v) && !Number.isNaN(new Date(v).getTime()),
      `${field} must be an RFC 3339 time`,
    )
    .transform((v) => new Date(v));
}

const tombstoneBody = jsonBody({ repository, tag, digest, deleted_at: rfc3339('deleted_at') });

const tagOriginBody = jsonBody({
  repository,
  tag,
  digest,
  push_time: rfc3339('push_time'),
  origin: optionalString('origin'),
});

export function registerReplicationTombstoneRoutes(
  api: ApiInstance,
  executions: ReplicationExecutionService,
): void {
  const adminFirst = async (request: { principal: Principal }) => executions.requireAdmin(request.principal);

  api.get(
    '/replication/tombstones',
    { preValidation: adminFirst, schema: { querystring: z.object({ repository, tag: tag.optional() }) } },
    async (request) => {
      const rows = await executions.tombstones(
        request.principal,
        request.query.repository,
        request.query.tag,
      );
      return rows.map((r) => ({
        repository: r.repository,
        tag: r.tag,
        digest: r.digest,
        deleted_at: r.deletedAt.toISOString(),
      }));
    },
  );

  api.put(
    '/replication/tombstones',
    { preValidation: adminFirst, schema: { body: tombstoneBody } },
    async (request) => {
      const body = request.body;
      const recorded = await executions.recordTombstone(request.principal, {
        repository: body.repository,
        tag: body.tag,
        digest: body.digest,
        deletedAt: body.deleted_at,
      });
      return { recorded };
    },
  );

  api.put(
    '/replication/tag-origins',
    { preValidation: adminFirst, schema: { body: tagOriginBody } },
    async (request) => {
      const body = request.body;
      const recorded = await executions.recordTagOrigin(request.principal, {
        repository: body.repository,
        tag: body.tag,
        digest: body.digest,
        pushTime: body.push_time,
        origin: (body.origin ?? '').slice(0, 2_000),
      });
      return { recorded };
    },
  );
}
