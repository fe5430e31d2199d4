import { type TObject, Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { API_AUDIENCE } from '../tokens/index.js';
import type { CallerType, CatalogEntry } from '../http/index.js';
import type { Authentication } from '../http/index.js';
import type { Entity } from './decision-point.js';
import type { AuthorizeSpec } from './enforcement.js';
import type { EntityLoader, LoadedResource, Principal } from './entities.js';

/** Closed object schemas: unknown fields are a 400, in requests and (by serialization) in responses. */
export const closed = { additionalProperties: false } as const;
/** A closed, empty query string: every authorized route declares one, so stray parameters are refused. */
export const NoQuery: TObject = Type.Object({}, closed);
/** Path id schema; the loader runs before validation and treats a malformed id as a missing object. */
export const Id = Type.String({ format: 'uuid' });
/** A nullable string in responses. */
export const NullableString = Type.Union([Type.String(), Type.Null()]);

/** A path parameter as sent (before schema validation). */
export function param(req: FastifyRequest, name: string): string {
  const value = (req.params as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

/** The declaration of a token-authenticated, object-authorized public API route (spread into the route). */
export function apiRoute(args: {
  owner: string;
  purpose: string;
  action: string;
  scopes: readonly string[];
  anyScope?: boolean;
  callers?: readonly CallerType[];
  classification?: CatalogEntry['classification'];
  safetyImpact?: CatalogEntry['safetyImpact'];
  status?: CatalogEntry['status'];
  authorize: AuthorizeSpec;
}) {
  return {
    auth: {
      kind: 'token',
      token: { audience: API_AUDIENCE, scopes: args.scopes, ...(args.anyScope ? { anyScope: true } : {}) },
    } satisfies Authentication,
    catalog: {
      owner: args.owner,
      purpose: args.purpose,
      callers: args.callers ?? ['user'],
      action: args.action,
      classification: args.classification ?? 'confidential',
      scopes: args.scopes,
      safetyImpact: args.safetyImpact ?? 'none',
      status: args.status ?? 'beta',
    } satisfies CatalogEntry,
    authorize: args.authorize,
  };
}

/** Loaders for the objects routes act on, named by path parameter. */
export const load = {
  /** The caller's own account (self-service routes); a partner's is its own application. */
  self: async (_req: FastifyRequest, l: EntityLoader, p: Principal): Promise<LoadedResource> => {
    if (p.kind === 'user') return l.account(p.userId);
    const uid = { type: 'Account', id: `application:${p.clientId}` };
    const entity: Entity = {
      uid,
      attrs: { user: { __entity: { type: 'Carapace::User', id: '' } }, supportAgents: [] },
    };
    return { uid, entities: [entity], object: { clientId: p.clientId } };
  },
  vehicle:
    (name = 'vehicleId') =>
    (req: FastifyRequest, l: EntityLoader) =>
      l.vehicle(param(req, name)),
  tenant:
    (name = 'tenantId') =>
    (req: FastifyRequest, l: EntityLoader) =>
      l.tenant(param(req, name)),
  group:
    (name = 'groupId') =>
    (req: FastifyRequest, l: EntityLoader) =>
      l.group(param(req, name)),
  account:
    (name = 'accountId') =>
    (req: FastifyRequest, l: EntityLoader) =>
      l.account(param(req, name)),
  delegation:
    (name = 'delegationId') =>
    (req: FastifyRequest, l: EntityLoader) =>
      l.grant('delegation', param(req, name)),
  partnerGrant:
    (name = 'grantId') =>
    (req: FastifyRequest, l: EntityLoader) =>
      l.grant('partner_grant', param(req, name)),
  invite:
    (name = 'inviteId') =>
    (req: FastifyRequest, l: EntityLoader) =>
      l.invite(param(req, name)),
  serviceCase:
    (name = 'caseId') =>
    (req: FastifyRequest, l: EntityLoader) =>
      l.serviceCase(param(req, name)),
  supportCase:
    (name = 'caseId') =>
    (req: FastifyRequest, l: EntityLoader) =>
      l.supportCase(param(req, name)),
  platform: (_req: FastifyRequest, l: EntityLoader) => l.platform(),
};
