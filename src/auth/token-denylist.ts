import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Cluster } from '../cluster/index.js';
import type { Clock, Logger } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { VerifiedToken } from '../tokens/index.js';
import type { DeniedTokenKind } from './tables.js';

/** What can be denied: one token (`jti`), every token of a grant, or a client's tokens issued until now. */
export type DenyEntry =
  | { kind: 'jti'; value: string; until: Date }
  | { kind: 'grant'; value: string }
  | { kind: 'client'; value: string }
  | { kind: 'suspended_client'; value: string };

/** A suspension has no end of its own: it is kept until an operator lifts it (not built yet: delete the row). */
const SUSPENSION_ENDS = '9999-12-31T23:59:59.999Z';

/** The reference to a grant an access token carries (`gid`): a hash, so a token never names the grant itself. */
export function grantReference(grantId: string): string {
  return createHash('sha256').update(`grant:${grantId}`).digest('base64url').slice(0, 32);
}

const CHANNEL = 'auth:token-denylist';

/**
 * The access-token denylist: revoked token ids, grants and clients. Access tokens are self-contained JWTs, so
 * without it a revoked one kept working until it expired (up to 10 minutes). Entries live in the database (the
 * source of truth) only as long as a token they deny could still be valid; every process keeps them in memory
 * (the fast path of every request), reloads them every `pollSeconds`, and at once when another process
 * announces a change on the cluster's pub/sub. The message carries nothing but "reload": a forged one costs a
 * read and changes no decision. A failed announcement is the `credential-fanout` exception: the change is
 * committed, and the periodic reload delivers it.
 */
export function createTokenDenylist(deps: {
  db: Kysely<Database>;
  cluster: Cluster;
  clock: Clock;
  log: Logger;
  /** The longest an access token lives (plus skew): how long a grant or client entry must be kept. */
  retainSeconds: number;
  pollSeconds: number;
}) {
  let jtis = new Set<string>();
  let grants = new Set<string>();
  let clients = new Map<string, number>();
  let suspended = new Set<string>();
  let loaded = false;
  let reloading: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;

  async function load(): Promise<void> {
    const now = deps.clock.now().toISOString();
    const rows = await deps.db
      .selectFrom('token_denylist')
      .select(['kind', 'value', 'denied_at'])
      .where('expires_at', '>', now)
      .execute();
    const next = {
      jtis: new Set<string>(),
      grants: new Set<string>(),
      clients: new Map<string, number>(),
      suspended: new Set<string>(),
    };
    for (const r of rows) {
      if (r.kind === 'jti') next.jtis.add(r.value);
      else if (r.kind === 'grant') next.grants.add(r.value);
      else if (r.kind === 'suspended_client') next.suspended.add(r.value);
      else {
        // A client entry refuses the tokens issued up to the second it was made (`iat` has whole seconds).
        const cutoff = Math.floor(Date.parse(r.denied_at) / 1000);
        next.clients.set(r.value, Math.max(cutoff, next.clients.get(r.value) ?? 0));
      }
    }
    ({ jtis, grants, clients, suspended } = next);
    loaded = true;
  }

  /** Reloads, coalescing a burst of announcements into at most one reload after the running one. */
  function reload(): Promise<void> {
    if (reloading) {
      again = true;
      return reloading;
    }
    reloading = load()
      .catch((err: unknown) => deps.log.error({ err }, 'reloading the token denylist failed'))
      .finally(() => {
        reloading = null;
        if (again) {
          again = false;
          void reload();
        }
      });
    return reloading;
  }

  return {
    /** Loads the entries, subscribes to announcements and starts the periodic reload. */
    async start(): Promise<void> {
      await load();
      await deps.cluster.subscribe(CHANNEL, () => void reload());
      // Announcements sent while Redis was away are lost: reload as soon as it is back.
      deps.cluster.onReconnect(() => void reload());
      timer = setInterval(() => void reload(), deps.pollSeconds * 1000);
      timer.unref();
    },

    /** Records entries in `db` (pass the transaction that makes the change); `announce` after it commits. */
    async deny(db: Kysely<Database>, entries: DenyEntry[]): Promise<void> {
      if (entries.length === 0) return;
      const now = deps.clock.now();
      const keep = new Date(now.getTime() + deps.retainSeconds * 1000);
      await db
        .insertInto('token_denylist')
        .values(
          entries.map((e) => ({
            id: newId(),
            kind: e.kind as DeniedTokenKind,
            value: e.value,
            denied_at: now.toISOString(),
            expires_at:
              e.kind === 'jti'
                ? e.until.toISOString()
                : e.kind === 'suspended_client'
                  ? SUSPENSION_ENDS
                  : keep.toISOString(),
          })),
        )
        .execute();
    },

    /** Applies committed entries in this process at once, and tells every other process to reload. */
    async announce(): Promise<void> {
      await reload();
      await deps.cluster.publish(CHANNEL, '{"v":1}', { exception: 'credential-fanout' });
    },

    /** Why this token is refused (`token_revoked`), or null. Memory only: the fast path of every request. */
    refuses(token: Pick<VerifiedToken, 'jti' | 'clientId' | 'grant' | 'issuedAt'>): string | null {
      // Before the first load nothing is known: refuse rather than let a revoked token through.
      if (!loaded) return 'denylist_not_loaded';
      if (jtis.has(token.jti)) return 'token_revoked';
      if (token.grant !== null && grants.has(token.grant)) return 'grant_revoked';
      if (suspended.has(token.clientId)) return 'client_suspended';
      const cutoff = clients.get(token.clientId);
      if (cutoff !== undefined && token.issuedAt <= cutoff) return 'client_tokens_revoked';
      return null;
    },

    /** True when the client is suspended: read from the database, so it holds on every node at once. */
    async isSuspended(clientId: string): Promise<boolean> {
      const row = await deps.db
        .selectFrom('token_denylist')
        .select('id')
        .where('kind', '=', 'suspended_client')
        .where('value', '=', clientId)
        .where('expires_at', '>', deps.clock.now().toISOString())
        .executeTakeFirst();
      return row !== undefined;
    },

    /** Deletes entries no token can need any more. */
    async sweep(): Promise<number> {
      const r = await deps.db
        .deleteFrom('token_denylist')
        .where('expires_at', '<=', deps.clock.now().toISOString())
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },

    close(): void {
      if (timer) clearInterval(timer);
    },
  };
}

/** The access-token denylist of one process. */
export type TokenDenylist = ReturnType<typeof createTokenDenylist>;
