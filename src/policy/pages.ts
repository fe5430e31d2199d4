import { type TObject, Type } from '@sinclair/typebox';
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { FastifyRequest } from 'fastify';
import { CarapaceError } from '../platform/index.js';
import type { DecisionPoint } from './decision-point.js';
import { decideEach } from './enforcement.js';
import type { EntityLoader, LoadedResource } from './entities.js';
import { closed } from './route-kit.js';

/** The largest page a list returns, and the page when the caller names none. */
export const MAX_PAGE = 100;
/** Candidates one list request decides at most: a caller who may read few of many pages on instead of waiting. */
export const SCAN_MAX = 500;

/** `limit` (1–100) and an opaque `cursor` (from `next` of the previous page); nothing else. */
export const PageQuery: TObject = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|100)$' })),
    cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,400}$' })),
  },
  closed,
);

/** Where a keyset page starts: after the row with this sort key and id. */
export interface PagePosition {
  key: string;
  id: string;
}

/**
 * An opaque list cursor: the sort key and id of the last row a page covered, tagged with the list it came from,
 * so a cursor from one list is refused by another. It is only ever a lower bound: every row it leads to is
 * still decided by the policies.
 */
export function pageCursor(list: string) {
  const tag = `${list}:`;
  return {
    /** The cursor after a row. */
    after(position: PagePosition): string {
      return Buffer.from(tag + JSON.stringify([position.key, position.id])).toString('base64url');
    },
    /** The position a cursor names; a cursor this list did not give out is a 400. */
    read(cursor: string | undefined): PagePosition | null {
      if (cursor === undefined) return null;
      const text = Buffer.from(cursor, 'base64url').toString('utf8');
      const refuse = () =>
        new CarapaceError('ERR_VALIDATION', 'the cursor is not one this list gave out', { field: 'query.cursor' });
      if (!text.startsWith(tag)) throw refuse();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text.slice(tag.length));
      } catch {
        throw refuse();
      }
      const ok = Array.isArray(parsed) && parsed.length === 2 && parsed.every((p) => typeof p === 'string');
      if (!ok) throw refuse();
      const [key, id] = parsed as [string, string];
      return { key, id };
    },
  };
}

/** The page size a request asked for, or the default. */
export function pageLimit(req: FastifyRequest): number {
  const limit = (req.query as { limit?: string } | undefined)?.limit;
  return limit === undefined ? MAX_PAGE : Number(limit);
}

/**
 * One page of a list the policies filter: the candidates (read in list order, at most SCAN_MAX + 1 of them)
 * are decided in one batch with `action`; the page is the first `limit` readable ones. `next` is set whenever
 * there may be more: more readable rows than the page, or more candidates than one request decides.
 */
export async function decidedPage<T>(args: {
  req: FastifyRequest;
  deps: { decisions: DecisionPoint; load: EntityLoader };
  action: string;
  candidates: T[];
  resourceOf: (row: T) => LoadedResource;
  positionOf: (row: T) => PagePosition;
  cursor: ReturnType<typeof pageCursor>;
  extra?: Record<string, CedarValueJson>;
}): Promise<{ page: T[]; next?: string }> {
  const limit = pageLimit(args.req);
  const scanned = args.candidates.slice(0, SCAN_MAX);
  const allowed = await decideEach(args.req, args.deps, args.action, scanned.map(args.resourceOf), args.extra);
  const readable = scanned.filter((_, i) => allowed[i]);
  const page = readable.slice(0, limit);
  const more = readable.length > limit || args.candidates.length > SCAN_MAX;
  const last = readable.length > limit ? page.at(-1) : scanned.at(-1);
  return { page, ...(more && last !== undefined ? { next: args.cursor.after(args.positionOf(last)) } : {}) };
}

/** One page of a list whose rows need no decision of their own (the list action decided the whole list). */
export function plainPage<T>(
  req: FastifyRequest,
  rows: T[],
  positionOf: (row: T) => PagePosition,
  cursor: ReturnType<typeof pageCursor>,
): { page: T[]; next?: string } {
  const limit = pageLimit(req);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, ...(rows.length > limit && last !== undefined ? { next: cursor.after(positionOf(last)) } : {}) };
}
