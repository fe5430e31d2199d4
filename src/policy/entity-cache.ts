import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { createEntityLoader, type EntityLoader } from './entities.js';
import type { AuthorizationFacts, RelationshipQuery } from './facts.js';

type RelationshipRow = Database['relationships'];

/** How many reads one node keeps; past it the least recently used go first. */
export const ENTITY_CACHE_LIMIT = 20_000;

/** Whether a relationship is in force at `at`: the same test as the store's query (ISO strings compare in order). */
function inForceAt(r: RelationshipRow, at: string): boolean {
  return (
    r.valid_from <= at && (r.valid_until === null || r.valid_until > at) && (r.ended_at === null || r.ended_at > at)
  );
}

/** Every field of a relationship query in a fixed order: two queries share an entry only if they ask the same. */
function queryKey(q: RelationshipQuery): string {
  const ids = q.vehicleIds ? [...q.vehicleIds].join(',') : '*';
  return ['rel', q.id, q.kind, ids, q.userId, q.applicationId, q.accountId].map((v) => v ?? '*').join('\u0000');
}

/** A least-recently-used map of pending or settled reads, all read after one value of the change counter. */
class Entries {
  private readonly map = new Map<string, Promise<unknown>>();
  constructor(private readonly limit: number) {}

  /** The cached read for `key`, or `load()` kept under it (a failed read is forgotten, never cached). */
  read<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key);
      this.map.set(key, hit);
      return hit as Promise<T>;
    }
    const pending = load();
    this.map.set(key, pending);
    pending.catch(() => this.map.get(key) === pending && this.map.delete(key));
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value as string);
    return pending;
  }
}

/**
 * The facts the decisions of one request read, through the entries of one counter value. Only what every request
 * reads is cached (people, memberships, applications, vehicles, relationships); the rest is read each time.
 * Relationships are kept with those that start later, and judged in force at each request's own clock reading.
 */
function cachedFacts(facts: AuthorizationFacts, entries: Entries): AuthorizationFacts {
  const frozen = <T extends object>(row: T | undefined) => (row ? Object.freeze(row) : row);
  return {
    ...facts,
    user: (id) => entries.read(`user\u0000${id}`, async () => frozen(await facts.user(id))),
    memberships: async (userId) => [
      ...(await entries.read(`memberships\u0000${userId}`, async () =>
        (await facts.memberships(userId)).map((m) => Object.freeze(m)),
      )),
    ],
    application: (clientId) =>
      entries.read(`application\u0000${clientId}`, async () => frozen(await facts.application(clientId))),
    vehicles: async (ids) => {
      if (ids.length !== 1) return facts.vehicles(ids);
      const id = ids[0] as string;
      return [
        ...(await entries.read(`vehicle\u0000${id}`, async () =>
          (await facts.vehicles([id])).map((r) => Object.freeze(r)),
        )),
      ];
    },
    relationshipsInForce: async (at, query) => {
      const kept = await entries.read(queryKey(query), async () => ({
        from: at,
        rows: (await facts.relationshipsNotOver(at, query)).map((r) => Object.freeze(r)),
      }));
      // An entry knows nothing of what ended before it was read: a clock set back reads afresh.
      if (at < kept.from) return facts.relationshipsInForce(at, query);
      return kept.rows.filter((r) => inForceAt(r, at));
    },
  };
}

/**
 * The entity cache of one node. Before each decision it reads the `authorization` change counter, which triggers
 * bump in the transaction of every write to the tables the decision reads, on any node: a different value drops
 * every entry, so the decision after a committed change (a revoked delegation, a transfer, an ended grant) never
 * sees what it replaced, on this node or another, with or without Redis. A counter that cannot be read fails the
 * decision (nothing is served from the cache on trust). Entries are keyed by everything their query asks, so two
 * callers share one only if they ask exactly the same.
 */
export function createEntityCache(deps: {
  facts: AuthorizationFacts;
  clock: Clock;
  /** The current value of the change counter (one indexed read); only equality means anything. */
  changes: () => Promise<string>;
  limit?: number;
}) {
  const limit = deps.limit ?? ENTITY_CACHE_LIMIT;
  let seen: string | null = null;
  let entries = new Entries(limit);
  return {
    /** An entity loader for one request's decisions, current as of the counter read now. */
    async loader(): Promise<EntityLoader> {
      const now = await deps.changes();
      // Any other value starts afresh. A read that resolves after a newer one only costs a refill: the entries it
      // then fills were read after its counter value, so they are at least as new as that value.
      if (now !== seen) {
        seen = now;
        entries = new Entries(limit);
      }
      return createEntityLoader({ facts: cachedFacts(deps.facts, entries), clock: deps.clock });
    },
  };
}

/** The entity cache. */
export type EntityCache = ReturnType<typeof createEntityCache>;
