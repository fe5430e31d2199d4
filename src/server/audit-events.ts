import { ADMIN_AUDIT_EVENTS, type AdminAuditEvent } from '../admin/index.js';
import { AUDIT_AUDIT_EVENTS, type AuditAuditEvent } from '../audit/index.js';
import { AUTH_AUDIT_EVENTS, type AuthAuditEvent } from '../auth/index.js';
import { COMMANDS_AUDIT_EVENTS, type CommandAuditEvent } from '../commands/index.js';
import { CONSOLE_AUDIT_EVENTS, type ConsoleAuditEvent } from '../console/index.js';
import { DETECT_AUDIT_EVENTS, type DetectAuditEvent } from '../detect/index.js';
import { GATEWAY_AUDIT_EVENTS, type GatewayAuditEvent } from '../gateway/index.js';
import { IDENTITY_AUDIT_EVENTS, type IdentityAuditEvent } from '../identity/index.js';
import { INCIDENTS_AUDIT_EVENTS, type IncidentAuditEvent } from '../incidents/index.js';
import { OUTBOUND_AUDIT_EVENTS, type OutboundAuditEvent } from '../outbound/index.js';
import { WEBHOOKS_AUDIT_EVENTS, type WebhookAuditEvent } from '../webhooks/index.js';
import { INVENTORY_AUDIT_EVENTS, type InventoryAuditEvent } from '../inventory/index.js';
import { OPERATORS_AUDIT_EVENTS, type OperatorAuditEvent } from '../operators/index.js';
import { PKI_AUDIT_EVENTS, type PkiAuditEvent } from '../pki/index.js';
import { POLICY_AUDIT_EVENTS, type PolicyAuditEvent } from '../policy/index.js';
import { RELATIONSHIPS_AUDIT_EVENTS, type RelationshipAuditEvent } from '../relationships/index.js';
import { TELEMETRY_AUDIT_EVENTS, type TelemetryAuditEvent } from '../telemetry/index.js';

/**
 * Every audit event type the platform writes: the union of each module's own (its `audit-events.ts`). The
 * platform's audit log accepts exactly these; the audit module itself only takes the union as a parameter.
 */
export type PlatformAuditEvent =
  | AdminAuditEvent
  | AuditAuditEvent
  | AuthAuditEvent
  | CommandAuditEvent
  | ConsoleAuditEvent
  | DetectAuditEvent
  | GatewayAuditEvent
  | IdentityAuditEvent
  | IncidentAuditEvent
  | OutboundAuditEvent
  | InventoryAuditEvent
  | OperatorAuditEvent
  | PkiAuditEvent
  | PolicyAuditEvent
  | RelationshipAuditEvent
  | TelemetryAuditEvent
  | WebhookAuditEvent;

/** The same union as data, per owning module (for the investigation tools and the tests). */
export const PLATFORM_AUDIT_EVENTS = {
  admin: ADMIN_AUDIT_EVENTS,
  audit: AUDIT_AUDIT_EVENTS,
  auth: AUTH_AUDIT_EVENTS,
  commands: COMMANDS_AUDIT_EVENTS,
  console: CONSOLE_AUDIT_EVENTS,
  detect: DETECT_AUDIT_EVENTS,
  gateway: GATEWAY_AUDIT_EVENTS,
  identity: IDENTITY_AUDIT_EVENTS,
  incidents: INCIDENTS_AUDIT_EVENTS,
  outbound: OUTBOUND_AUDIT_EVENTS,
  inventory: INVENTORY_AUDIT_EVENTS,
  operators: OPERATORS_AUDIT_EVENTS,
  pki: PKI_AUDIT_EVENTS,
  policy: POLICY_AUDIT_EVENTS,
  relationships: RELATIONSHIPS_AUDIT_EVENTS,
  telemetry: TELEMETRY_AUDIT_EVENTS,
  webhooks: WEBHOOKS_AUDIT_EVENTS,
} as const satisfies Record<string, readonly PlatformAuditEvent[]>;
