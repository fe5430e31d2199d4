/**
 * Webhooks: signed events (Standard Webhooks, `v1` HMAC and `v1a` Ed25519) for a tenant's people and its partners.
 * The events come from the sealed audit trail (each written in the transaction of its change); the fan-out turns
 * them into durable deliveries, and the worker sends them through the SSRF-safe outbound layer within its own
 * budget, deciding again before every attempt whether the owner may still receive each one.
 */

export { webhookMigrations } from './migrations.js';
export type { WebhookTables } from './tables.js';
export { WEBHOOKS_AUDIT_EVENTS, type WebhookAuditEvent, type WebhookAuditLog } from './audit-events.js';
export { EVENT_TYPE_NAMES, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './event-types.js';
export type { OutboundPort, WebhookDeps } from './ports.js';
export type { WorkerStatus } from './delivery.js';
export type { PublishedKey } from './key-set.js';
export { createWebhooks, type Webhooks } from './webhooks.js';
export { registerWebhookRoutes } from './routes.js';
export { registerWebhookAdminRoutes } from './admin-routes.js';
