import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { SecretBox } from '../identity/index.js';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';

/** What the adapter needs. */
export interface AdapterDeps {
  db: Kysely<Database>;
  clock: Clock;
  secrets: SecretBox;
  /** Synthesises clients that are not stored as payloads (applications, workloads, devices). */
  findClient(id: string): Promise<AdapterPayload | undefined>;
  /**
   * Told when oidc-provider revokes a grant (RFC 7009 on a refresh token, a logout, refresh-token or code reuse):
   * the access tokens minted from it must stop working too, which their storage cannot do for a JWT.
   */
  grantRevoked?(grantId: string): Promise<void>;
}

/** Deletes rows whose lifetime has passed; find() already ignores them, this only reclaims the space. */
export async function sweepExpiredPayloads(db: Kysely<Database>, now: Date): Promise<number> {
  const r = await db.deleteFrom('oidc_payloads').where('expires_at', '<', now.toISOString()).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Ends every grant, session, pending sign-in, code and refresh token of a user, in the caller's transaction. */
export async function revokeAccountTokens(db: Kysely<Database>, accountId: string): Promise<number> {
  const r = await db.deleteFrom('oidc_payloads').where('account_id', '=', accountId).executeTakeFirst();
  return Number(r.numDeletedRows);
}

function keyOf(model: string, id: string): string {
  return `${model}:${createHash('sha256').update(id).digest('base64url')}`;
}

/**
 * oidc-provider storage over Kysely (SQLite and PostgreSQL). Every row is keyed by a hash of the model's id
 * and stored without its `jti`: the id of a code, refresh token or session is the bearer secret itself, so a
 * copy of the database cannot replay one. Sessions, which oidc-provider also looks up by uid, keep their id
 * sealed instead. Clients come from the directory, not from this table.
 */
export function createAdapterFactory(deps: AdapterDeps): (model: string) => Adapter {
  return (model: string): Adapter => {
    const now = () => deps.clock.now();
    const restore = (row: { payload: string; consumed_at: string | null }, id: string | null): AdapterPayload => {
      const payload = JSON.parse(row.payload) as AdapterPayload & { sealedJti?: string };
      const jti = id ?? (payload.sealedJti ? deps.secrets.open(payload.sealedJti, `oidc:${model}`) : undefined);
      delete payload.sealedJti;
      const session = (payload as { session?: { cookie?: string } }).session;
      if (session?.cookie)
        (payload as { session?: object }).session = {
          ...session,
          cookie: deps.secrets.open(session.cookie, 'oidc:interaction-session'),
        };
      return {
        ...payload,
        ...(jti ? { jti } : {}),
        ...(row.consumed_at ? { consumed: Math.floor(Date.parse(row.consumed_at) / 1000) } : {}),
      };
    };
    const live = (expiresAt: string | null) => expiresAt === null || expiresAt > now().toISOString();

    return {
      async upsert(id, payload, expiresIn) {
        const { jti: _jti, ...rest } = payload;
        const stored: Record<string, unknown> =
          model === 'Session' ? { ...rest, sealedJti: deps.secrets.seal(id, `oidc:${model}`) } : { ...rest };
        // An interaction carries the session id it belongs to: sealed too, like the session's own.
        const session = stored.session as { cookie?: string } | undefined;
        if (session?.cookie)
          stored.session = { ...session, cookie: deps.secrets.seal(session.cookie, 'oidc:interaction-session') };
        // The account a row belongs to, wherever oidc-provider keeps it, so a password change can end it.
        const p = payload as AdapterPayload & {
          result?: { login?: { accountId?: string } };
          lastSubmission?: { login?: { accountId?: string } };
          session?: { accountId?: string };
        };
        const accountId =
          payload.accountId ??
          p.result?.login?.accountId ??
          p.lastSubmission?.login?.accountId ??
          p.session?.accountId ??
          null;
        const row = {
          key: keyOf(model, id),
          model,
          payload: JSON.stringify(stored),
          grant_id: payload.grantId ?? null,
          account_id: accountId,
          uid: payload.uid ?? null,
          expires_at: expiresIn ? new Date(now().getTime() + expiresIn * 1000).toISOString() : null,
          consumed_at: null,
        };
        await deps.db
          .insertInto('oidc_payloads')
          .values(row)
          .onConflict((oc) =>
            oc.column('key').doUpdateSet({
              payload: row.payload,
              grant_id: row.grant_id,
              account_id: row.account_id,
              uid: row.uid,
              expires_at: row.expires_at,
            }),
          )
          .execute();
      },
      async find(id) {
        if (model === 'Client') return deps.findClient(id);
        const row = await deps.db
          .selectFrom('oidc_payloads')
          .select(['payload', 'consumed_at', 'expires_at'])
          .where('key', '=', keyOf(model, id))
          .executeTakeFirst();
        return row && live(row.expires_at) ? restore(row, id) : undefined;
      },
      async findByUid(uid) {
        const row = await deps.db
          .selectFrom('oidc_payloads')
          .select(['payload', 'consumed_at', 'expires_at'])
          .where('model', '=', model)
          .where('uid', '=', uid)
          .executeTakeFirst();
        return row && live(row.expires_at) ? restore(row, null) : undefined;
      },
      async findByUserCode() {
        return undefined; // The device authorization grant is not enabled.
      },
      async consume(id) {
        await deps.db
          .updateTable('oidc_payloads')
          .set({ consumed_at: now().toISOString() })
          .where('key', '=', keyOf(model, id))
          .execute();
      },
      async destroy(id) {
        await deps.db.deleteFrom('oidc_payloads').where('key', '=', keyOf(model, id)).execute();
        if (model === 'Grant') await deps.grantRevoked?.(id);
      },
      async revokeByGrantId(grantId) {
        await deps.db.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute();
        // oidc-provider calls this once per model for one revocation; only the access tokens' call denies.
        if (model === 'AccessToken') await deps.grantRevoked?.(grantId);
      },
    };
  };
}
