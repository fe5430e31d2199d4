import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../src/platform/clock.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/carapace.js';
import { signMessage } from '../src/vehicle-sdk/index.js';
import { signerFor, telemetryDevice } from './telemetry-support.js';

// Real time: TLS peers check certificate validity against the wall clock, whatever the server's clock says.
const START = Math.floor(Date.now() / 1000) * 1000;

describe.each(testEngines())('telemetry ingestion on %s', (engine) => {
  let cp: TestCarapace;
  const clock = new FixedClock(START);
  const now = () => clock.now().getTime();

  beforeAll(async () => {
    cp = await startTestCarapace({ database: engine, clock });
  });
  afterAll(async () => {
    await cp.stop();
  });

  it('accepts SDK messages and shows them as vehicle state', async () => {
    const { client, signer } = await telemetryDevice(cp, "TCU-TM-1", { now });
    const batch = [
      await signer.sign({ kind: 'speed', kmh: 42 }),
      await signer.sign({ kind: 'gear', gear: 'D' }),
      await signer.sign({ kind: 'doors', locked: true, open: [] }),
      await signer.sign({ kind: 'position', lat: 48.1374, lon: 11.5755 }),
      await signer.sign({ kind: 'battery', socPercent: 81.5, charging: false, plugged: false }),
      await signer.sign({ kind: 'odometer', km: 12345.6 }),
      await signer.sign({ kind: 'diagnostics', codes: [{ code: 'P0420', status: 'active' }] }),
    ].map(({ signed, sig }) => ({ signed, sig }));
    const receipt = await client.sendTelemetry(batch);
    expect(receipt).toMatchObject({ accepted: 7, duplicates: 0, rejected: 0 });
    expect(receipt.verdicts.map((v) => v.verdict)).toEqual(Array(7).fill('accepted'));
    const state = await cp.platform.telemetry.vehicleState(client.credentials!.issued.vehicleId);
    const at = new Date(START).toISOString();
    expect(state).toMatchObject({
      speedKmh: { value: 42, at }, gear: { value: 'D', at }, locks: { value: { locked: true, open: [] }, at },
      position: { value: { lat: 48.1374, lon: 11.5755 } }, charging: { value: { charging: false, plugged: false, socPercent: 81.5 } },
      odometerKm: { value: 12345.6 }, diagnostics: { value: [{ code: 'P0420', status: 'active' }] },
    });
    client.close();
  });
});
