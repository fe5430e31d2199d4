/**
 * Every scope, fine-grained: there is no generic "vehicle control". Each resource server (audience) accepts
 * only its own scopes; an application may only request the scopes registered for it.
 */
export const USER_SCOPES = [
  'vehicle:read_status',
  'vehicle:location',
  'vehicle:climate',
  'vehicle:charging',
  'vehicle:lock',
  'vehicle:unlock',
  'vehicle:remote_start',
  'vehicle:diagnostics',
  'vehicle:manage_drivers',
  'vehicle:consent',
  'vehicle:claim',
  'vehicle:transfer',
  'fleet:read',
  'fleet:command',
  'fleet:admin',
  'support:read',
  'security:admin',
] as const;

/** Scopes of device tokens. */
export const DEVICE_SCOPES = ['telemetry:write', 'commands:receive'] as const;

/** OpenID scopes handled by the authorization server itself. */
export const OPENID_SCOPES = ['openid', 'offline_access', 'email', 'profile'] as const;

/** The resource servers (RFC 8707 resource indicators), their scopes and their token lifetimes (seconds). */
export const RESOURCES = {
  'urn:carapace:api': { scopes: USER_SCOPES as readonly string[], ttl: 600, devices: false },
  'urn:carapace:telemetry': { scopes: ['telemetry:write'] as readonly string[], ttl: 300, devices: true },
  'urn:carapace:commands': { scopes: ['commands:receive'] as readonly string[], ttl: 60, devices: true },
} as const;

/** One resource indicator. */
export type ResourceIndicator = keyof typeof RESOURCES;

/** The audience of the public API. */
export const API_AUDIENCE: ResourceIndicator = 'urn:carapace:api';
