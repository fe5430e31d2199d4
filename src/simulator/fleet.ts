import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChannelEvent } from '../vehicle-sdk/index.js';
import { SimulatedVehicle, type SimulatedUnit } from './simulated-vehicle.js';

/** The factory credentials under `<dataDir>/factory/<serial>/factory-{cert,key}.pem` (demo and provisioned units). */
export function unitsIn(factoryDir: string, stateRoot: string | null): SimulatedUnit[] {
  if (!existsSync(factoryDir)) return [];
  // The demo's units first, so a small simulated fleet always includes the demo cars.
  const order = (s: string) => (s.startsWith('TCU-DEMO') ? `0${s}` : `1${s}`);
  return readdirSync(factoryDir)
    .sort((a, b) => order(a).localeCompare(order(b)))
    .flatMap((serial) => {
      const cert = join(factoryDir, serial, 'factory-cert.pem');
      const key = join(factoryDir, serial, 'factory-key.pem');
      if (!existsSync(cert) || !existsSync(key)) return [];
      return [
        {
          serial,
          factoryCert: readFileSync(cert, 'utf8'),
          factoryKey: readFileSync(key, 'utf8'),
          stateDir: stateRoot ? join(stateRoot, serial) : null,
        },
      ];
    });
}

/**
 * A simulated fleet: starts every vehicle (a few at a time, as enrollment is the expensive step), then
 * every `intervalSeconds` advances each model (trips of the `moving` share, charging) and streams its
 * state as signed telemetry, so state-dependent commands have fresh state to be checked against.
 */
export async function runFleet(options: {
  units: SimulatedUnit[];
  gatewayUrl: string;
  ca: string;
  intervalSeconds: number;
  moving: number;
  concurrency?: number;
  onEvent?: (serial: string, e: ChannelEvent) => void;
  log?: (line: string) => void;
}): Promise<{ vehicles: SimulatedVehicle[]; stop: () => void }> {
  const vehicles = options.units.map(
    (u) => new SimulatedVehicle(u, { gatewayUrl: options.gatewayUrl, ca: options.ca, onEvent: options.onEvent }),
  );
  const queue = [...vehicles];
  const failed: string[] = [];
  await Promise.all(
    Array.from({ length: options.concurrency ?? 8 }, async () => {
      for (let v = queue.shift(); v; v = queue.shift()) {
        await v.start().catch((err: unknown) => {
          failed.push(v.unit.serial);
          options.log?.(`${v.unit.serial}: could not start: ${err instanceof Error ? err.message : String(err)}`);
        });
      }
    }),
  );
  const running = vehicles.filter((v) => !failed.includes(v.unit.serial));
  // The first `moving` vehicles are on a trip; the rest are parked (the demo's cars among them).
  running.slice(0, options.moving).forEach((v) => v.model.drive(40 + Math.round(Math.random() * 60)));
  const timer = setInterval(() => {
    for (const v of running) {
      v.model.tick(options.intervalSeconds);
      void v
        .report()
        .catch((err: unknown) =>
          options.log?.(`${v.unit.serial}: telemetry failed: ${err instanceof Error ? err.message : String(err)}`),
        );
    }
  }, options.intervalSeconds * 1000);
  return {
    vehicles: running,
    stop: () => {
      clearInterval(timer);
      running.forEach((v) => v.stop());
    },
  };
}
