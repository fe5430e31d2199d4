import { readFileSync, statSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { CarapaceError } from '../platform/index.js';

const closed = { additionalProperties: false } as const;
const S = Type.String();
const N = Type.Number();
const NS = Type.Union([Type.String(), Type.Null()]);
/** The most cells of one kind (unexpected, unreached) the page lists; the totals always count them all. */
const MAX_LISTED = 500;

const CellView = Type.Object(
  { phase: S, persona: S, action: S, route: S, object: S, expected: S, observed: S, note: NS, command: NS },
  closed,
);

/** The last matrix report as the console shows it: totals, route coverage, per action, and the cells to read. */
export const MatrixReportView = Type.Object(
  {
    writtenAt: S,
    summary: Type.Object(
      {
        cells: N,
        allowed: N,
        denied: N,
        unexpected: N,
        unreached: N,
        phases: Type.Array(S),
        routes: N,
        routesReached: N,
        routesMissing: Type.Array(S),
        unresolved: Type.Array(S),
      },
      closed,
    ),
    byAction: Type.Array(Type.Object({ action: S, cells: N, unexpected: N, unreached: N }, closed)),
    unexpectedCells: Type.Array(CellView),
    unreachedCells: Type.Array(CellView),
  },
  closed,
);

interface RawCell {
  phase?: unknown;
  persona?: unknown;
  action?: unknown;
  route?: unknown;
  object?: unknown;
  expected?: unknown;
  observed?: unknown;
  note?: unknown;
  command?: unknown;
  unexpected?: unknown;
  unreached?: unknown;
}

const text = (v: unknown) => (v === undefined || v === null ? '' : String(v));
const strings = (v: unknown) => (Array.isArray(v) ? v.map(text) : []);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

const cellOf = (c: RawCell) => ({
  phase: text(c.phase),
  persona: text(c.persona),
  action: text(c.action),
  route: text(c.route),
  object: text(c.object),
  expected: text(c.expected),
  observed: text(c.observed),
  note: c.note === undefined ? null : text(c.note),
  command: c.command === undefined ? null : text(c.command),
});

/** Reads the report `carapace authz-matrix --report` wrote; 404 when there is none yet or it does not parse. */
export function readMatrixReport(file: string) {
  let raw: { cells?: RawCell[]; summary?: Record<string, unknown> };
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as typeof raw;
  } catch {
    throw new CarapaceError('ERR_NOT_FOUND', 'no authorization matrix report yet (carapace authz-matrix --report)');
  }
  const s = raw.summary ?? {};
  const cells = Array.isArray(raw.cells) ? raw.cells : [];
  const byAction = new Map<string, { action: string; cells: number; unexpected: number; unreached: number }>();
  for (const c of cells) {
    const a = byAction.get(text(c.action)) ?? { action: text(c.action), cells: 0, unexpected: 0, unreached: 0 };
    a.cells += 1;
    a.unexpected += c.unexpected === true ? 1 : 0;
    a.unreached += c.unreached === true ? 1 : 0;
    byAction.set(a.action, a);
  }
  return {
    writtenAt: statSync(file).mtime.toISOString(),
    summary: {
      cells: num(s.cells),
      allowed: num(s.allowed),
      denied: num(s.denied),
      unexpected: num(s.unexpected),
      unreached: num(s.unreached),
      phases: strings(s.phases),
      routes: num(s.routes),
      routesReached: num(s.routesReached),
      routesMissing: strings(s.routesMissing),
      unresolved: strings(s.unresolved),
    },
    byAction: [...byAction.values()].sort((a, b) => a.action.localeCompare(b.action)),
    unexpectedCells: cells
      .filter((c) => c.unexpected === true)
      .slice(0, MAX_LISTED)
      .map(cellOf),
    unreachedCells: cells
      .filter((c) => c.unreached === true)
      .slice(0, MAX_LISTED)
      .map(cellOf),
  };
}
