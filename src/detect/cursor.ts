/**
 * The engine's durable cursor: a low watermark plus the seqs above it that were missing when read ("gaps").
 * PostgreSQL hands out seqs at insert and makes them visible at commit, so a lower seq can appear after a higher
 * one was read; each round re-reads the gaps, and a gap is given up only after `gapSettle` (a rolled-back insert
 * leaves a seq that never appears). SQLite commits one writer at a time in seq order, so it has no gaps.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';

/** The cursor as the engine holds it. */
export interface CursorState {
  /** Every seq up to `high` was evaluated, except the gaps. */
  high: number;
  /** Seqs at or below `high` not yet seen, with when they were first missed (ms). Sorted by seq. */
  gaps: Array<[number, number]>;
  /** Compare-and-set version: a commit succeeds only from the version it read. */
  version: number;
}

/** At most this many gaps are tracked; beyond it the oldest are given up (a seq jump, not a commit race). */
export const GAP_LIMIT = 10_000;

/** Thrown when the cursor moved under a node (it lost its lease and another committed): its round rolls back. */
export class CursorMovedError extends Error {
  constructor() {
    super('the detection cursor moved: another node committed; this round is discarded');
    this.name = 'CursorMovedError';
  }
}

/**
 * The cursor after a round that evaluated `seqs` (sorted, from the gaps and from above `high`): new holes between
 * them become gaps, seen gaps close, and gaps older than `settleMs` are given up (returned, to be logged).
 */
export function advanceCursor(
  state: CursorState,
  seqs: readonly number[],
  nowMs: number,
  options: { settleMs: number; trackGaps: boolean },
): { next: CursorState; givenUp: number[] } {
  const seen = new Set(seqs);
  const high = Math.max(state.high, ...seqs);
  let gaps = state.gaps.filter(([s]) => !seen.has(s));
  if (options.trackGaps) {
    for (let s = state.high + 1; s < high && gaps.length <= GAP_LIMIT * 2; s++) if (!seen.has(s)) gaps.push([s, nowMs]);
  } else gaps = [];
  gaps.sort((a, b) => a[0] - b[0]);
  const givenUp: number[] = [];
  const kept = gaps.filter(([s, since], i) => {
    const drop = nowMs - since >= options.settleMs || gaps.length - i > GAP_LIMIT;
    if (drop) givenUp.push(s);
    return !drop;
  });
  return { next: { high, gaps: kept, version: state.version + 1 }, givenUp };
}

/** The only code that touches `detect_cursor`. */
export interface CursorStore {
  /** The cursor, or null before the engine's first round created it. */
  load(): Promise<CursorState | null>;
  /** Creates the cursor row at `high` unless it exists. */
  create(high: number, node: string, at: string): Promise<void>;
  /** Writes `next` inside `trx` only if the stored version is still `from.version`; else CursorMovedError. */
  commit(trx: Kysely<Database>, from: CursorState, next: CursorState, node: string, at: string): Promise<void>;
}

const NAME = 'main';

/** Creates the cursor store. */
export function createCursorStore(db: Kysely<Database>): CursorStore {
  return {
    async load() {
      const row = await db.selectFrom('detect_cursor').selectAll().where('name', '=', NAME).executeTakeFirst();
      if (!row) return null;
      return { high: Number(row.high), gaps: JSON.parse(row.gaps) as Array<[number, number]>, version: row.version };
    },
    async create(high, node, at) {
      await db
        .insertInto('detect_cursor')
        .values({ name: NAME, high, gaps: '[]', version: 0, node, updated_at: at })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
    },
    async commit(trx, from, next, node, at) {
      const result = await trx
        .updateTable('detect_cursor')
        .set({ high: next.high, gaps: JSON.stringify(next.gaps), version: next.version, node, updated_at: at })
        .where('name', '=', NAME)
        .where('version', '=', from.version)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) throw new CursorMovedError();
    },
  };
}
