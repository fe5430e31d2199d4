import { generateKeyPairSync, type JsonWebKey, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { writePrivateFile } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { AuthAuditLog } from './audit-events.js';

/** The token signing key set as the authorization server and the verifier need it. */
export interface SigningKeySet {
  /** Private JWKs for oidc-provider, the signing key first. */
  privateJwks: JsonWebKey[];
  /** Public JWKs of every key whose tokens may still be alive: current, next and recently retired. */
  publicJwks: JsonWebKey[];
}

const ALG = 'ES256';

function keyFile(dir: string, kid: string): string {
  return join(dir, `${kid}.private.jwk.json`);
}

async function addKey(db: Kysely<Database>, dir: string, status: 'next' | 'current', at: string): Promise<void> {
  const kid = randomUUID();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writePrivateFile(
    keyFile(dir, kid),
    JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid, alg: ALG, use: 'sig' }),
  );
  await db
    .insertInto('token_signing_keys')
    .values({
      kid,
      alg: ALG,
      public_jwk: JSON.stringify({ ...publicKey.export({ format: 'jwk' }), kid, alg: ALG, use: 'sig' }),
      status,
      created_at: at,
      retired_at: null,
    })
    .execute();
}

/**
 * Makes sure there is a current signing key and a next one. The next key is published before it ever signs,
 * so a rotation (next becomes current; restart the processes one by one) never presents a token signed by
 * a key some verifier has not seen. Private halves are files (0600) beside the CA keys, never in the database.
 */
export async function ensureSigningKeys(deps: { db: Kysely<Database>; dir: string; clock: Clock }): Promise<void> {
  const at = deps.clock.now().toISOString();
  const rows = await deps.db
    .selectFrom('token_signing_keys')
    .select(['status'])
    .where('status', 'in', ['current', 'next'])
    .execute();
  if (!rows.some((r) => r.status === 'current')) await addKey(deps.db, deps.dir, 'current', at);
  if (!rows.some((r) => r.status === 'next')) await addKey(deps.db, deps.dir, 'next', at);
}

/** Rotates: current is retired (still published while its tokens may live), next signs, and a new next is made. */
export async function rotateSigningKeys(deps: {
  db: Kysely<Database>;
  dir: string;
  clock: Clock;
  audit: AuthAuditLog;
}): Promise<{ current: string }> {
  const at = deps.clock.now().toISOString();
  const result = await deps.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('token_signing_keys')
      .set({ status: 'retired', retired_at: at })
      .where('status', '=', 'current')
      .execute();
    await trx.updateTable('token_signing_keys').set({ status: 'current' }).where('status', '=', 'next').execute();
    await addKey(trx, deps.dir, 'next', at);
    const current = await trx
      .selectFrom('token_signing_keys')
      .select('kid')
      .where('status', '=', 'current')
      .executeTakeFirstOrThrow();
    await deps.audit.append(trx, {
      type: 'auth.signing_key.rotated',
      actor: { type: 'operator' },
      object: { type: 'signing_key', id: current.kid },
      action: 'rotate',
      decision: 'info',
    });
    return current;
  });
  return { current: result.kid };
}

/** Loads the key set: current signs; next and keys retired within `retainSeconds` are published. */
export async function loadSigningKeys(deps: {
  db: Kysely<Database>;
  dir: string;
  clock: Clock;
  retainSeconds: number;
}): Promise<SigningKeySet> {
  const cutoff = new Date(deps.clock.now().getTime() - deps.retainSeconds * 1000).toISOString();
  const rows = await deps.db
    .selectFrom('token_signing_keys')
    .selectAll()
    .where((eb) => eb.or([eb('status', 'in', ['current', 'next']), eb('retired_at', '>', cutoff)]))
    .execute();
  const order = { current: 0, next: 1, retired: 2 } as const;
  rows.sort((a, b) => order[a.status] - order[b.status]);
  // oidc-provider publishes exactly the keys it is given and signs with the first: hand it all of them, current first.
  const privateJwks = rows
    .filter((r) => existsSync(keyFile(deps.dir, r.kid)))
    .map((r) => JSON.parse(readFileSync(keyFile(deps.dir, r.kid), 'utf8')) as JsonWebKey);
  return { privateJwks, publicJwks: rows.map((r) => JSON.parse(r.public_jwk) as JsonWebKey) };
}
