import type { FastifyInstance } from 'fastify';
import type { LabelService } from '../../../services/labels-service.js';
import { ApiError } from '../api-error.js';
import { objectBody, pathId } from '../body.js';
import { artifactPathParams } from '../repositories/routes.js';

// Harbor's addLabel and removeLabel: POST .../artifacts/{reference}/labels with {"id": N} and
// DELETE .../artifacts/{reference}/labels/{label_id}. Both answer 200, as Harbor's API says.

const ARTIFACT = '/projects/:project/repositories/:repository/artifacts/:reference';

function labelId(body: Record<string, unknown>): number {
  // Harbor's body is a whole Label of which only the id counts.
  const id = body.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new ApiError('BAD_REQUEST', 'id must be the positive integer id of a label');
  }
  return id;
}

export function registerArtifactLabelRoutes(api: FastifyInstance, labels: LabelService): void {
  api.post(`${ARTIFACT}/labels`, async (request, reply) => {
    const id = labelId(objectBody(request.body));
    await labels.attach(request.principal, artifactPathParams(request), id);
    reply.send();
  });

  api.delete(`${ARTIFACT}/labels/:label_id`, async (request, reply) => {
    const id = pathId(request.params, 'label_id');
    await labels.detach(request.principal, artifactPathParams(request), id);
    reply.send();
  });
}
