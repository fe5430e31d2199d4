import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { privateKeyOf, publishedKey } from '../wire/index.js';
import type { WebhookDeps } from './ports.js';

/** One published verification key. */
export interface PublishedKey {
  kid: string;
  alg: 'Ed25519';
  /** `whpk_` + base64 of the raw key (the form Standard Webhooks libraries take). */
  publicKey: string;
  status: 'active' | 'retired';
  createdAt: string;
  retiredAt: string | null;
}

/** The platform's `v1a` signing keys. */
export interface WebhookKeySet {
  /** The key that signs now (created on first use). */
  signer(): Promise<{ kid: string; key: KeyObject }>;
  /** The keys receivers should accept: the active one and those retired within the overlap. */
  published(): Promise<PublishedKey[]>;
  /** Retires the signing key and creates a new one (audited). */
  rotate(actor: { type: 'operator'; id: string }): Promise<PublishedKey>;
}

const sealContext = (kid: string) => `webhook-signing-key:${kid}`;

/** Creates the key set over `webhook_signing_keys`; private keys are sealed, never stored in the clear. */
export function createWebhookKeySet(
  deps: Pick<WebhookDeps, 'db' | 'audit' | 'clock' | 'secrets'>,
  overlapSeconds: number,
): WebhookKeySet {
  const { db } = deps;
  let cached: { kid: string; key: KeyObject } | null = null;

  async function create(actor: { type: 'system' | 'operator'; id: string }, retire: string | null) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const kid = `whk_${randomBytes(9).toString('base64url')}`;
    const at = deps.clock.now().toISOString();
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await db.transaction().execute(async (trx) => {
      if (retire)
        await trx.updateTable('webhook_signing_keys').set({ retired_at: at }).where('kid', '=', retire).execute();
      await trx
        .insertInto('webhook_signing_keys')
        .values({
          kid,
          public_key: publishedKey(publicKey),
          private_sealed: deps.secrets.seal(pem, sealContext(kid)),
          created_at: at,
          retired_at: null,
        })
        .execute();
      await deps.audit.append(trx, {
        type: retire ? 'webhooks.key.rotated' : 'webhooks.key.created',
        actor,
        object: { type: 'webhook_signing_key', id: kid },
        action: retire ? 'webhook:rotate_key' : 'webhook:create_key',
        decision: 'info',
        details: { retired: retire },
      });
    });
    cached = { kid, key: privateKey };
    return kid;
  }

  async function current() {
    return db
      .selectFrom('webhook_signing_keys')
      .selectAll()
      .where('retired_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('kid')
      .executeTakeFirst();
  }

  const view = (r: { kid: string; public_key: string; created_at: string; retired_at: string | null }) =>
    ({
      kid: r.kid,
      alg: 'Ed25519',
      publicKey: r.public_key,
      status: r.retired_at ? 'retired' : 'active',
      createdAt: r.created_at,
      retiredAt: r.retired_at,
    }) satisfies PublishedKey;

  return {
    async signer() {
      const row = await current();
      if (!row) {
        const kid = await create({ type: 'system', id: 'webhooks' }, null);
        return { kid, key: cached!.key };
      }
      if (cached?.kid !== row.kid)
        cached = { kid: row.kid, key: privateKeyOf(deps.secrets.open(row.private_sealed, sealContext(row.kid))) };
      return cached;
    },
    async published() {
      await this.signer();
      const since = new Date(deps.clock.now().getTime() - overlapSeconds * 1000).toISOString();
      const rows = await db
        .selectFrom('webhook_signing_keys')
        .select(['kid', 'public_key', 'created_at', 'retired_at'])
        .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', since)]))
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map(view);
    },
    async rotate(actor) {
      const row = await current();
      const kid = await create(actor, row?.kid ?? null);
      return (await this.published()).find((k) => k.kid === kid)!;
    },
  };
}
