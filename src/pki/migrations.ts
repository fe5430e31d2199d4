import type { Kysely, Migration } from 'kysely';

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
};
