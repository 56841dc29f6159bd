import { RegistryError } from '../../domain/errors.js';
import { listTags } from '../../metadata/manifests-table.js';
import { findRepository, listRepositoryNames } from '../../metadata/repositories-table.js';
import type { RegistryDeps } from './deps.js';
import { requireQueryText, requireRepositoryName } from './validate.js';

/** Largest page served, whatever `n` asks; clients follow the Link header for more. */
export const MAX_PAGE_SIZE = 10_000;

export interface Page {
  items: string[];
  /** The `last` value for the next page, when there may be one. */
  next?: string;
}

function pageSize(n: number | undefined): number {
  if (n === undefined) return MAX_PAGE_SIZE;
  return Math.min(Math.max(n, 0), MAX_PAGE_SIZE);
}

async function page(fetch: (limit: number) => Promise<string[]>, size: number): Promise<Page> {
  if (size === 0) return { items: [] };
  // One extra row tells whether there is a next page without a count query.
  const rows = await fetch(size + 1);
  if (rows.length <= size) return { items: rows };
  const items = rows.slice(0, size);
  return { items, next: items[items.length - 1] as string };
}

export class ListingService {
  constructor(private readonly deps: RegistryDeps) {}

  async tags(repository: string, n: number | undefined, last: string | undefined): Promise<Page> {
    requireRepositoryName(repository);
    requireQueryText(last, 'last');
    const repo = await findRepository(this.deps.db, repository);
    if (!repo) throw new RegistryError('NAME_UNKNOWN', `repository ${repository} is not known`);
    return page((limit) => listTags(this.deps.db, repo.id, last, limit), pageSize(n));
  }

  async catalog(n: number | undefined, last: string | undefined): Promise<Page> {
    requireQueryText(last, 'last');
    return page((limit) => listRepositoryNames(this.deps.db, last, limit), pageSize(n));
  }
}
