import type { AuditTables } from '../audit/tables.js';
import type { CommandTables } from '../commands/tables.js';
import type { AuthTables } from '../auth/tables.js';
import type { IdentityTables } from '../identity/tables.js';
import type { PkiTables } from '../pki/tables.js';
import type { RelationshipTables } from '../relationships/tables.js';
import type { TelemetryTables } from '../telemetry/tables.js';
import type { VehicleTables } from '../vehicles/tables.js';

/** Every table, composed from the modules that own them. */
export interface Database
  extends
    AuditTables,
    VehicleTables,
    PkiTables,
    IdentityTables,
    AuthTables,
    RelationshipTables,
    TelemetryTables,
    CommandTables {}
