export { findOrCreateVehicle, findVehicleByVin, findVehicles, getVehicle, assertVin } from './store.js';
export { vehicleMigrations } from './migrations.js';
export type { VehicleRow, VehicleTables } from './tables.js';
export { registerVehicleRoutes } from './routes.js';
export { STATUS_V2_RENAMES } from './status-routes.js';
