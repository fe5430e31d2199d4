/**
 * Signs in as a demo persona with the Carapace client library, calls /v1/me, then replays the captured
 * access token with another DPoP key and shows the refusal. Usage, with `npm start` running:
 *
 *   node --import tsx scripts/login-as.ts alice@example.com
 *
 * The server is found from the same configuration it runs with (`CARAPACE_PUBLIC_PORT`, `CARAPACE_DATA_DIR`, a
 * `--config` file…); `--scenario <file>` (default scenarios/demo.yaml) holds the persona's password and TOTP secret.
 */
import { CarapaceClient, DpopKey, request, totpAuthenticator } from 'carapace/client';
import { demoTarget, personaFor } from './demo-target.js';

const target = demoTarget();
const email = target.args[0];
if (!email) {
  process.stderr.write('usage: node --import tsx scripts/login-as.ts <persona email> [--scenario …] [--config …]\n');
  process.exit(2);
}
const baseUrl = target.endpoints.public;
const { ca } = target;
const persona = personaFor(target, email);

const client = await CarapaceClient.create({
  baseUrl,
  ca,
  clientId: 'carapace-owner-app',
  redirectUri: 'http://127.0.0.1/callback',
});
await client.login({
  email,
  password: persona.password,
  scopes: ['openid', 'offline_access', 'vehicle:read_status'],
  // A code works once: signed in within the last 30 s, the authenticator waits for the next one.
  ...(persona.totp ? { totp: totpAuthenticator(persona.totp) } : {}),
});
const me = await client.api('GET', '/v1/me');
process.stdout.write(`signed in: GET /v1/me -> ${me.status}\n${JSON.stringify(me.json, null, 2)}\n`);

// An attacker who captured the access token replays it with their own DPoP key: refused.
const attacker = await DpopKey.generate();
const token = client.tokens?.accessToken ?? '';
const replay = await request(`${baseUrl}/v1/me`, {
  ca,
  headers: { authorization: `DPoP ${token}`, dpop: await attacker.proof('GET', `${baseUrl}/v1/me`, token) },
});
process.stdout.write(
  `replayed with another key: GET /v1/me -> ${replay.status} ${String(replay.headers['www-authenticate'])}\n${replay.text}\n`,
);
process.exit(me.status === 200 && replay.status === 401 ? 0 : 1);
