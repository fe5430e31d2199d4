import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import {
  CarapaceClient,
  type ClientResponse,
  keepAliveAgent,
  ServiceSession,
  totpAuthenticator,
} from '../client/index.js';

type Agent = ReturnType<typeof keepAliveAgent>;
import type { Scenario } from '../server/index.js';
import type { World } from './world.js';

/** Something that calls the API as one persona. */
export interface Caller {
  /** One API call; `headers` are sent by people's sessions (a partner session sends none). */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ClientResponse>;
}

/** Where the deployment is and how to reach it as the scenario's personas. */
export interface Target {
  baseUrl: string;
  ca: string;
  /** Directory holding the demo partners' private JWKs (`<clientId>.private.jwk.json`). */
  partnerKeysDir: string;
}

/** Signs every persona in through the client library: people through their app, partners with client credentials. */
export async function signInAll(
  world: World,
  scenario: Scenario,
  target: Target,
  agents: Agent[] = [],
): Promise<Map<string, Caller>> {
  const callers = new Map<string, Caller>();
  for (const p of world.personas.values()) {
    // One keep-alive connection pool per persona: a TLS handshake per cell cost more than the cell's decision.
    const agent = keepAliveAgent();
    agents.push(agent);
    if (p.kind === 'partner') {
      const privateJwk = JSON.parse(
        readFileSync(join(target.partnerKeysDir, `${p.clientId}.private.jwk.json`), 'utf8'),
      ) as JWK;
      callers.set(
        p.key,
        await ServiceSession.create({
          baseUrl: target.baseUrl,
          ca: target.ca,
          clientId: p.clientId,
          privateJwk,
          scope: p.scopes.join(' '),
          agent,
        }),
      );
      continue;
    }
    const user = scenario.users.find((u) => u.key === p.key);
    if (!user?.password) throw new Error(`persona ${p.key} has no password in the scenario`);
    const client = await CarapaceClient.create({
      baseUrl: target.baseUrl,
      ca: target.ca,
      clientId: p.clientId,
      redirectUri: 'http://127.0.0.1/callback',
      agent,
    });
    const totp = user.totp;
    await client.login({
      email: user.email,
      password: user.password,
      scopes: ['openid', ...p.scopes],
      // A script may have just signed this persona in: the authenticator then waits for the next code.
      ...(totp ? { totp: totpAuthenticator(totp) } : {}),
    });
    callers.set(p.key, client);
  }
  return callers;
}
