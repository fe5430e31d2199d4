import { type CommandName, type DoorName, isCommandName, type TelemetryPayload } from '../wire/index.js';

/** The simulated vehicle's physical state. */
export interface VehicleModelState {
  locked: boolean;
  open: DoorName[];
  engineOn: boolean;
  climateOn: boolean;
  cabinTargetC: number;
  speedKmh: number;
  gear: 'P' | 'R' | 'N' | 'D';
  lat: number;
  lon: number;
  odometerKm: number;
  plugged: boolean;
  charging: boolean;
  socPercent: number;
  chargeLimit: number;
  immobilized: boolean;
  diagnosticCodes: Array<{ code: string; status: 'active' | 'pending' | 'cleared' }>;
}

/** What executing a command did: the vehicle acted, failed while acting, or refused to act at all. */
export type Execution =
  | { result: 'executed'; code: null }
  | { result: 'failed'; code: string }
  | { result: 'refused'; code: 'unsafe_state' | 'unsupported_command' };

/**
 * A plausible vehicle: locks, doors, climate, engine, charging, speed and position. It refuses what a real
 * body controller would refuse whatever the platform says (unlocking or opening while moving, starting
 * while driving, charging while unplugged): the platform's state check is not the last line of defence.
 */
export class VehicleModel {
  state: VehicleModelState;

  constructor(initial: Partial<VehicleModelState> = {}) {
    this.state = {
      locked: true,
      open: [],
      engineOn: false,
      climateOn: false,
      cabinTargetC: 21,
      speedKmh: 0,
      gear: 'P',
      lat: 48.1374,
      lon: 11.5755,
      odometerKm: 12_000,
      plugged: false,
      charging: false,
      socPercent: 64,
      chargeLimit: 80,
      immobilized: false,
      diagnosticCodes: [],
      ...initial,
    };
  }

  /** Executes one verified command; a name outside the catalog's list is refused as unsupported. */
  execute(command: string, params: Record<string, unknown>): Execution {
    return isCommandName(command) ? this.run(command, params) : { result: 'refused', code: 'unsupported_command' };
  }

  /** Every catalog command has a case: a name added to COMMAND_NAMES does not compile until the model handles it. */
  private run(command: CommandName, params: Record<string, unknown>): Execution {
    const s = this.state;
    const moving = s.speedKmh > 0;
    const refuse = (): Execution => ({ result: 'refused', code: 'unsafe_state' });
    switch (command) {
      case 'lock':
        s.locked = true;
        break;
      case 'unlock':
        if (moving) return refuse();
        s.locked = false;
        break;
      case 'trunk_open':
        if (moving) return refuse();
        s.open = [...new Set([...s.open, 'trunk' as DoorName])];
        break;
      case 'remote_start':
        if (moving || s.gear !== 'P' || s.immobilized) return refuse();
        s.engineOn = true;
        s.climateOn = true;
        break;
      case 'remote_stop':
        if (moving) return refuse();
        s.engineOn = false;
        break;
      case 'climate':
        s.climateOn = params.on === true;
        if (typeof params.temperatureC === 'number') s.cabinTargetC = params.temperatureC;
        break;
      case 'horn_lights':
        if (moving) return refuse();
        break;
      case 'charge_start':
        if (!s.plugged) return refuse();
        if (s.socPercent >= s.chargeLimit) return { result: 'failed', code: 'battery_at_limit' };
        s.charging = true;
        break;
      case 'charge_stop':
        s.charging = false;
        break;
      case 'charge_limit':
        s.chargeLimit = typeof params.percent === 'number' ? params.percent : s.chargeLimit;
        break;
      case 'diagnostics_run':
        if (moving) return refuse();
        s.diagnosticCodes = s.diagnosticCodes.map((c) => ({ ...c, status: 'pending' as const }));
        break;
      case 'immobilize':
        if (moving) return refuse();
        s.immobilized = true;
        s.engineOn = false;
        break;
      default: {
        const unhandled: never = command;
        void unhandled;
        return { result: 'refused', code: 'unsupported_command' };
      }
    }
    return { result: 'executed', code: null };
  }

  /** Advances the simulation: a driving vehicle moves and charging fills the battery. */
  tick(seconds: number): void {
    const s = this.state;
    if (s.speedKmh > 0) {
      const km = (s.speedKmh * seconds) / 3600;
      s.odometerKm += km;
      s.lat += km / 111;
    }
    if (s.charging) {
      s.socPercent = Math.min(s.chargeLimit, s.socPercent + seconds / 60);
      if (s.socPercent >= s.chargeLimit) s.charging = false;
    }
  }

  /** Starts or stops driving (the simulator's plausible trips). */
  drive(kmh: number): void {
    if (this.state.immobilized && kmh > 0) return;
    this.state.speedKmh = kmh;
    this.state.gear = kmh > 0 ? 'D' : 'P';
    if (kmh > 0) {
      this.state.locked = true;
      this.state.plugged = false;
      this.state.charging = false;
    }
  }

  /** The state as telemetry payloads, for the signed stream that the platform's safety checks read. */
  telemetry(): TelemetryPayload[] {
    const s = this.state;
    return [
      { kind: 'speed', kmh: s.speedKmh },
      { kind: 'gear', gear: s.gear },
      { kind: 'doors', locked: s.locked, open: s.open },
      { kind: 'battery', socPercent: Math.round(s.socPercent * 10) / 10, charging: s.charging, plugged: s.plugged },
      { kind: 'position', lat: Math.round(s.lat * 1e6) / 1e6, lon: Math.round(s.lon * 1e6) / 1e6 },
      { kind: 'odometer', km: Math.round(s.odometerKm * 10) / 10 },
    ];
  }
}
