/**
 * Sends a remote command as a demo persona and follows the job until the vehicle confirms it (or it ends
 * otherwise). With `npm start` and `npx carapace simulate` running:
 *
 *   node --import tsx scripts/command.ts alice@example.com unlock
 *   node --import tsx scripts/command.ts dana@example.com unlock      # no second factor: the step-up challenge
 *
 * Options: a third argument with JSON params (e.g. '{"on":true,"temperatureC":21}' for climate), and
 * `--vin <vin>` to pick the vehicle (default: the first one the persona can see). Where the server is, and the
 * other flags, as in login-as.ts.
 */
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { CarapaceClient, totpAuthenticator } from 'carapace/client';
import { demoTarget, personaFor } from './demo-target.js';

const target = demoTarget(['vin']);
const [email, command, paramsJson] = target.args;
if (!email || !command) {
  process.stderr.write(
    'usage: node --import tsx scripts/command.ts <persona email> <command> [params JSON] [--vin …] [--scenario …]\n',
  );
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
  scopes: [
    'openid',
    'vehicle:read_status',
    'vehicle:lock',
    'vehicle:unlock',
    'vehicle:climate',
    'vehicle:charging',
    'vehicle:remote_start',
  ],
  // A code works once: signed in within the last 30 s, the authenticator waits for the next one.
  ...(persona.totp ? { totp: totpAuthenticator(persona.totp) } : {}),
});
const vehicles = (await client.api('GET', '/v1/vehicles')).json as {
  vehicles: Array<{ id: string; vin: string | null }>;
};
const vehicle = vehicles.vehicles.find((v) => !target.flags.vin || v.vin === target.flags.vin);
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
