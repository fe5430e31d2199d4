/**
 * Sends a remote command as a demo persona and follows the job until the vehicle confirms it (or it ends
 * otherwise). With `npm start` and `npx carapace simulate` running:
 *
 *   node --import tsx scripts/command.ts alice@example.com unlock
 *   node --import tsx scripts/command.ts dana@example.com unlock      # no second factor: the step-up challenge
 *
 * Options: a third argument with JSON params (e.g. '{"on":true,"temperatureC":21}' for climate), and
 * CARAPACE_VIN to pick the vehicle (default: the first one the persona can see). Environment as in login-as.ts.
 */
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/scenario/index.js';

const [email, command, paramsJson] = process.argv.slice(2);
if (!email || !command) {
  process.stderr.write('usage: node --import tsx scripts/command.ts <persona email> <command> [params JSON]\n');
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
  scopes: [
    'openid',
    'vehicle:read_status',
    'vehicle:lock',
    'vehicle:unlock',
    'vehicle:climate',
    'vehicle:charging',
    'vehicle:remote_start',
  ],
  ...(persona.totp ? { totp: () => currentTotp(persona.totp as string, new Date()) } : {}),
});
const vehicles = (await client.api('GET', '/v1/vehicles')).json as {
  vehicles: Array<{ id: string; vin: string | null }>;
};
const vehicle = vehicles.vehicles.find((v) => !process.env.CARAPACE_VIN || v.vin === process.env.CARAPACE_VIN);
if (!vehicle) {
  process.stderr.write('no vehicle visible to this persona\n');
  process.exit(1);
}
const key = randomUUID();
const res = await client.api(
  'POST',
  `/v1/vehicles/${vehicle.id}/commands`,
  { command, params: paramsJson ? (JSON.parse(paramsJson) as unknown) : {} },
  { 'idempotency-key': key },
);
process.stdout.write(
  `POST /v1/vehicles/${vehicle.id}/commands (${command}, Idempotency-Key ${key}) -> ${res.status}\n`,
);
if (res.headers['www-authenticate'])
  process.stdout.write(`WWW-Authenticate: ${String(res.headers['www-authenticate'])}\n`);
process.stdout.write(`${JSON.stringify(res.json, null, 2)}\n`);
if (res.status !== 202) process.exit(1);

// Follow the job as server-sent events, with the same DPoP-bound token.
const job = res.json as { id: string };
const url = `${baseUrl}/v1/vehicles/${vehicle.id}/commands/${job.id}/events`;
const token = client.tokens?.accessToken ?? '';
const final = await new Promise<string>((resolve, reject) => {
  void client.dpop.proof('GET', url, token).then((proof) => {
    https
      .get(
        url,
        { ca, headers: { authorization: `DPoP ${token}`, dpop: proof, accept: 'text/event-stream' } },
        (stream) => {
          let buffer = '';
          let last = '';
          stream.on('data', (chunk: Buffer) => {
            buffer += chunk.toString('utf8');
            for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
              const data = buffer
                .slice(0, i)
                .split('\n')
                .find((l) => l.startsWith('data: '))
                ?.slice(6);
              buffer = buffer.slice(i + 2);
              if (!data) continue;
              const j = JSON.parse(data) as { state: string; reason: string; retry: string | null };
              last = j.state;
              process.stdout.write(`job ${job.id}: ${j.state} (${j.reason}${j.retry ? `, retry ${j.retry}` : ''})\n`);
            }
          });
          stream.on('end', () => resolve(last));
        },
      )
      .on('error', reject);
  }, reject);
});
process.stdout.write(
  `\nThe whole chain is in the audit store:\n  npx carapace audit list --object ${job.id}\n  npx carapace commands list --vehicle ${vehicle.id}\n`,
);
process.exit(final === 'confirmed' ? 0 : 1);
