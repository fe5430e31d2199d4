import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { CarapaceError, type Clock, newId } from '../platform/index.js';
import type { OperatorAuditLog } from './audit-events.js';
import { OPERATOR_ROLES, type OperatorRole, type OperatorRow } from './tables.js';

/** Who changes the operator list: a CLI user (system) or an operator. */
export type OperatorActor = { type: 'system' | 'operator'; id: string | null };

/** An operator as the rest of the platform sees it. */
export interface OperatorRecord {
  id: string;
  name: string;
  kind: 'person' | 'certificate';
  userId: string | null;
  certificateSerial: string | null;
  roles: OperatorRole[];
  disabled: boolean;
}

/** The SHA-256 of a session id or other bearer secret, as stored. */
export function secretHash(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** A new random session id: 256 bits, base64url. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** The roles in `roles`, refused when one is not an operator role. */
export function parseRoles(roles: readonly string[]): OperatorRole[] {
  const bad = roles.filter((r) => !(OPERATOR_ROLES as readonly string[]).includes(r));
  if (bad.length > 0 || roles.length === 0)
    throw new CarapaceError('ERR_VALIDATION', `roles must be among ${OPERATOR_ROLES.join(', ')}`, { field: 'roles' });
  return [...new Set(roles)].sort() as OperatorRole[];
}

function record(row: OperatorRow): OperatorRecord {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    userId: row.user_id,
    certificateSerial: row.certificate_serial,
    roles: parseRoles(JSON.parse(row.roles) as string[]),
    disabled: row.disabled_at !== null,
  };
}

/** The operator list: people and certificates with their roles; every change is audited in its transaction. */
export function createOperatorDirectory(deps: { db: Kysely<Database>; audit: OperatorAuditLog; clock: Clock }) {
  const { db, audit, clock } = deps;
  const now = () => clock.now().toISOString();
  const find = async (where: 'id' | 'name' | 'user_id' | 'certificate_serial', value: string) => {
    const row = await db.selectFrom('operators').selectAll().where(where, '=', value).executeTakeFirst();
    return row ? record(row) : undefined;
  };
  const change = async (actor: OperatorActor, name: string, what: string, roles: OperatorRole[] | null) => {
    const op = await find('name', name);
    if (!op) throw new CarapaceError('ERR_NOT_FOUND', `no operator named ${name}`);
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('operators')
        .set(roles ? { roles: JSON.stringify(roles) } : { disabled_at: now() })
        .where('id', '=', op.id)
        .execute();
      if (!roles) {
        // A disabled person is signed out everywhere at once.
        await trx
          .updateTable('operator_sessions')
          .set({ ended_at: now(), end_reason: 'operator_disabled' })
          .where('operator_id', '=', op.id)
          .where('ended_at', 'is', null)
          .execute();
      }
      await audit.append(trx, {
        type: 'operators.operator.changed',
        actor,
        object: { type: 'operator', id: op.name },
        action: what,
        decision: 'allow',
        details: { roles: roles ?? op.roles },
      });
    });
  };
  return {
    find,
    /** Adds an operator: a person by user id, or a certificate by serial; a certificate holds one role. */
    async add(
      actor: OperatorActor,
      args: { name: string; kind: 'person' | 'certificate'; ref: string; roles: readonly string[] },
    ): Promise<OperatorRecord> {
      const roles = parseRoles(args.roles);
      if (args.kind === 'certificate' && roles.length !== 1)
        throw new CarapaceError('ERR_VALIDATION', 'an operator certificate is bound to exactly one role', {
          field: 'roles',
        });
      if (!/^[A-Za-z0-9][A-Za-z0-9@._-]{0,99}$/.test(args.name))
        throw new CarapaceError('ERR_VALIDATION', 'an operator name is 1-100 letters, digits, @ . _ -', {
          field: 'name',
        });
      const row: OperatorRow = {
        id: newId(),
        name: args.name,
        kind: args.kind,
        user_id: args.kind === 'person' ? args.ref : null,
        certificate_serial: args.kind === 'certificate' ? args.ref : null,
        roles: JSON.stringify(roles),
        created_at: now(),
        disabled_at: null,
      };
      const taken =
        (await find('name', args.name)) ??
        (await find(args.kind === 'person' ? 'user_id' : 'certificate_serial', args.ref));
      if (taken) throw new CarapaceError('ERR_CONFLICT', `operator ${taken.name} already holds this name or identity`);
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('operators').values(row).execute();
        await audit.append(trx, {
          type: 'operators.operator.added',
          actor,
          object: { type: 'operator', id: row.name },
          action: 'add',
          decision: 'allow',
          details: { kind: row.kind, roles },
        });
      });
      return record(row);
    },
    /**
     * Binds a certificate to a named automation operator with one role: a new operator, or (a re-issued
     * certificate) the existing certificate operator of that name moved to the new serial.
     */
    async bindCertificate(
      actor: OperatorActor,
      args: { name: string; serial: string; role: string },
    ): Promise<OperatorRecord> {
      const existing = await find('name', args.name);
      if (!existing)
        return this.add(actor, { name: args.name, kind: 'certificate', ref: args.serial, roles: [args.role] });
      if (existing.kind !== 'certificate')
        throw new CarapaceError('ERR_CONFLICT', `operator ${args.name} is a person, not a certificate`);
      const roles = parseRoles([args.role]);
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('operators')
          .set({ certificate_serial: args.serial, roles: JSON.stringify(roles), disabled_at: null })
          .where('id', '=', existing.id)
          .execute();
        await audit.append(trx, {
          type: 'operators.operator.changed',
          actor,
          object: { type: 'operator', id: args.name },
          action: 'bind_certificate',
          decision: 'allow',
          details: { serial: args.serial, roles },
        });
      });
      return { ...existing, certificateSerial: args.serial, roles, disabled: false };
    },
    /** Every operator, by name. */
    async list(): Promise<OperatorRecord[]> {
      return (await db.selectFrom('operators').selectAll().orderBy('name').execute()).map(record);
    },
    /** Adds roles to a person (a certificate keeps the one it was issued with). */
    async grant(actor: OperatorActor, name: string, roles: readonly string[]): Promise<void> {
      const op = await find('name', name);
      if (!op) throw new CarapaceError('ERR_NOT_FOUND', `no operator named ${name}`);
      if (op.kind === 'certificate')
        throw new CarapaceError('ERR_CONFLICT', 'a certificate keeps its role: issue a new certificate instead');
      await change(actor, name, 'grant', parseRoles([...op.roles, ...roles]));
    },
    /** Removes roles from a person; removing the last one is refused (disable the operator instead). */
    async revoke(actor: OperatorActor, name: string, roles: readonly string[]): Promise<void> {
      const op = await find('name', name);
      if (!op) throw new CarapaceError('ERR_NOT_FOUND', `no operator named ${name}`);
      const left = op.roles.filter((r) => !roles.includes(r));
      if (left.length === 0) throw new CarapaceError('ERR_CONFLICT', 'an operator keeps one role: disable it');
      await change(actor, name, 'revoke', parseRoles(left));
    },
    /** Disables an operator: every session ends, and its certificate (if any) stops being accepted. */
    disable: (actor: OperatorActor, name: string) => change(actor, name, 'disable', null),
  };
}

/** The operator list. */
export type OperatorDirectory = ReturnType<typeof createOperatorDirectory>;
