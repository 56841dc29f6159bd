import { apiArea } from '../area.js';
import { registerArtifactLabelRoutes } from './artifact-label-routes.js';
import { registerLabelRoutes } from './routes.js';

/** Labels: their CRUD and attaching them to artifacts. */
export const labelsArea = apiArea('labels', ['labels'], (api, { labels }) => {
  registerLabelRoutes(api, labels);
  registerArtifactLabelRoutes(api, labels);
});
