import { type Kysely, type Migration, sql } from 'kysely';
import { dialectOf } from '../storage/index.js';

/** Commands schema: jobs, their transitions, idempotency keys, per-vehicle counters, signing keys, job locks. */
export const commandMigrations: Record<string, Migration> = {
  '0011_commands': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      const big = pg ? 'bigint' : 'integer';
      await db.schema
        .createTable('command_jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('vehicle_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text')
        .addColumn('tenant_id', 'text')
        .addColumn('batch_id', 'text')
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('params_hash', 'text', (c) => c.notNull())
        .addColumn('requester_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('retry', 'text')
        .addColumn('decision_record', 'text', (c) => c.notNull())
        .addColumn('decision_hash', 'text', (c) => c.notNull())
        .addColumn('policy_version', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('counter', big)
        .addColumn('kid', 'text')
        .addColumn('envelope_signed', 'text')
        .addColumn('envelope_sig', 'text')
        .addColumn('ack_signed', 'text')
        .addColumn('ack_sig', 'text')
        .execute();
      await db.schema
        .createIndex('command_jobs_vehicle_state')
        .on('command_jobs')
        .columns(['vehicle_id', 'state'])
        .execute();
      await db.schema
        .createIndex('command_jobs_state_expiry')
        .on('command_jobs')
        .columns(['state', 'expires_at'])
        .execute();
      await db.schema
        .createIndex('command_jobs_tenant_state')
        .on('command_jobs')
        .columns(['tenant_id', 'state'])
        .execute();
      await db.schema
        .createIndex('command_jobs_vehicle_counter')
        .on('command_jobs')
        .columns(['vehicle_id', 'counter'])
        .unique()
        .where(sql.ref('counter'), 'is not', null)
        .execute();
      await db.schema
        .createTable('command_transitions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('step', 'integer', (c) => c.notNull())
        .addColumn('from_state', 'text')
        .addColumn('to_state', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('command_transitions_job')
        .on('command_transitions')
        .columns(['job_id', 'step'])
        .unique()
        .execute();
      await db.schema
        .createTable('command_idempotency')
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('result_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('command_idempotency_pk', ['principal', 'key_hash'])
        .execute();
      await db.schema
        .createTable('command_counters')
        .addColumn('vehicle_id', 'text', (c) => c.primaryKey())
        .addColumn('counter', big, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('command_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('activated_at', 'text')
        .addColumn('retired_at', 'text')
        .addColumn('certificate', 'text')
        .execute();
    },
  },
  '0012_command_locks': {
    async up(db: Kysely<unknown>) {
      // The rows job creation locks per vehicle and per tenant (src/commands/job-locks.ts).
      await db.schema
        .createTable('command_locks')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .execute();
    },
  },
  '0013_command_key_receipts': {
    async up(db: Kysely<unknown>) {
      const big = dialectOf(db) === 'postgres' ? 'bigint' : 'integer';
      // Which command keys each device confirmed it trusts, from its signed key-set receipt.
      await db.schema
        .createTable('command_key_receipts')
        .addColumn('device_id', 'text', (c) => c.primaryKey())
        .addColumn('vehicle_id', 'text', (c) => c.notNull())
        .addColumn('kids', 'text', (c) => c.notNull())
        .addColumn('issued_at', big, (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
