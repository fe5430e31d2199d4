import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/platform/index.js';
import { reverifyDeviceTelemetry } from '../src/telemetry/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { signerFor } from './telemetry-support.js';

const operator = { type: 'operator' as const, id: 'admin' };

// The small operations the playbooks needed, added to their owning modules and tested there, through the platform.
describe.each(testEngines())('response operations of the owning modules (%s)', (database) => {
  let cp: TestCarapace;

  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('telemetry re-verification counts verified messages, and a stored message whose signature fails', async () => {
    const device = await cp.enrolledDevice('TCU-PORT-RV');
    const { issued } = device.credentials!;
    const signer = signerFor(device);
    await device.sendTelemetry([
      await signer.sign({ kind: 'speed', kmh: 1 }),
      await signer.sign({ kind: 'speed', kmh: 2 }),
    ]);
    const since = new Date(Date.now() - 3600e3);
    const until = new Date(Date.now() + 60e3);
    expect(
      await reverifyDeviceTelemetry(cp.platform.storage.db, { deviceId: issued.deviceId, since, until }),
    ).toMatchObject({ messages: 2, verified: 2, failed: 0, acceptedButFailed: 0, unknownCertificate: 0 });
    // A row written behind the gateway's back (the raw store is append-only, not unforgeable): its signature fails.
    const good = await cp.platform.storage.db
      .selectFrom('telemetry_messages')
      .selectAll()
      .where('device_id', '=', issued.deviceId)
      .executeTakeFirstOrThrow();
    await cp.platform.storage.db
      .insertInto('telemetry_messages')
      .values({ ...good, id: newId(), seq: 999, signed_bytes: Buffer.from(`${Buffer.from(good.signed_bytes)} `) })
      .execute();
    expect(
      await reverifyDeviceTelemetry(cp.platform.storage.db, { deviceId: issued.deviceId, since, until }),
    ).toMatchObject({ messages: 3, verified: 2, failed: 1, acceptedButFailed: 1 });
    const before = await reverifyDeviceTelemetry(cp.platform.storage.db, {
      deviceId: issued.deviceId,
      since: new Date(Date.now() - 7200e3),
      until: new Date(Date.now() - 3600e3),
    });
    expect(before.messages).toBe(0);
  });

  it("an operator's quarantine is idempotent and never brings a revoked device back", async () => {
    const device = await cp.enrolledDevice('TCU-PORT-Q');
    const { deviceId } = device.credentials!.issued;
    const q = cp.platform.telemetry.quarantine;
    const first = await q.impose({ deviceId, actor: operator, reason: 'incident', context: null });
    expect(first).toMatchObject({ status: 'quarantined', changed: true });
    expect(await q.impose({ deviceId, actor: operator, reason: 'again', context: null })).toMatchObject({
      changed: false,
    });
    expect(await q.list({ deviceId })).toHaveLength(1);
    await cp.platform.pki.revokeDevice({ deviceId, reason: 'keyCompromise', actor: operator, context: null });
    const after = await q.impose({ deviceId, actor: operator, reason: 'late', context: null });
    expect(after.status).toBe('revoked');
    await expect(
      q.impose({ deviceId: crypto.randomUUID(), actor: operator, reason: 'x', context: null }),
    ).rejects.toMatchObject({ code: 'ERR_PKI_DEVICE_NOT_FOUND' });
  });

  it("ending a user's sessions raises the credential epoch and audits; an unknown user is 404", async () => {
    const user = (await cp.platform.storage.db
      .selectFrom('users')
      .select(['id', 'credential_epoch'])
      .where('email', '=', 'bob@example.com')
      .executeTakeFirstOrThrow())!;
    await cp.platform.directory.endSessions(operator, user.id, 'takeover');
    const after = await cp.platform.storage.db
      .selectFrom('users')
      .select(['credential_epoch', 'totp_sealed'])
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(after.credential_epoch).toBe(user.credential_epoch + 1);
    expect(after.totp_sealed).not.toBeNull();
    const [e] = await cp.platform.audit.list({ type: 'identity.user.sessions_ended', objectId: user.id });
    expect(e).toMatchObject({ actor: operator, reason: 'takeover' });
    await expect(cp.platform.directory.endSessions(operator, crypto.randomUUID(), 'x')).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
  });

  it('a suspended client is refused for tokens issued before and after, and the client lookup forgets it', async () => {
    const { denylist } = cp.platform.auth;
    const token = (issuedAt: number) => ({ jti: newId(), clientId: 'chargenet-charging', grant: null, issuedAt });
    const now = Math.floor(Date.now() / 1000);
    expect(denylist.refuses(token(now))).toBeNull();
    expect(await denylist.isSuspended('chargenet-charging')).toBe(false);
    await cp.platform.auth.suspendClient({ clientId: 'chargenet-charging', actor: operator, reason: 'compromised' });
    expect(denylist.refuses(token(now - 60))).toBe('client_suspended');
    // Unlike a token revocation (a cut-off), a suspension also refuses tokens minted later.
    expect(denylist.refuses(token(now + 3600))).toBe('client_suspended');
    expect(await denylist.isSuspended('chargenet-charging')).toBe(true);
    expect(await denylist.sweep()).toBe(0);
    expect(await denylist.isSuspended('chargenet-charging')).toBe(true);
    expect(denylist.refuses({ ...token(now), clientId: 'insights-readonly' })).toBeNull();
    const [e] = await cp.platform.audit.list({ type: 'auth.client.suspended' });
    expect(e).toMatchObject({ actor: operator, object: { id: 'chargenet-charging' } });
  });

  it('withdrawing a command key: the current one is refused, a next one is retired and replaced', async () => {
    const keys = cp.platform.commands.keys;
    const [current, next] = ['current:', 'next:'].map((p) =>
      keys.version().then((v) =>
        v
          .split(',')
          .find((k) => k.startsWith(p))!
          .slice(p.length),
      ),
    );
    await expect(keys.withdraw(await current!, 'admin')).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    const nextKid = await next!;
    expect(await keys.withdraw(nextKid, 'admin')).toMatchObject({ kid: nextKid, changed: true });
    const published = (await keys.published()).map((k) => k.kid);
    expect(published).not.toContain(nextKid);
    expect(published).toHaveLength(2);
    expect(await keys.withdraw(nextKid, 'admin')).toMatchObject({ changed: false });
    await expect(keys.withdraw('nope', 'admin')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});

describe('playbooks at start', () => {
  it('a playbook file that does not match the schema refuses to start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carapace-bad-playbooks-'));
    try {
      cpSync('playbooks', dir, { recursive: true });
      writeFileSync(
        join(dir, 'typo.json'),
        JSON.stringify({
          id: 'typo',
          version: 1,
          title: 't',
          description: '',
          steps: [{ id: 'a', action: 'x', mode: 'auto' }],
        }),
      );
      await expect(
        startTestCarapace({ database: 'sqlite', overrides: { incidents: { playbooksDir: dir } } }),
      ).rejects.toMatchObject({ code: 'ERR_PLAYBOOK_INVALID' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
