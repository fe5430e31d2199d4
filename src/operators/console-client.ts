import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type Directory, findApplication, operatorTenantId } from '../identity/index.js';
import type { Database } from '../storage/index.js';
import { SIGN_IN_CALLBACK, type SignInTarget } from './sign-in.js';

/**
 * Where a console sign-in goes. The client id names its redirect URI's hash, so moving the admin plane registers
 * a new client instead of redirecting to a stale address.
 */
export function consoleSignInTarget(issuer: string, consoleUrl: string): SignInTarget {
  const redirectUri = `${consoleUrl.replace(/\/$/, '')}${SIGN_IN_CALLBACK}`;
  const clientId = `carapace-console-${createHash('sha256').update(redirectUri).digest('hex').slice(0, 12)}`;
  return { issuer, clientId, redirectUri };
}

/**
 * Registers the console as a public OAuth client of the embedded authorization server (PKCE, one exact redirect
 * URI on the admin plane), in the platform operator's tenant, unless it is already.
 */
export async function ensureConsoleClient(deps: {
  db: Kysely<Database>;
  directory: Pick<Directory, 'registerApplication' | 'createTenant'>;
  target: SignInTarget;
}): Promise<void> {
  if (await findApplication(deps.db, deps.target.clientId)) return;
  // The directory's system actor is the set-up one (seeding); the console client is part of set-up too.
  const actor = { type: 'system' as const, id: 'seed' as const };
  const tenantId =
    (await operatorTenantId(deps.db)) ??
    (await deps.directory.createTenant(actor, { name: 'Platform operator', kind: 'oem' })).id;
  await deps.directory.registerApplication(actor, {
    clientId: deps.target.clientId,
    tenantId,
    name: 'Carapace console',
    kind: 'public',
    redirectUris: [deps.target.redirectUri],
    scopes: ['openid'],
  });
}
