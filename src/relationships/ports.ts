import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';

/**
 * How relationships find a vehicle by VIN: the vehicles module's registry, passed in at construction (that
 * module's API is built on relationships, so relationships never import it).
 */
export interface VehicleLookup {
  findByVin(db: Kysely<Database>, vin: string): Promise<{ id: string } | undefined>;
}
