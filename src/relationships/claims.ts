import type { Kysely } from 'kysely';
import type { RelationshipAuditLog } from './audit-events.js';
import type { FailureCounter } from '../auth/index.js';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { VehicleLookup } from './ports.js';
import type { Actor } from './access.js';
import { codeHash, newTypedCode, normalizeTypedCode } from './codes.js';
import type { RelationshipStore } from './store.js';

/** Claim attempt limits: failures per vehicle (by VIN, known or not) and per account within a window. */
export interface ClaimLimits {
  perVehicle: number;
  perAccount: number;
  windowSeconds: number;
  /** How long a code shown in the vehicle stays valid. */
  codeTtlSeconds: number;
}

/**
 * Claiming a vehicle with the code its head unit shows. The code proves presence inside the vehicle; it is
 * high-entropy, single-use, short-lived and stored only as a hash. Every failure (no such VIN, a vehicle
 * already owned or in a fleet, a wrong, used or expired code) is the same refusal and counts against both
 * the vehicle and the account; past the limit, attempts are refused without being checked.
 */
export function createClaims(deps: {
  db: Kysely<Database>;
  audit: RelationshipAuditLog;
  clock: Clock;
  relationships: RelationshipStore;
  counter: FailureCounter;
  limits: ClaimLimits;
  vehicles: VehicleLookup;
}) {
  const { db, audit, clock, counter, limits } = deps;
  // A known vehicle is counted by its id, an unknown VIN by the VIN: either way guesses against one car add up.
  const keys = (vehicleId: string | undefined, vin: string, userId: string) =>
    [vehicleId ? `claim:vehicle:${vehicleId}` : `claim:vin:${vin}`, `claim:user:${userId}`] as const;
  return {
    /** Issues a fresh code for the vehicle's screen; earlier unused codes stop working. */
    async issueCode(vehicleId: string, deviceId: string): Promise<{ code: string; expiresAt: string }> {
      const now = clock.now();
      const code = newTypedCode();
      const expiresAt = new Date(now.getTime() + limits.codeTtlSeconds * 1000).toISOString();
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('claim_codes')
          .set({ expires_at: now.toISOString() })
          .where('vehicle_id', '=', vehicleId)
          .where('used_at', 'is', null)
          .where('expires_at', '>', now.toISOString())
          .execute();
        await trx
          .insertInto('claim_codes')
          .values({
            id: newId(),
            vehicle_id: vehicleId,
            code_hash: codeHash(normalizeTypedCode(code)),
            created_at: now.toISOString(),
            expires_at: expiresAt,
            used_at: null,
            used_by: null,
          })
          .execute();
        await audit.append(trx, {
          type: 'relationships.claim_code.issued',
          actor: { type: 'device', id: deviceId },
          object: { type: 'vehicle', id: vehicleId },
          action: 'vehicle:issue_claim_code',
          decision: 'info',
          details: { expiresAt },
        });
      });
      // A new code comes from someone inside the vehicle: guesses by strangers no longer lock the buyer out.
      await counter.clear(keys(vehicleId, '', '')[0]);
      return { code, expiresAt };
    },

    /** Claims the vehicle with this VIN for the actor, or refuses with one answer for every reason. */
    async claim(
      actor: Actor,
      vinInput: string,
      codeInput: string,
    ): Promise<{ vehicleId: string; ownershipId: string }> {
      const vin = vinInput.trim().toUpperCase().slice(0, 17);
      const now = clock.now();
      const known = await deps.vehicles.findByVin(db, vin);
      const [vehicleKey, accountKey] = keys(known?.id, vin, actor.userId);
      // Each attempt takes its place in both failure windows before anything is checked, atomically (in memory and
      // in Redis), so parallel guesses cannot all pass a count-then-act gap; a successful claim gives its places back.
      const t = now.getTime();
      const vehicleTicket = await counter.admit(vehicleKey, limits.perVehicle, limits.windowSeconds, t);
      const accountTicket =
        vehicleTicket === null ? null : await counter.admit(accountKey, limits.perAccount, limits.windowSeconds, t);
      if (vehicleTicket === null || accountTicket === null) {
        if (vehicleTicket !== null) await counter.withdraw(vehicleKey, vehicleTicket);
        await audit.append(db, {
          type: 'relationships.claim.locked',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          object: { type: 'vin', id: vin },
          action: 'vehicle:claim',
          decision: 'deny',
          reason: vehicleTicket === null ? 'vehicle_locked' : 'account_locked',
          context: actor.context ?? null,
          details: { vin },
        });
        throw new CarapaceError(
          'ERR_CLAIM_LOCKED',
          'too many failed claim attempts; ask the vehicle for a new code later',
          { retryAfter: limits.windowSeconds },
        );
      }
      const at = now.toISOString();
      const hash = codeHash(normalizeTypedCode(codeInput));
      // The same three reads happen whatever fails, so timing does not tell a VIN that exists from one that does not.
      const [vehicle, code] = await Promise.all([
        deps.vehicles.findByVin(db, vin),
        db.selectFrom('claim_codes').selectAll().where('code_hash', '=', hash).executeTakeFirst(),
      ]);
      const holders = await db
        .selectFrom('relationships')
        .select(['id'])
        .where('vehicle_id', '=', vehicle?.id ?? '')
        .where('kind', 'in', ['ownership', 'fleet_vehicle'])
        .where('ended_at', 'is', null)
        .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', at)]))
        .execute();
      const ok =
        vehicle &&
        code &&
        code.vehicle_id === vehicle.id &&
        code.used_at === null &&
        code.expires_at > at &&
        holders.length === 0;
      // A refusal keeps the places taken above: they are its failure events.
      const refuse = async (reason: string) => {
        await audit.append(db, {
          type: 'relationships.claim.refused',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          object: { type: 'vin', id: vin.replace(/[^A-Z0-9]/g, '') },
          action: 'vehicle:claim',
          decision: 'deny',
          reason,
          context: actor.context ?? null,
          // The VIN named, for the enumeration detection (consecutive serials across claims and service requests).
          details: { vin: vin.replace(/[^A-Z0-9]/g, '') },
        });
        return new CarapaceError('ERR_CLAIM_REFUSED', 'this vehicle cannot be claimed with that code');
      };
      if (!ok || !vehicle || !code)
        throw await refuse(!vehicle ? 'no_such_vin' : holders.length > 0 ? 'already_held' : 'bad_code');
      try {
        const claimed = await db.transaction().execute(async (trx) => {
          const used = await trx
            .updateTable('claim_codes')
            .set({ used_at: at, used_by: actor.userId })
            .where('id', '=', code.id)
            .where('used_at', 'is', null)
            .executeTakeFirst();
          const still = await trx
            .selectFrom('relationships')
            .select(['id'])
            .where('vehicle_id', '=', vehicle.id)
            .where('kind', 'in', ['ownership', 'fleet_vehicle'])
            .where('ended_at', 'is', null)
            .execute();
          if (Number(used.numUpdatedRows) !== 1 || still.length > 0)
            throw new CarapaceError('ERR_CLAIM_REFUSED', 'this vehicle cannot be claimed with that code');
          const rel = await deps.relationships.grant(
            { type: 'user', id: actor.userId },
            { kind: 'ownership', userId: actor.userId, vehicleId: vehicle.id, attributes: { via: 'claim' } },
            trx,
          );
          await audit.append(trx, {
            type: 'relationships.vehicle.claimed',
            actor: { type: 'user', id: actor.userId },
            applicationId: actor.clientId,
            object: { type: 'vehicle', id: vehicle.id },
            action: 'vehicle:claim',
            decision: 'allow',
            context: actor.context ?? null,
            details: { vin },
          });
          return { vehicleId: vehicle.id, ownershipId: rel.id };
        });
        await Promise.all([counter.withdraw(vehicleKey, vehicleTicket), counter.withdraw(accountKey, accountTicket)]);
        return claimed;
      } catch (err) {
        if (err instanceof CarapaceError && err.code === 'ERR_CLAIM_REFUSED') throw await refuse('race_lost');
        throw err;
      }
    },
  };
}

/** Vehicle claiming. */
export type Claims = ReturnType<typeof createClaims>;
