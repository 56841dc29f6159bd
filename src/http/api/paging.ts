import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './api-error.js';

// Harbor's paging: ?page=1&page_size=10 (at most 100), X-Total-Count and an RFC 8288 Link header.

export interface PageRequest {
  page: number;
  pageSize: number;
  offset: number;
}

export const MAX_API_PAGE_SIZE = 100;

/**
 * The highest page number served. The offset it implies must fit PostgreSQL's bigint and stay an
 * exact JavaScript number: a page beyond it is a 400, not an arithmetic error in SQL.
 */
export const MAX_API_PAGE = 1_000_000_000;

function positiveInt(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  // Already a number: the route's schema (schemas.ts, pageQuery) checked the range.
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    const range = Number.isFinite(max) ? `an integer from 1 to ${max}` : 'a positive integer';
    throw new ApiError('BAD_REQUEST', `${name} must be ${range}`);
  }
  return Number(value);
}

/** The page asked for: `page` and `page_size` as the route's schema gave them (or raw strings). */
export function pageRequest(
  q: { page?: unknown; page_size?: unknown } | null | undefined,
  defaultSize = 10,
): PageRequest {
  q ??= {};
  const page = positiveInt(q.page, 'page', 1, MAX_API_PAGE);
  // A larger page_size is served as the largest page, as Harbor does.
  const pageSize = Math.min(positiveInt(q.page_size, 'page_size', defaultSize, Infinity), MAX_API_PAGE_SIZE);
  return { page, pageSize, offset: (page - 1) * pageSize };
}

/** Sets X-Total-Count and Link (prev/next) for a page of `total` items. */
export function setPageHeaders(
  request: FastifyRequest,
  reply: FastifyReply,
  page: PageRequest,
  total: number,
): void {
  reply.header('x-total-count', String(total));
  const mark = request.url.indexOf('?');
  const path = mark < 0 ? request.url : request.url.slice(0, mark);
  const search = mark < 0 ? '' : request.url.slice(mark + 1);
  const links: string[] = [];
  const link = (n: number, rel: string) => {
    const params = new URLSearchParams(search);
    params.set('page', String(n));
    params.set('page_size', String(page.pageSize));
    links.push(`<${path}?${params.toString()}>; rel="${rel}"`);
  };
  if (page.page > 1) link(page.page - 1, 'prev');
  if (page.offset + page.pageSize < total) link(page.page + 1, 'next');
  if (links.length > 0) reply.header('link', links.join(' , '));
}
