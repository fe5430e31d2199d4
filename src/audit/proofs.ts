import type { Kysely } from 'kysely';
import { CarapaceError } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { type Checkpoint, checkpointFromRow } from './checkpoint.js';
import { canonicalEvent, eventLeafHash } from './leaf.js';
import { currentHorizon } from './horizon.js';
import { proofTree } from './proof-tree.js';
import { fromRow } from './store.js';
import { consistencyFrom, inclusionFrom } from './subtrees.js';

/** An inclusion proof (RFC 6962 §2.1.1) of one event in a signed checkpoint, with what a verifier needs. */
export interface InclusionProof {
  eventId: string;
  seq: number;
  leafIndex: number;
  /** The event's canonical JSON: SHA-256(0x00 || it) is `leafHash`. */
  canonicalEvent: string;
  leafHash: string;
  /** Sibling hashes, hex, bottom up. */
  auditPath: string[];
  checkpoint: Checkpoint;
}

/** A consistency proof (RFC 6962 §2.1.2) between two signed checkpoints. */
export interface ConsistencyProof {
  first: Checkpoint;
  second: Checkpoint;
  /** Hex, in RFC 6962 order. */
  proof: string[];
}

/** Builds proofs from the stored leaves against the stored checkpoints. */
export interface AuditProofs {
  inclusion(eventId: string, treeSize?: number): Promise<InclusionProof>;
  consistency(first: number, second?: number): Promise<ConsistencyProof>;
  /**
   * Inclusion proofs of many events in the latest checkpoint, hashing the leaves once. An event not yet sealed
   * (or unknown) maps to null rather than failing the rest.
   */
  inclusionOfEach(eventIds: readonly string[]): Promise<Map<string, InclusionProof | null>>;
}

const hex = (b: Buffer) => b.toString('hex');

/**
 * Creates the proof builder. A proof reads the stored perfect subtrees and short leaf runs it needs (O(log n),
 * `proof-tree.ts`); below a prune horizon the kept nodes stand in for the removed leaves (`subtrees.ts`), so proofs
 * of surviving events and between checkpoints still hold. A proof that needs a removed leaf is `ERR_AUDIT_PRUNED`.
 */
export function createAuditProofs(deps: { db: Kysely<Database> }): AuditProofs {
  const { db } = deps;

  async function checkpointAt(treeSize: number | undefined): Promise<Checkpoint> {
    let q = db.selectFrom('audit_checkpoints').selectAll();
    q = treeSize === undefined ? q.orderBy('tree_size', 'desc') : q.where('tree_size', '=', treeSize);
    const row = await q.executeTakeFirst();
    if (!row)
      throw new CarapaceError(
        treeSize === undefined ? 'ERR_AUDIT_NOT_SEALED' : 'ERR_NOT_FOUND',
        treeSize === undefined ? 'no checkpoint has been signed yet' : 'no checkpoint of that tree size',
      );
    return checkpointFromRow(row);
  }

  async function pathOf(m: number, n: number): Promise<string[]> {
    return inclusionFrom(await proofTree(db, n, (src) => inclusionFrom(src, m, n)), m, n).map(hex);
  }

  return {
    async inclusion(eventId, treeSize) {
      const row = await db.selectFrom('audit_events').selectAll().where('id', '=', eventId).executeTakeFirst();
      if (!row) throw new CarapaceError('ERR_NOT_FOUND', 'no such audit event');
      const checkpoint = await checkpointAt(treeSize);
      const leaf = await db
        .selectFrom('audit_leaves')
        .select('leaf_index')
        .where('event_seq', '=', row.seq)
        .executeTakeFirst();
      if (leaf && leaf.leaf_index < (await currentHorizon(db)))
        throw new CarapaceError('ERR_AUDIT_PRUNED', 'the event lies below the prune horizon', { eventId });
      if (!leaf || leaf.leaf_index >= checkpoint.treeSize)
        throw new CarapaceError('ERR_AUDIT_NOT_SEALED', 'the event is not in that checkpoint yet', { eventId });
      const event = fromRow(row);
      return {
        eventId,
        seq: row.seq,
        leafIndex: leaf.leaf_index,
        canonicalEvent: canonicalEvent(event),
        // Recomputed from the event, not read from the leaf: an edited event yields a proof that fails.
        leafHash: eventLeafHash(event),
        auditPath: await pathOf(leaf.leaf_index, checkpoint.treeSize),
        checkpoint,
      };
    },

    async inclusionOfEach(eventIds) {
      const out = new Map<string, InclusionProof | null>(eventIds.map((id) => [id, null]));
      if (eventIds.length === 0) return out;
      const checkpoint = await checkpointAt(undefined);
      const rows = await db
        .selectFrom('audit_events')
        .innerJoin('audit_leaves', 'audit_leaves.event_seq', 'audit_events.seq')
        .selectAll('audit_events')
        .select('audit_leaves.leaf_index')
        .where('audit_events.id', 'in', [...eventIds])
        .where('audit_leaves.leaf_index', '<', checkpoint.treeSize)
        .where('audit_leaves.leaf_index', '>=', await currentHorizon(db))
        .execute();
      if (rows.length === 0) return out;
      const n = checkpoint.treeSize;
      const indexes = rows.map((r) => r.leaf_index);
      // One source for all the paths, reading only the nodes and leaf runs they need.
      const tree = await proofTree(db, n, (src) => indexes.forEach((m) => inclusionFrom(src, m, n)));
      for (const { leaf_index, ...row } of rows) {
        const event = fromRow(row);
        out.set(row.id, {
          eventId: row.id,
          seq: row.seq,
          leafIndex: leaf_index,
          canonicalEvent: canonicalEvent(event),
          leafHash: eventLeafHash(event),
          auditPath: inclusionFrom(tree, leaf_index, checkpoint.treeSize).map(hex),
          checkpoint,
        });
      }
      return out;
    },

    async consistency(first, second) {
      const to = await checkpointAt(second);
      const from = await checkpointAt(first);
      if (from.treeSize > to.treeSize)
        throw new CarapaceError('ERR_VALIDATION', 'the first checkpoint must not be larger than the second', {
          field: 'first',
        });
      return {
        first: from,
        second: to,
        proof: consistencyFrom(
          await proofTree(db, to.treeSize, (src) => consistencyFrom(src, from.treeSize, to.treeSize)),
          from.treeSize,
          to.treeSize,
        ).map(hex),
      };
    },
  };
}
