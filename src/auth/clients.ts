import type { Kysely } from 'kysely';
import type { AdapterPayload, JWKS } from 'oidc-provider';
import type { Database } from '../storage/index.js';
import { findApplication, findWorkload } from '../identity/index.js';
import { findDevice, IdentityUri } from '../pki/index.js';
import { DEVICE_SCOPES } from '../tokens/index.js';
import type { TokenDenylist } from './token-denylist.js';
import { TOKEN_EXCHANGE } from './token-exchange.js';

/** Client ids of vehicles are `device:<device id>`; the device proves itself with its operational certificate. */
export const DEVICE_CLIENT_PREFIX = 'device:';

const ES = { id_token_signed_response_alg: 'ES256', require_auth_time: true } as const;

/**
 * oidc-provider client metadata, synthesised from the directory: applications, workloads and devices are
 * registered in their own tables, so there is one source of truth and no second client registry to drift.
 */
export function createClientLookup(
  db: Kysely<Database>,
  suspensions: Pick<TokenDenylist, 'isSuspended'>,
  exchangeClients: ReadonlySet<string> = new Set(),
): (clientId: string) => Promise<AdapterPayload | undefined> {
  return async (clientId) => {
    // A suspended client is unknown to the authorization server: it gets no token, by any grant.
    if (await suspensions.isSuspended(clientId)) return undefined;
    if (clientId.startsWith(DEVICE_CLIENT_PREFIX)) {
      const deviceId = clientId.slice(DEVICE_CLIENT_PREFIX.length);
      const device = await findDevice(db, deviceId);
      if (!device || device.status !== 'active') return undefined;
      return {
        client_id: clientId,
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_san_uri: IdentityUri.device(device.id),
        // RFC 8705: every device token carries cnf.x5t#S256 of the certificate it was requested with.
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: DEVICE_SCOPES.join(' '),
        ...ES,
      };
    }
    const app = await findApplication(db, clientId);
    if (app) {
      const scope = (JSON.parse(app.scopes) as string[]).join(' ');
      if (app.kind === 'partner') {
        return {
          // Partner tokens are bound to a DPoP key too: a leaked partner token is useless on its own.
          client_id: clientId,
          client_name: app.name,
          token_endpoint_auth_method: 'private_key_jwt',
          dpop_bound_access_tokens: true,
          jwks: JSON.parse(app.jwks ?? '{"keys":[]}') as JWKS,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          scope,
          ...ES,
        };
      }
      // Public clients (mobile apps, SPAs): PKCE is always required, and so is DPoP for their tokens. Custom
      // schemes and loopback redirects make an app native (RFC 8252); https-only makes it a web app.
      const redirectUris = JSON.parse(app.redirect_uris) as string[];
      return {
        application_type: redirectUris.every((u) => u.startsWith('https://')) ? 'web' : 'native',
        client_id: clientId,
        client_name: app.name,
        token_endpoint_auth_method: 'none',
        dpop_bound_access_tokens: true,
        // Token exchange (RFC 8693) only for the apps an external issuer's settings name (federation.issuers).
        grant_types: [
          'authorization_code',
          'refresh_token',
          ...(exchangeClients.has(clientId) ? [TOKEN_EXCHANGE] : []),
        ],
        response_types: ['code'],
        redirect_uris: redirectUris,
        scope,
        ...ES,
      };
    }
    const workload = await findWorkload(db, clientId);
    if (workload) {
      return {
        client_id: clientId,
        client_name: workload.name,
        token_endpoint_auth_method: 'private_key_jwt',
        dpop_bound_access_tokens: true,
        jwks: JSON.parse(workload.jwks) as JWKS,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: (JSON.parse(workload.scopes) as string[]).join(' '),
        ...ES,
      };
    }
    return undefined;
  };
}
