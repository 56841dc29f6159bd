import { z } from 'zod';
import type { LabelService } from '../../../services/labels-service.js';
import type { ApiInstance } from '../area.js';
import { artifactParams, artifactPath } from '../artifact-path.js';
import { jsonBody, pathId } from '../schemas.js';

// Harbor's addLabel and removeLabel: POST .../artifacts/{reference}/labels with {"id": N} and
// DELETE .../artifacts/{reference}/labels/{label_id}. Both answer 200, as Harbor's API says.

const ARTIFACT = '/projects/:project_name/repositories/:repository_name/artifacts/:reference';

const BAD_ID = 'id must be the positive integer id of a label';

/** Harbor's body is a whole Label of which only the id counts. */
const attachBody = jsonBody({
  id: z.number({ error: BAD_ID }).int(BAD_ID).min(1, BAD_ID).max(Number.MAX_SAFE_INTEGER, BAD_ID),
});

export function registerArtifactLabelRoutes(api: ApiInstance, labels: LabelService): void {
  api.post(
    `${ARTIFACT}/labels`,
    { schema: { params: artifactParams, body: attachBody } },
    async (request, reply) => {
      await labels.attach(request.principal, artifactPath(request.params), request.body.id);
      reply.send();
    },
  );

  api.delete(
    `${ARTIFACT}/labels/:label_id`,
    { schema: { params: artifactParams.extend({ label_id: pathId('label_id') }) } },
    async (request, reply) => {
      await labels.detach(request.principal, artifactPath(request.params), request.params.label_id);
      reply.send();
    },
  );
}
