import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceSession } from '../src/client/index.js';
import type { RunningCarapace } from '../src/server/index.js';
import { startPeer, startTestCarapace, type TestCarapace } from '../src/testing/index.js';
import { type GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';
import { admin, finding, report, type RunJson } from './incidents-support.js';

const REDIS_URL = process.env.REDIS_URL ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds or `ms` pass; returns how long it took, or null. A check that throws is "not yet". */
async function within(ms: number, check: () => Promise<boolean>): Promise<number | null> {
  const start = performance.now();
  for (;;) {
    if (await check().catch(() => false)) return Math.round(performance.now() - start);
    if (performance.now() - start > ms) return null;
    await sleep(10);
  }
}

// Two nodes of one deployment: PostgreSQL (shared state) and Redis (the fan-out). Reloads a minute apart, so a
// containment seen on node B within the second came through the revocation fast path, not a poll.
describe.runIf(Boolean(REDIS_URL && process.env.DATABASE_URL)).each(['postgres' as const])(
  'a containment decided on node A holds on node B within a second (%s + Redis)',
  (database) => {
    let a: TestCarapace;
    let b: RunningCarapace;

    beforeAll(async () => {
      a = await startTestCarapace({
        database,
        overrides: {
          seedDemo: true,
          redis: { url: REDIS_URL, keyPrefix: `carapace-inc-${randomUUID().slice(0, 8)}:` },
          pki: { revocationPollInterval: 60 },
          commands: { dispatchInterval: 60 },
        },
      });
      b = await startPeer(a);
    }, 120_000);
    afterAll(async () => {
      await b?.close();
      await a?.stop();
    });

    const onB = (device: GatewayClient) => {
      const { key, issued } = device.credentials!;
      return httpsRequest(`${b.addresses.gateway}/v1/devices/${issued.deviceId}`, {
        ca: a.ca,
        cert: issued.certificate,
        key: key.privateKeyPem,
        agent: new https.Agent({ keepAlive: false }),
      });
    };

    it('device credential compromise on A: node B refuses the revoked certificate on a new connection', async () => {
      const device = await a.enrolledDevice('TCU-INC-CL-1');
      expect((await onB(device)).status).toBe(200);
      const { incidentId } = await report(
        a,
        finding({ severity: 'critical', assets: { devices: [device.credentials!.issued.deviceId] } }),
      );
      const res = await admin(
        a,
        'POST',
        `/admin/v1/incidents/${incidentId}/playbooks/device-credential-compromise/runs`,
      );
      expect(res.status).toBe(201);
      const revoke = (res.json as unknown as RunJson).steps.find((s) => s.stepId === 'revoke')!;
      expect(revoke.state).toBe('done');
      const took = await within(1000, async () => {
        const r = await onB(device);
        return (r.json as { code?: string }).code === 'ERR_CLIENT_CERT_REVOKED';
      });
      expect(took, 'node B still accepted the certificate a second after the step took effect on A').not.toBeNull();
    });

    it('partner compromise run on A: node B refuses the partner token, and no node issues a new one', async () => {
      const privateJwk = JSON.parse(
        readFileSync(join(a.config.dataDir, 'demo', 'chargenet-charging.private.jwk.json'), 'utf8'),
      ) as JWK;
      const session = (baseUrl: string) =>
        ServiceSession.create({
          baseUrl,
          ca: a.ca,
          clientId: 'chargenet-charging',
          privateJwk,
          scope: 'vehicle:read_status',
        });
      const partner = await session(a.config.publicBaseUrl);
      expect((await partner.api('GET', '/v1/vehicles')).status).toBe(200);
      expect(b.platform.auth.denylist.refuses(tokenOf(partner))).toBeNull();
      const { incidentId } = await report(
        a,
        finding({ severity: 'critical', assets: { clients: ['chargenet-charging'] } }),
      );
      const res = await admin(a, 'POST', `/admin/v1/incidents/${incidentId}/playbooks/partner-compromise/runs`);
      expect((res.json as unknown as RunJson).state).toBe('done');
      // The denylist entry reached node B through the fan-out: B's verifier refuses the partner's token.
      const took = await within(1000, async () => b.platform.auth.denylist.refuses(tokenOf(partner)) !== null);
      expect(took, 'node B still accepted the token a second after the suspension on A').not.toBeNull();
      await expect(session(a.config.publicBaseUrl)).rejects.toThrow();
    });
  },
);

/** The claims of a session's access token that the denylist (every node's fast path) judges. */
function tokenOf(s: ServiceSession) {
  const token = s.accessToken;
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
    jti: string;
    client_id: string;
    iat: number;
    gid?: string;
  };
  return { jti: claims.jti, clientId: claims.client_id, grant: claims.gid ?? null, issuedAt: claims.iat };
}
