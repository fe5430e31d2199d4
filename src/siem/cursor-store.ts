import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';

/** The durable per-sink cursor: the only code that touches `siem_cursors`. */
export interface CursorStore {
  /** The last leaf delivered to `sink` (-1 when nothing was). */
  load(sink: string): Promise<number>;
  /** Moves `sink`'s cursor forward to `leaf`; never back, so a slower node can not rewind it. */
  advance(sink: string, leaf: number, node: string): Promise<void>;
}

/** Creates the cursor store over the module's table. */
export function createCursorStore(deps: { db: Kysely<Database>; clock: Clock }): CursorStore {
  const { db } = deps;
  return {
    async load(sink) {
      const row = await db.selectFrom('siem_cursors').select('leaf_index').where('sink', '=', sink).executeTakeFirst();
      return row ? Number(row.leaf_index) : -1;
    },
    async advance(sink, leaf, node) {
      const updated_at = deps.clock.now().toISOString();
      await db
        .insertInto('siem_cursors')
        .values({ sink, leaf_index: leaf, updated_at, node })
        .onConflict((oc) =>
          oc
            .column('sink')
            .doUpdateSet({ leaf_index: leaf, updated_at, node })
            .where('siem_cursors.leaf_index', '<', leaf),
        )
        .execute();
    },
  };
}
