/**
 * The outbound module's public surface: the one HTTP layer every outbound call of the platform goes through
 * (SSRF rules, pinned addresses, no redirects, caps, breakers). Other folders import only from here.
 */
export {
  createOutbound,
  type Outbound,
  type OutboundCaller,
  type OutboundDeps,
  type OutboundInjection,
  type OutboundRequest,
} from './outbound.js';
export type { OutboundPurpose } from './destination.js';
export type { OutboundResponse } from './transport.js';
export type { BreakerState } from './breakers.js';
export { type DnsLookup, type ResolvedAddress, resolverLookup, systemLookup } from './resolve.js';
export { OUTBOUND_AUDIT_EVENTS, type OutboundAuditEvent, type OutboundAuditLog } from './audit-events.js';
