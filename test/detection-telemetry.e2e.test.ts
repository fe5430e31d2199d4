import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { telemetryDevice, wire } from './telemetry-support.js';

// Real time: TLS peers check certificate validity against the wall clock, whatever the server's clock says.
const START = Math.floor(Date.now() / 1000) * 1000;

// What the telemetry detections read, written over the real mTLS gateway: the out-of-region flag against the
// configured operating regions, and the bounded per-interval volume summaries.
describe.each(testEngines())('telemetry events for the detections (%s)', (engine) => {
  let cp: TestCarapace;
  const clock = new FixedClock(START);
  const now = () => clock.now().getTime();
  let serial = 0;
  const device = () => telemetryDevice(cp, `TCU-DT-${engine}-${serial++}`, { now });

  beforeAll(async () => {
    cp = await startTestCarapace({
      database: engine,
      clock,
      overrides: {
        seedDemo: true,
        // The timer never fires within the test: the test flushes by hand, so nothing depends on wall time.
        telemetry: { regions: ['DE:47..55.1:5.8..15.1', 'AT:46.3..49.1:9.5..17.2'], volumeSummaryInterval: 3600 },
      },
    });
  });
  afterAll(async () => cp.stop());

  it('flags a position outside every operating region and audits the flag by name', async () => {
    const { client, signer } = await device();
    const r = await client.sendTelemetry(
      [
        await signer.sign({ kind: 'position', lat: 48.1374, lon: 11.5755 }),
        await signer.sign({ kind: 'position', lat: 48.2082, lon: 16.3738 }, { ts: now() + 3_600_000 }),
      ].map(wire),
    );
    expect(r.verdicts.map((v) => v.flags ?? [])).toEqual([[], []]);
    const { issued } = client.credentials!;
    expect(await cp.platform.audit.list({ type: 'telemetry.alert', actorId: issued.deviceId })).toEqual([]);
    client.close();

    const outside = await device();
    const far = await outside.client.sendTelemetry(
      [await outside.signer.sign({ kind: 'position', lat: 41.9028, lon: 12.4964 })].map(wire),
    );
    expect(far.verdicts[0]).toMatchObject({ verdict: 'accepted', flags: ['out_of_region'] });
    const id = outside.client.credentials!.issued.deviceId;
    const [alert] = await cp.platform.audit.list({ type: 'telemetry.alert', actorId: id });
    expect(alert).toMatchObject({ reason: 'out_of_region', details: { flags: ['out_of_region'] } });
    outside.client.close();
  });

  it('audits the accepted volume per interval: one summary and the busiest devices, nothing when idle', async () => {
    await cp.platform.telemetry.volume.flush();
    const count = async () => (await cp.platform.audit.list({ type: 'telemetry.volume.summary', limit: 100 })).length;
    const before = await count();
    await cp.platform.telemetry.volume.flush();
    expect(await count()).toBe(before);

    const busy = await device();
    const quiet = await device();
    const batch = async (d: typeof busy, n: number) =>
      d.client.sendTelemetry(
        await Promise.all(Array.from({ length: n }, (_, i) => d.signer.sign({ kind: 'speed', kmh: i }))).then((m) =>
          m.map(wire),
        ),
      );
    await batch(busy, 4);
    await batch(busy, 3);
    await batch(quiet, 2);
    // A refused message is not accepted volume.
    const bad = wire(await quiet.signer.sign({ kind: 'speed', kmh: 1 }));
    await quiet.client.sendTelemetry([{ ...bad, sig: bad.sig.replace(/^./, bad.sig[0] === 'A' ? 'B' : 'A') }]);
    await cp.platform.telemetry.volume.flush();

    const [summary] = await cp.platform.audit.list({ type: 'telemetry.volume.summary', limit: 1 });
    const busyId = busy.client.credentials!.issued.deviceId;
    const quietId = quiet.client.credentials!.issued.deviceId;
    expect(summary).toMatchObject({
      decision: 'info',
      details: { messages: 9, devices: 2, intervalSeconds: 3600, topDevices: [busyId, quietId] },
    });
    const perDevice = await cp.platform.audit.list({ type: 'telemetry.volume.device', limit: 2 });
    expect(perDevice.map((e) => [e.actor.id, e.details.messages]).sort()).toEqual(
      [
        [busyId, 7],
        [quietId, 2],
      ].sort(),
    );
    expect(perDevice.find((e) => e.actor.id === busyId)?.object).toEqual({
      type: 'vehicle',
      id: busy.client.credentials!.issued.vehicleId,
    });
    busy.client.close();
    quiet.client.close();
  });
});
