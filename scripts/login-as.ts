/**
 * Signs in as a demo persona with the Carapace client library, calls /v1/me, then replays the captured
 * access token with another DPoP key and shows the refusal. Usage, with `npm start` running:
 *
 *   node --import tsx scripts/login-as.ts alice@example.com
 *
 * Environment: CARAPACE_URL (default https://localhost:8443), CARAPACE_CA (default ./data/pki/ca.pem),
 * CARAPACE_SCENARIO (default scenarios/demo.yaml, for the persona's password and TOTP secret).
 */
import { readFileSync } from 'node:fs';
import { CarapaceClient, DpopKey, request } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/scenario/index.js';

const email = process.argv[2];
if (!email) {
  process.stderr.write('usage: node --import tsx scripts/login-as.ts <persona email>\n');
  process.exit(2);
}
const baseUrl = process.env.CARAPACE_URL ?? 'https://localhost:8443';
const ca = readFileSync(process.env.CARAPACE_CA ?? 'data/pki/ca.pem', 'utf8');
const persona = readScenario(process.env.CARAPACE_SCENARIO ?? 'scenarios/demo.yaml').users.find(
  (u) => u.email === email,
);
if (!persona) {
  process.stderr.write(`no persona with email ${email} in the scenario\n`);
  process.exit(2);
}

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
  ...(persona.totp ? { totp: () => currentTotp(persona.totp as string, new Date()) } : {}),
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
