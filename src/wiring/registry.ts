import { ArtifactApiService } from '../services/artifacts/artifact-api-service.js';
import { ArtifactService } from '../services/artifacts/artifact-service.js';
import { RepositoryScope } from '../services/artifacts/repository-scope.js';
import { CatalogApiService } from '../services/catalog-api-service.js';
import { LabelService } from '../services/labels-service.js';
import { ImmutableRuleService } from '../services/immutable-rules-service.js';
import { BlobService } from '../services/registry/blob-service.js';
import { ListingService } from '../services/registry/listing-service.js';
import { ManifestService } from '../services/registry/manifest-service.js';
import { UploadService } from '../services/registry/upload-service.js';
import type { AccessServices } from './access.js';
import type { Platform } from './platform.js';

// The registry's content: blobs, uploads, manifests, the artifact core (every write of manifests,
// tags and artifacts, from /v2 and the API), and the API's views of repositories and artifacts.

export interface RegistryServices {
  blobs: BlobService;
  uploads: UploadService;
  manifests: ManifestService;
  artifacts: ArtifactService;
  listing: ListingService;
  catalog: CatalogApiService;
  artifactApi: ArtifactApiService;
  labels: LabelService;
  immutableRules: ImmutableRuleService;
}

export function buildRegistry(
  { db, registryDeps }: Platform,
  { projects, access }: AccessServices,
): RegistryServices {
  const manifests = new ManifestService(registryDeps);
  const artifacts = new ArtifactService(registryDeps);
  const repositoryScope = new RepositoryScope(db, projects);
  const catalog = new CatalogApiService(db, projects, access, manifests, repositoryScope);
  return {
    blobs: new BlobService(registryDeps),
    uploads: new UploadService(registryDeps),
    manifests,
    artifacts,
    listing: new ListingService(registryDeps),
    catalog,
    artifactApi: new ArtifactApiService(db, repositoryScope, artifacts),
    labels: new LabelService(db, projects, access, catalog),
    immutableRules: new ImmutableRuleService(db, projects),
  };
}
