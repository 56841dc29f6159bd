import type * as ConfigSchema from '../src/config/schema.js';
import type * as Digests from '../src/domain/digest.js';
import type * as BlobsTable from '../src/metadata/blobs-table.js';
import type * as RepositoriesTable from '../src/metadata/repositories-table.js';
import type * as StoragePaths from '../src/storage/paths.js';
import type * as Wharf from '../src/wharf.js';

// The bench runs on Node's type stripping, which cannot load Wharf's sources (they use syntax that
// only the compiler handles, such as parameter properties). What the bench needs of Wharf itself
// it loads from the build in dist/ (`npm run bench:*` builds first), typed as the sources.

function load<T>(path: string): Promise<T> {
  return import(new URL(`../dist/${path}`, import.meta.url).href) as Promise<T>;
}

export const blobsTable = await load<typeof BlobsTable>('metadata/blobs-table.js');
export const repositoriesTable = await load<typeof RepositoriesTable>('metadata/repositories-table.js');
export const storagePaths = await load<typeof StoragePaths>('storage/paths.js');
export const digests = await load<typeof Digests>('domain/digest.js');
export const wharf = await load<typeof Wharf>('wharf.js');
export const configSchema = await load<typeof ConfigSchema>('config/schema.js');
