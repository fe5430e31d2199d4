import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { CommandChannel, EnvelopeVerifier, GatewayClient } from './commands-support.js';

const scenario = readScenario('scenarios/demo.yaml');
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];

describe.each(testEngines())('command keys reach connected vehicles over the channel (%s)', (database) => {
  let cp: TestCarapace;
  const clock = new FixedClock(Date.now());
  let device: GatewayClient;
  let alice: CarapaceClient;
  const stateDir = mkdtempSync(join(tmpdir(), 'carapace-tcu-keys-'));

  beforeAll(async () => {
    cp = await startTestCarapace({ database, clock, overrides: { seedDemo: true } });
    const dir = join(cp.config.dataDir, 'factory', 'TCU-DEMO-0001');
    device = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    await device.enroll({
      cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
    });
    const u = scenario.users.find((x) => x.key === 'alice')!;
    alice = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await alice.login({
      email: u.email,
      password: u.password,
      scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
      ...(u.totp ? { totp: () => currentTotp(u.totp!, clock.now()) } : {}),
    });
  }, 120_000);
  afterAll(async () => {
    device?.close();
    await cp?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** Sends `lock` as Alice and waits for the job's final state. */
  const lockOutcome = async (vehicleId: string, key: string) => {
    const res = await alice.api(
      'POST',
      `/v1/vehicles/${vehicleId}/commands`,
      { command: 'lock' },
      { 'idempotency-key': key },
    );
    const id = (res.json as { id: string }).id;
    let job = { state: '' };
    for (let i = 0; i < 200 && !['confirmed', 'failed', 'rejected', 'expired'].includes(job.state); i++) {
      job = (await alice.api('GET', `/v1/vehicles/${vehicleId}/commands/${id}`)).json as typeof job;
      await wait(25);
    }
    return job.state;
  };

  const allHaveNext = async () => {
    for (let i = 0; i < 100; i++) {
      const c = await cp.platform.commands.keys.coverage();
      if (c.active > 0 && c.withNext === c.active) return c;
      await wait(100);
    }
    return cp.platform.commands.keys.coverage();
  };

  it('two rotations in a row: the vehicle takes each signed set, withdraws retired keys, and still verifies', async () => {
    const { issued } = device.credentials!;
    const pinned = issued.commandVerificationKeys.keys.map((k) => k.kid);
    const verifier = new EnvelopeVerifier({
      keys: issued.commandVerificationKeys.keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      trustAnchor: cp.ca,
      stateDir,
      now: () => clock.now().getTime(),
    });
    const channel = new CommandChannel({
      gateway: device,
      verifier,
      stateDir,
      execute: () => ({ result: 'executed', code: null }),
      reconnect: false,
    });
    await channel.connect();
    expect(await allHaveNext()).toMatchObject({ active: 1, withNext: 1 });
    for (let i = 0; i < 2; i++) {
      await cp.platform.commands.keys.rotate('test');
      // The rotation guard's figure: every active vehicle confirmed the new next key with a signed receipt.
      expect((await allHaveNext()).withNext).toBe(1);
    }
    const published = (await cp.platform.commands.keys.published()).map((k) => k.kid).sort();
    expect(verifier.kids().sort()).toEqual(published);
    for (const kid of pinned) expect(verifier.kids()).not.toContain(kid);
    expect(await lockOutcome(issued.vehicleId, 'after-two-rotations')).toBe('confirmed');
    channel.close();
    // A restarted unit keeps the pushed set, not the one pinned at enrollment.
    const restarted = new EnvelopeVerifier({
      keys: issued.commandVerificationKeys.keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      trustAnchor: cp.ca,
      stateDir,
    });
    expect(restarted.kids().sort()).toEqual(published);
  });

  it('a vehicle refuses an altered, replayed or foreign key-set update', async () => {
    const { issued } = device.credentials!;
    const verifier = new EnvelopeVerifier({
      keys: issued.commandVerificationKeys.keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      trustAnchor: cp.ca,
      counters: { load: () => ({ highest: 0, seen: [] }), save: () => undefined },
    });
    const first = await cp.platform.commands.keys.signKeySet(issued.vehicleId, issued.deviceId);
    clock.advance(1);
    const second = await cp.platform.commands.keys.signKeySet(issued.vehicleId, issued.deviceId);
    const altered = { ...second, signed: second.signed.replace('"issuedAt":', '"issuedAt":1') };
    expect(verifier.updateKeys(altered)).toMatchObject({ ok: false });
    expect(verifier.updateKeys(second)).toMatchObject({ ok: true });
    expect(verifier.updateKeys(first)).toMatchObject({ ok: false, code: 'stale' });
    const other = await cp.platform.commands.keys.signKeySet(crypto.randomUUID(), issued.deviceId);
    expect(verifier.updateKeys(other)).toMatchObject({ ok: false, code: 'wrong_vehicle' });
    const fleetRooted = new EnvelopeVerifier({
      keys: [],
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      trustAnchor: cp.platform.pki.ctx.authorities.fleet.pem,
      counters: { load: () => ({ highest: 0, seen: [] }), save: () => undefined },
    });
    expect(fleetRooted.updateKeys(second)).toMatchObject({ ok: false, code: 'untrusted_signer' });
  });

  it('the rotation guard counts an active vehicle that never confirmed the next key', async () => {
    const other = await cp.enrolledDevice('TCU-KEYS-SILENT');
    const c = await cp.platform.commands.keys.coverage();
    expect(c.active).toBe(2);
    expect(c.withNext).toBe(1);
    expect(c.without).toEqual([other.credentials!.issued.deviceId]);
    other.close();
  });

  it('rotate-key refuses to strand a vehicle; forced from another process, the set still arrives', async () => {
    const { issued } = device.credentials!;
    const verifier = new EnvelopeVerifier({
      keys: issued.commandVerificationKeys.keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      trustAnchor: cp.ca,
      stateDir,
      now: () => clock.now().getTime(),
    });
    const channel = new CommandChannel({
      gateway: device,
      verifier,
      stateDir,
      execute: () => ({ result: 'executed', code: null }),
      reconnect: false,
    });
    await channel.connect();
    const env: Record<string, string | undefined> = {
      ...process.env,
      CARAPACE_DATA_DIR: cp.config.dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      DATABASE_URL: cp.config.database.url ?? '',
      CARAPACE_DATABASE_SCHEMA: cp.config.database.schema,
      REDIS_URL: '',
    };
    const kids = async () => (await cp.platform.commands.keys.published()).map((k) => k.kid).sort();
    const before = await kids();
    // The silent unit of the previous test never confirmed the next key: the CLI refuses and changes nothing.
    const refused = await run('node', [...CLI, 'commands', 'rotate-key'], { env, timeout: 60_000 }).then(
      () => null,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain('refused: 1 vehicles would refuse every command (unknown_key)');
    expect(await kids()).toEqual(before);
    // Forced in another process: this server notices the new set at its next tick and pushes it to the vehicle.
    const forced = await run('node', [...CLI, 'commands', 'rotate-key', '--force'], { env, timeout: 60_000 });
    expect(forced.stdout).toMatch(/command key \S+ signs now/);
    const after = await kids();
    expect(after).not.toEqual(before);
    for (let i = 0; i < 200 && verifier.kids().sort().join() !== after.join(); i++) await wait(50);
    expect(verifier.kids().sort()).toEqual(after);
    expect(await lockOutcome(issued.vehicleId, 'after-a-rotation-elsewhere')).toBe('confirmed');
    channel.close();
  }, 120_000);
});
