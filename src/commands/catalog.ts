import { type TSchema, Type } from '@sinclair/typebox';
import { COMMAND_NAMES, type CommandName } from '../wire/index.js';

export { COMMAND_NAMES, type CommandName };

/** How much harm a command can do if it reaches the wrong vehicle or the wrong moment. */
export type RiskClass = 'low' | 'medium' | 'high' | 'critical';

/** A vehicle-state precondition, checked against the last accepted signed telemetry. */
export type StateRequirement = 'stationary' | 'parked' | 'plugged_in';

/** One command type: who may send it, with what, when and how often. */
export interface CommandType {
  name: CommandName;
  risk: RiskClass;
  /** The token scope the caller needs (a fleet app's `fleet:command` also serves for fleet vehicles). */
  scope: string;
  /** The Cedar action asked; the command itself goes in `context.command`. */
  action: 'vehicle:command';
  /** Closed JSON Schema of `params`. */
  params: TSchema;
  /** Physical commands move or open something: they need an Idempotency-Key and a short TTL. */
  physical: boolean;
  /** Vehicle states the command is allowed in; unknown or stale state denies when this is not empty. */
  requires: readonly StateRequirement[];
  /** Regions (ISO 3166-1 alpha-2) where the command is not offered, from the vehicle's last position. */
  disallowedRegions: readonly string[];
  /** Needs a multi-factor sign-in within `commands.stepUpMaxAge`. */
  stepUp: boolean;
  /** Seconds from request to expiry: at most MAX_COMMAND_TTL_SECONDS for every command. */
  ttlSeconds: number;
  /** At most `max` requests of this type per vehicle per `windowSeconds`. */
  rate: { max: number; windowSeconds: number };
  /** Commands that cannot be in flight on one vehicle at the same time (one of each group at a time). */
  conflictGroup: string;
  /**
   * An owner may list it in a driver's delegation, and a security admin may approve it just in time for a
   * support agent. Diagnostics (a dealer's job) and the immobilizer (the operator's) are never handed on.
   */
  delegable: boolean;
}

const NoParams = Type.Object({}, { additionalProperties: false });
const closed = { additionalProperties: false } as const;

/**
 * The longest a command may live, from request to expiry. Every command acts on the vehicle, so an envelope
 * captured or delayed on the way stays usable for at most this long (Tesla's default is 5 s); there is no
 * exception. A longer lifetime in the catalog stops the module from loading.
 */
export const MAX_COMMAND_TTL_SECONDS = 60;

const entry = <K extends CommandName>(e: Omit<CommandType, 'action'> & { name: K }): CommandType & { name: K } => {
  if (!Number.isInteger(e.ttlSeconds) || e.ttlSeconds < 1 || e.ttlSeconds > MAX_COMMAND_TTL_SECONDS)
    throw new Error(`command ${e.name}: ttlSeconds ${e.ttlSeconds} is outside 1..${MAX_COMMAND_TTL_SECONDS}`);
  return { ...e, action: 'vehicle:command' };
};

/**
 * The catalog: the single source of the rules every command request and dispatch is checked against. Its keys
 * are exactly the wire's COMMAND_NAMES (the vehicle SDK is typed by the same list), each entry named by its key.
 */
export const COMMAND_CATALOG: Readonly<{ [K in CommandName]: CommandType & { name: K } }> = {
  lock: entry({
    name: 'lock',
    risk: 'low',
    scope: 'vehicle:lock',
    params: NoParams,
    physical: true,
    requires: [],
    disallowedRegions: [],
    stepUp: false,
    ttlSeconds: 30,
    rate: { max: 10, windowSeconds: 60 },
    conflictGroup: 'locks',
    delegable: true,
  }),
  unlock: entry({
    name: 'unlock',
    risk: 'high',
    scope: 'vehicle:unlock',
    params: NoParams,
    physical: true,
    requires: ['stationary'],
    disallowedRegions: [],
    stepUp: true,
    ttlSeconds: 30,
    rate: { max: 5, windowSeconds: 300 },
    conflictGroup: 'locks',
    delegable: true,
  }),
  remote_start: entry({
    name: 'remote_start',
    risk: 'high',
    scope: 'vehicle:remote_start',
    params: Type.Object({ minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 15 })) }, closed),
    physical: true,
    requires: ['parked'],
    disallowedRegions: ['CH'],
    stepUp: true,
    ttlSeconds: 30,
    rate: { max: 3, windowSeconds: 600 },
    conflictGroup: 'engine',
    delegable: true,
  }),
  remote_stop: entry({
    name: 'remote_stop',
    risk: 'medium',
    scope: 'vehicle:remote_start',
    params: NoParams,
    physical: true,
    requires: ['stationary'],
    disallowedRegions: [],
    stepUp: false,
    ttlSeconds: 30,
    rate: { max: 10, windowSeconds: 600 },
    conflictGroup: 'engine',
    delegable: true,
  }),
  climate: entry({
    name: 'climate',
    risk: 'low',
    scope: 'vehicle:climate',
    params: Type.Object(
      { on: Type.Boolean(), temperatureC: Type.Optional(Type.Number({ minimum: 15, maximum: 30 })) },
      closed,
    ),
    physical: true,
    requires: [],
    disallowedRegions: [],
    stepUp: false,
    ttlSeconds: 60,
    rate: { max: 10, windowSeconds: 60 },
    conflictGroup: 'climate',
    delegable: true,
  }),
  horn_lights: entry({
    name: 'horn_lights',
    risk: 'low',
    scope: 'vehicle:lock',
    params: Type.Object({ horn: Type.Optional(Type.Boolean()) }, closed),
    physical: true,
    requires: ['stationary'],
    disallowedRegions: [],
    stepUp: false,
    ttlSeconds: 20,
    rate: { max: 5, windowSeconds: 60 },
    conflictGroup: 'horn',
    delegable: true,
  }),
  charge_start: entry({
    name: 'charge_start',
    risk: 'low',
    scope: 'vehicle:charging',
    params: NoParams,
    physical: true,
    requires: ['plugged_in'],
    disallowedRegions: [],
    stepUp: false,
    ttlSeconds: 60,
    rate: { max: 10, windowSeconds: 60 },
    conflictGroup: 'charging',
    delegable: true,
  }),
  charge_stop: entry({
    name: 'charge_stop',
    risk: 'low',
    scope: 'vehicle:charging',
    params: NoParams,
    physical: true,
    requires: ['plugged_in'],
    disallowedRegions: [],
    stepUp: false,
    ttlSeconds: 60,
    rate: { max: 10, windowSeconds: 60 },
    conflictGroup: 'charging',
    delegable: true,
  }),
  charge_limit: entry({
    name: 'charge_limit',
    risk: 'low',
    scope: 'vehicle:charging',
    params: Type.Object({ percent: Type.Integer({ minimum: 50, maximum: 100 }) }, closed),
    physical: false,
    requires: [],
    disallowedRegions: [],
    stepUp: false,
    ttlSeconds: 60,
    rate: { max: 10, windowSeconds: 60 },
    conflictGroup: 'charging',
    delegable: true,
  }),
  trunk_open: entry({
    name: 'trunk_open',
    risk: 'high',
    scope: 'vehicle:unlock',
    params: NoParams,
    physical: true,
    requires: ['stationary'],
    disallowedRegions: [],
    stepUp: true,
    ttlSeconds: 30,
    rate: { max: 3, windowSeconds: 300 },
    conflictGroup: 'locks',
    delegable: true,
  }),
  diagnostics_run: entry({
    name: 'diagnostics_run',
    risk: 'medium',
    scope: 'vehicle:diagnostics',
    params: Type.Object({ suite: Type.Optional(Type.Union([Type.Literal('quick'), Type.Literal('full')])) }, closed),
    physical: false,
    requires: ['parked'],
    disallowedRegions: [],
    stepUp: false,
    // The lifetime bounds delivery and the start of the run, not the run: the vehicle answers once it has started
    // it (the codes go `pending`) and reports the results in its telemetry.
    ttlSeconds: 60,
    rate: { max: 3, windowSeconds: 600 },
    conflictGroup: 'diagnostics',
    delegable: false,
  }),
  immobilize: entry({
    name: 'immobilize',
    risk: 'critical',
    scope: 'security:admin',
    params: Type.Object({ reason: Type.String({ minLength: 10, maxLength: 500 }) }, closed),
    physical: true,
    requires: ['parked'],
    disallowedRegions: [],
    stepUp: true,
    ttlSeconds: 60,
    rate: { max: 2, windowSeconds: 3600 },
    conflictGroup: 'immobilizer',
    delegable: false,
  }),
};

/** The catalog entry of a name, or null for anything not in the catalog. */
export function commandType(name: unknown): CommandType | null {
  return typeof name === 'string' && Object.hasOwn(COMMAND_CATALOG, name) ? COMMAND_CATALOG[name as CommandName] : null;
}

/** Every scope some command needs: the command route accepts a token holding any of them. */
export const COMMAND_SCOPES = [
  ...new Set([...Object.values(COMMAND_CATALOG).map((c) => c.scope), 'fleet:command']),
].sort();

/** The commands a delegation may list (and a just-in-time approval may name), from the catalog's `delegable`. */
export const DELEGABLE_COMMANDS: readonly CommandName[] = COMMAND_NAMES.filter((n) => COMMAND_CATALOG[n].delegable);

/** The commands that need a recent second factor: sending one, and delegating one to a driver. */
export const STEP_UP_COMMANDS: readonly CommandName[] = COMMAND_NAMES.filter((n) => COMMAND_CATALOG[n].stepUp);
