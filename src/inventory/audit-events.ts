import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the inventory module writes: one `http.version.deprecated_used` per client application,
 * route and flush of the usage counts (what the `deprecated-api-version` detection rule reads).
 */
export const INVENTORY_AUDIT_EVENTS = ['http.version.deprecated_used'] as const;
/** An audit event type written by the inventory module. */
export type InventoryAuditEvent = (typeof INVENTORY_AUDIT_EVENTS)[number];
/** The audit log as the inventory module holds it. */
export type InventoryAuditLog = AuditLog<InventoryAuditEvent>;
