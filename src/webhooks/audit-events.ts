import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the webhooks module writes, its part of the audit log's typed union. None of them is
 * itself turned into a delivery except `webhooks.endpoint.disabled` (to the other endpoints of the same owner).
 */
export const WEBHOOKS_AUDIT_EVENTS = [
  'webhooks.subscription.created',
  'webhooks.subscription.updated',
  'webhooks.subscription.deleted',
  'webhooks.subscription.secret_rotated',
  'webhooks.endpoint.disabled',
  'webhooks.delivery.dead_lettered',
  'webhooks.delivery.replayed',
  'webhooks.key.created',
  'webhooks.key.rotated',
] as const;
/** An audit event type written by the webhooks module. */
export type WebhookAuditEvent = (typeof WEBHOOKS_AUDIT_EVENTS)[number];
/** The audit log as the webhooks module holds it. */
export type WebhookAuditLog = AuditLog<WebhookAuditEvent>;
