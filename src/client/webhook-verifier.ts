import { timingSafeEqual } from 'node:crypto';
import {
  hmacSignature,
  parseSignatures,
  publicKeyOf,
  signedContent,
  verifyEd25519,
  WEBHOOK_HEADERS,
} from '../wire/index.js';

/** Why a delivery was refused: a stable code to branch on (the message is for logs). */
export type WebhookRefusal =
  'missing_headers' | 'malformed' | 'too_old' | 'too_new' | 'bad_signature' | 'wrong_tenant' | 'duplicate';

/** A refused delivery. Answer it with a 4xx; Carapace retries only what was not answered 2xx. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly code: WebhookRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/** Remembers the `webhook-id`s already accepted, for as long as they could be replayed (the tolerance). */
export interface SeenStore {
  /** Records `id` until `untilMs`; true when it was already recorded (a duplicate). */
  remember(id: string, untilMs: number): boolean | Promise<boolean>;
}

/** A seen store in memory: enough for one receiver process (use a shared store, e.g. Redis SET NX, for several). */
export class MemorySeenStore implements SeenStore {
  private ids = new Map<string, number>();

  /** Records an id; true when it was already there. */
  remember(id: string, untilMs: number): boolean {
    const now = Date.now();
    for (const [k, until] of this.ids) if (until < now) this.ids.delete(k);
    if (this.ids.has(id)) return true;
    this.ids.set(id, untilMs);
    return false;
  }
}

/** The platform's published webhook keys (`GET /v1/webhooks/keys`): any listed key may have signed. */
export interface WebhookKeySet {
  keys: { kid: string; publicKey: string }[];
}

/** A verified delivery: the event as Carapace signed it. */
export interface VerifiedWebhook {
  id: string;
  type: string;
  timestamp: string;
  tenant: string;
  data: Record<string, unknown>;
  /** Which scheme verified it: `v1` (the endpoint secret) or `v1a` (the platform's Ed25519 key). */
  scheme: 'v1' | 'v1a';
}

/** What `verifyWebhook` needs: the raw request, and a secret (v1) or the key set (v1a). */
export interface VerifyWebhookOptions {
  headers: Record<string, string | string[] | undefined>;
  /** The raw body, exactly as received (never a re-serialized object). */
  body: string | Buffer;
  /** The endpoint's `whsec_` secret (or several, while you rotate). */
  secret?: string | string[];
  keySet?: WebhookKeySet;
  /** Your tenant id: an event signed for another tenant is refused even with a valid signature. */
  tenant: string;
  /** Seconds a delivery may be old or early (default 300, as the specification recommends). */
  toleranceSeconds?: number;
  seen: SeenStore;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

const header = (h: VerifyWebhookOptions['headers'], name: string): string | null => {
  const v = h[name] ?? h[name.toLowerCase()];
  return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : null;
};

const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Which scheme a signature header verifies under, or null. */
function schemeOf(sigHeader: string, content: string, opts: VerifyWebhookOptions): 'v1' | 'v1a' | null {
  const secrets = opts.secret === undefined ? [] : Array.isArray(opts.secret) ? opts.secret : [opts.secret];
  const keys = (opts.keySet?.keys ?? []).map((k) => publicKeyOf(k.publicKey));
  for (const { scheme, value } of parseSignatures(sigHeader)) {
    if (scheme === 'v1' && secrets.some((s) => sameText(hmacSignature(s, content), `v1,${value}`))) return 'v1';
    if (scheme === 'v1a' && keys.some((k) => verifyEd25519(k, content, value))) return 'v1a';
  }
  return null;
}

function parsePayload(body: string): Omit<VerifiedWebhook, 'scheme'> {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new WebhookVerificationError('malformed', 'the body is not JSON');
  }
  const { id, type, timestamp, tenant, data } = p;
  if (typeof id !== 'string' || typeof type !== 'string' || typeof timestamp !== 'string' || typeof tenant !== 'string')
    throw new WebhookVerificationError('malformed', 'the payload lacks id, type, timestamp or tenant');
  return { id, type, timestamp, tenant, data: (data ?? {}) as Record<string, unknown> };
}

/**
 * Verifies one delivery as the Standard Webhooks specification says, and more: the timestamp within the tolerance
 * either way, a valid signature, the signed payload naming the same id and YOUR tenant (so an event signed for
 * another tenant cannot be replayed to you), and an id not seen before. The id is remembered only once all else
 * passed, so forged requests cannot fill the store. Throws `WebhookVerificationError`.
 */
export async function verifyWebhook(opts: VerifyWebhookOptions): Promise<VerifiedWebhook> {
  const id = header(opts.headers, WEBHOOK_HEADERS.id);
  const ts = header(opts.headers, WEBHOOK_HEADERS.timestamp);
  const sig = header(opts.headers, WEBHOOK_HEADERS.signature);
  if (!id || !ts || !sig) throw new WebhookVerificationError('missing_headers', 'a webhook-* header is missing');
  if (!/^[0-9]{1,12}$/.test(ts)) throw new WebhookVerificationError('malformed', 'webhook-timestamp is not a number');
  const toleranceMs = (opts.toleranceSeconds ?? 300) * 1000;
  const now = (opts.now ?? Date.now)();
  const at = Number(ts) * 1000;
  if (at < now - toleranceMs) throw new WebhookVerificationError('too_old', 'the delivery is older than the tolerance');
  if (at > now + toleranceMs)
    throw new WebhookVerificationError('too_new', 'the delivery is timestamped in the future');
  const body = typeof opts.body === 'string' ? opts.body : opts.body.toString('utf8');
  const scheme = schemeOf(sig, signedContent(id, Number(ts), body), opts);
  if (!scheme) throw new WebhookVerificationError('bad_signature', 'no signature matches');
  const payload = parsePayload(body);
  if (payload.id !== id) throw new WebhookVerificationError('malformed', 'the signed id differs from webhook-id');
  if (payload.tenant !== opts.tenant)
    throw new WebhookVerificationError('wrong_tenant', 'the event was signed for another tenant');
  if (await opts.seen.remember(id, at + toleranceMs))
    throw new WebhookVerificationError('duplicate', 'this webhook-id was already accepted');
  return { ...payload, scheme };
}
