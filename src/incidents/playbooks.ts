import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { CarapaceError } from '../platform/index.js';

/** The playbooks directory shipped with Carapace. */
export const DEFAULT_PLAYBOOK_DIR = new URL('../../playbooks/', import.meta.url).pathname;

/** Every action a playbook step may name; each is carried out through the owning module's index.ts. */
export const ACTIONS = [
  'device.suspend',
  'certificate.revoke',
  'telemetry.quarantine',
  'telemetry.reverify',
  'device.retire',
  'account.end_sessions',
  'account.reset_mfa',
  'notify.user',
  'client.suspend',
  'client.revoke_tokens',
  'client.end_grants',
  'notify.vehicle_owners',
  'command_key.rotate',
  'command_key.push',
  'command_key.withdraw',
  'incident.scope',
  'evidence.hold',
  'evidence.proofs',
] as const;
/** One playbook action. */
export type Action = (typeof ACTIONS)[number];

/**
 * The admin action each playbook action amounts to, which the operator who starts a run (for its automatic steps) or
 * approves a step must hold themselves: running a playbook is never a way around a role (`incidents:run_playbook`
 * alone is a responder's). Null: containment that `incidents:run_playbook` itself covers (preserving evidence
 * included). Every action must be listed.
 */
export const STEP_ADMIN_ACTIONS: Record<Action, { action: string; targetStatus?: string } | null> = {
  'device.suspend': { action: 'pki:transition_device', targetStatus: 'quarantined' },
  'certificate.revoke': { action: 'pki:revoke' },
  'telemetry.quarantine': null,
  'telemetry.reverify': null,
  'device.retire': { action: 'pki:transition_device', targetStatus: 'decommissioned' },
  'account.end_sessions': null,
  'account.reset_mfa': { action: 'identity:reset_mfa' },
  'notify.user': null,
  'client.suspend': { action: 'auth:revoke_client_tokens' },
  'client.revoke_tokens': { action: 'auth:revoke_client_tokens' },
  'client.end_grants': { action: 'auth:revoke_client_tokens' },
  'notify.vehicle_owners': null,
  'command_key.rotate': { action: 'commands:manage_keys' },
  'command_key.push': { action: 'commands:manage_keys' },
  'command_key.withdraw': { action: 'commands:manage_keys' },
  'incident.scope': null,
  'evidence.hold': null,
  'evidence.proofs': null,
};

const closed = { additionalProperties: false } as const;
const Name = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' });

/** A step's parameters; which ones an action needs is checked when the file loads. */
export const StepParams = Type.Object(
  {
    lookbackHours: Type.Optional(Type.Integer({ minimum: 24, maximum: 72 })),
    disposition: Type.Optional(Type.Union([Type.Literal('re-provision'), Type.Literal('physical-recovery')])),
    template: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' })),
    holdHoursBefore: Type.Optional(Type.Integer({ minimum: 0, maximum: 720 })),
  },
  closed,
);

/** One step: an action, where its targets come from, and whether it runs at once or after an approval. */
export const PlaybookStep = Type.Object(
  {
    id: Name,
    action: Type.Union(ACTIONS.map((a) => Type.Literal(a))),
    mode: Type.Union([Type.Literal('auto'), Type.Literal('approval')]),
    /** `assets`: the incident's assets (its findings' and the operator's); `scope`: also its scoping result. */
    from: Type.Optional(Type.Array(Type.Union([Type.Literal('assets'), Type.Literal('scope')]), { minItems: 1 })),
    params: Type.Optional(StepParams),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  closed,
);

/** A playbook file: `playbooks/<id>.json`, versioned. */
export const PlaybookSchema = Type.Object(
  {
    id: Name,
    version: Type.Integer({ minimum: 1 }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.String({ maxLength: 2000 }),
    steps: Type.Array(PlaybookStep, { minItems: 1, maxItems: 50 }),
  },
  closed,
);
/** A validated playbook. */
export type Playbook = Static<typeof PlaybookSchema>;
/** One validated step. */
export type PlaybookStepSpec = Static<typeof PlaybookStep>;

const isPlaybook = TypeCompiler.Compile(PlaybookSchema);

/** The parameters each action requires (others it does not take are refused too). */
const REQUIRED: Partial<Record<Action, (keyof NonNullable<PlaybookStepSpec['params']>)[]>> = {
  'telemetry.reverify': ['lookbackHours'],
  'device.retire': ['disposition'],
  'notify.user': ['template'],
  'notify.vehicle_owners': ['template'],
  'evidence.hold': ['holdHoursBefore'],
};

const invalid = (file: string, why: string) =>
  new CarapaceError('ERR_PLAYBOOK_INVALID', `playbook ${file}: ${why}`, { file });

/** Checks one parsed file; throws ERR_PLAYBOOK_INVALID naming the file and the first problem. */
export function checkPlaybook(file: string, value: unknown): Playbook {
  if (!isPlaybook.Check(value)) {
    const e = isPlaybook.Errors(value).First();
    throw invalid(file, `${e?.path || '/'} ${e?.message ?? 'does not match the schema'}`);
  }
  if (`${value.id}.json` !== file) throw invalid(file, `the file must be named ${value.id}.json`);
  const ids = new Set<string>();
  for (const s of value.steps) {
    if (ids.has(s.id)) throw invalid(file, `step id ${s.id} is used twice`);
    ids.add(s.id);
    const needs = REQUIRED[s.action] ?? [];
    const given = Object.keys(s.params ?? {});
    const missing = needs.find((p) => !given.includes(p));
    if (missing) throw invalid(file, `step ${s.id} (${s.action}) needs params.${missing}`);
    const extra = given.find((p) => !(needs as string[]).includes(p));
    if (extra) throw invalid(file, `step ${s.id} (${s.action}) takes no params.${extra}`);
  }
  return value;
}

/** Loads and validates every `*.json` under `dir`; a bad file refuses to start (ERR_PLAYBOOK_INVALID). */
export function loadPlaybooks(dir: string = DEFAULT_PLAYBOOK_DIR): Map<string, Playbook> {
  const out = new Map<string, Playbook>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch {
      throw invalid(file, 'is not JSON');
    }
    const p = checkPlaybook(file, parsed);
    out.set(p.id, p);
  }
  return out;
}
