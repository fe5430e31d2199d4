/** One endpoint a tenant admin or a partner registered, with the event types it wants. */
export interface WebhookSubscriptionRow {
  id: string;
  tenant_id: string;
  /** Who owns it, and whose rights every delivery is decided with again: a person or a partner's client. */
  owner_kind: 'user' | 'application';
  owner_id: string;
  url: string;
  description: string;
  /** JSON array of event types. */
  event_types: string;
  status: 'active' | 'disabled';
  disabled_reason: string | null;
  /** The endpoint's `whsec_` secret, sealed with the platform's secret box (context: the subscription id). */
  secret_sealed: string;
  /** The secret it replaced, still signed with until `previous_until` (rotation overlap). */
  previous_secret_sealed: string | null;
  previous_until: string | null;
  /** Failed attempts since the last success: the endpoint is disabled when it reaches `webhooks.disableAfter`. */
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
}

/** One event queued for one subscription. Its id is the `webhook-id` header: the same on every retry. */
export interface WebhookDeliveryRow {
  id: string;
  subscription_id: string;
  tenant_id: string;
  /** The audit event the delivery was made from, and its leaf: the order deliveries are attempted in. */
  event_id: string;
  leaf_index: number;
  event_type: string;
  /** The vehicle the event is about (re-authorized before each attempt), or null. */
  vehicle_id: string | null;
  /** Deliveries with the same key (a command job) are sent one at a time, in leaf order. */
  order_key: string | null;
  /** The signed body, exactly as sent (JSON). */
  payload: string;
  state: 'pending' | 'delivered' | 'dead' | 'withheld';
  attempts: number;
  next_attempt_at: string;
  /** The node holding the delivery while it is being attempted, and until when (a crashed node's lease runs out). */
  lease_owner: string | null;
  lease_until: string | null;
  last_status: number | null;
  last_error: string | null;
  /** Why a queued delivery was not sent (consent ended, vehicle transferred, partner suspended, endpoint deleted). */
  withheld_reason: string | null;
  created_at: string;
  finished_at: string | null;
}

/** The fan-out cursor: the last audit leaf turned into deliveries. */
export interface WebhookCursorRow {
  name: string;
  leaf_index: number;
  updated_at: string;
  node: string;
}

/** The platform's Ed25519 webhook signing keys (`v1a`); the public halves are published, the private sealed. */
export interface WebhookSigningKeyRow {
  kid: string;
  /** Raw 32-byte public key, base64. */
  public_key: string;
  private_sealed: string;
  created_at: string;
  /** When it stopped signing; still published until `retired_at` + `webhooks.keyOverlap`. */
  retired_at: string | null;
}

/** Tables owned by the webhooks module. */
export interface WebhookTables {
  webhook_subscriptions: WebhookSubscriptionRow;
  webhook_deliveries: WebhookDeliveryRow;
  webhook_cursor: WebhookCursorRow;
  webhook_signing_keys: WebhookSigningKeyRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends WebhookTables {}
}
