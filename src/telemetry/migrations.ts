import { makeAppendOnly } from '../storage/index.js';
import { type Kysely, type Migration, sql } from 'kysely';
import { dialectOf } from '../storage/index.js';

/** Telemetry schema: the append-only message store, per-device window state, vehicle state, quarantines. */
export const telemetryMigrations: Record<string, Migration> = {
  '0010_telemetry': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      const big = pg ? 'bigint' : 'integer';
      const bytes = pg ? 'bytea' : 'blob';
      await db.schema
        .createTable('telemetry_messages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('batch_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('vehicle_id', 'text', (c) => c.notNull())
        .addColumn('seq', big)
        .addColumn('boot_id', 'text')
        .addColumn('message_ts', 'text')
        .addColumn('kind', 'text')
        .addColumn('sw_version', 'text')
        .addColumn('config_id', 'text')
        .addColumn('cert_serial', 'text', (c) => c.notNull())
        .addColumn('cert_thumbprint', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addColumn('verdict', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('flags', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('backfill', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('signed_bytes', bytes, (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute();
      // The last line of defence against a replay: one accepted message per device and sequence number,
      // whatever the window says (two processes racing on one device both reach this index).
      await db.schema
        .createIndex('telemetry_messages_accepted_seq')
        .on('telemetry_messages')
        .columns(['device_id', 'seq'])
        .unique()
        .where(sql.ref('verdict'), '=', 'accepted')
        .execute();
      await db.schema
        .createIndex('telemetry_messages_device_time')
        .on('telemetry_messages')
        .columns(['device_id', 'received_at'])
        .execute();
      await db.schema
        .createIndex('telemetry_messages_vehicle_ts')
        .on('telemetry_messages')
        .columns(['vehicle_id', 'message_ts'])
        .execute();
      await makeAppendOnly(db, 'telemetry_messages', pg);

      await db.schema
        .createTable('telemetry_devices')
        .addColumn('device_id', 'text', (c) => c.primaryKey())
        .addColumn('window_top', big, (c) => c.notNull().defaultTo(0))
        .addColumn('window_bitmap', 'text')
        .addColumn('strikes', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('strikes_since', 'text')
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      const real = 'double precision';
      await db.schema
        .createTable('vehicle_state')
        .addColumn('vehicle_id', 'text', (c) => c.primaryKey())
        .addColumn('speed_kmh', real)
        .addColumn('speed_at', 'text')
        .addColumn('gear', 'text')
        .addColumn('gear_at', 'text')
        .addColumn('locked', 'integer')
        .addColumn('open_doors', 'text')
        .addColumn('doors_at', 'text')
        .addColumn('latitude', real)
        .addColumn('longitude', real)
        .addColumn('position_at', 'text')
        .addColumn('charging', 'integer')
        .addColumn('plugged', 'integer')
        .addColumn('soc_percent', real)
        .addColumn('battery_at', 'text')
        .addColumn('odometer_km', real)
        .addColumn('odometer_at', 'text')
        .addColumn('diagnostic_codes', 'text')
        .addColumn('diagnostics_at', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('telemetry_quarantines')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('vehicle_id', 'text', (c) => c.notNull())
        .addColumn('quarantined_at', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('strikes', 'integer', (c) => c.notNull())
        .addColumn('released_at', 'text')
        .addColumn('released_by', 'text')
        .addColumn('release_reason', 'text')
        .execute();
      await db.schema
        .createIndex('telemetry_quarantines_device')
        .on('telemetry_quarantines')
        .columns(['device_id', 'quarantined_at'])
        .execute();
    },
  },
};
