import { type Kysely, type Migration, sql } from 'kysely';
import { dialectOf } from '../storage/index.js';

/** PKI schema: CAs, issued certificates and devices. */
export const pkiMigrations: Record<string, Migration> = {
  '0003_pki': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('certificate_authorities')
        .addColumn('role', 'text', (c) => c.primaryKey())
        .addColumn('cert_pem', 'text', (c) => c.notNull())
        .addColumn('key_ref', 'text')
        .addColumn('imported', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('vehicle_id', 'text', (c) => c.notNull().references('vehicles.id'))
        .addColumn('factory_serial', 'text', (c) => c.notNull().unique())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('enrolled_at', 'text')
        .addColumn('replaces', 'text')
        .addColumn('replaced_by', 'text')
        .execute();
      await db.schema.createIndex('devices_vehicle').on('devices').column('vehicle_id').execute();
      await db.schema
        .createTable('certificates')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.references('devices.id'))
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('thumbprint', 'text', (c) => c.notNull().unique())
        .addColumn('spki_sha256', 'text', (c) => c.notNull())
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'text', (c) => c.notNull())
        .addColumn('predecessor_serial', 'text')
        .addColumn('overlap_until', 'text')
        .addColumn('first_used_at', 'text')
        .addColumn('superseded_at', 'text')
        .addColumn('revoked_at', 'text')
        .addColumn('revocation_reason', 'text')
        .addColumn('pem', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('certificates_device').on('certificates').columns(['device_id', 'status']).execute();
      // One key, one certificate: a renewal or enrollment must bring a new key, and the database enforces
      // it even for two concurrent requests with the same key.
      await db.schema.createIndex('certificates_spki').on('certificates').column('spki_sha256').unique().execute();
      await db.schema.createIndex('certificates_status').on('certificates').columns(['status', 'not_after']).execute();
    },
  },
  '0031_credential_changes': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      await db.schema
        .createTable('credential_changes')
        .addColumn('seq', pg ? 'bigint' : 'integer', (c) =>
          pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
        )
        .addColumn('serial', 'text')
        .addColumn('device_id', 'text')
        .execute();
      // Triggers, not application code, so no path that changes a status (revocation, rotation, quarantine,
      // replacement, a future one) can forget to log it, and the log row commits or rolls back with the change.
      if (pg) {
        await sql`CREATE FUNCTION certificates_change_log() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN INSERT INTO credential_changes (serial) VALUES (NEW.serial); RETURN NULL; END $$`.execute(db);
        await sql`CREATE TRIGGER certificates_change_log AFTER UPDATE OF status, overlap_until ON certificates
          FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.overlap_until IS DISTINCT FROM
          NEW.overlap_until) EXECUTE FUNCTION certificates_change_log()`.execute(db);
        await sql`CREATE FUNCTION devices_change_log() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN INSERT INTO credential_changes (device_id) VALUES (NEW.id); RETURN NULL; END $$`.execute(db);
        await sql`CREATE TRIGGER devices_change_log AFTER UPDATE OF status ON devices
          FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION devices_change_log()`.execute(db);
      } else {
        await sql`CREATE TRIGGER certificates_change_log AFTER UPDATE OF status, overlap_until ON certificates
          WHEN OLD.status IS NOT NEW.status OR OLD.overlap_until IS NOT NEW.overlap_until
          BEGIN INSERT INTO credential_changes (serial) VALUES (NEW.serial); END`.execute(db);
        await sql`CREATE TRIGGER devices_change_log AFTER UPDATE OF status ON devices
          WHEN OLD.status IS NOT NEW.status
          BEGIN INSERT INTO credential_changes (device_id) VALUES (NEW.id); END`.execute(db);
      }
    },
  },
};
