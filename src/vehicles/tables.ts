/** A registered vehicle. The id is the key; the VIN is data. */
export interface VehicleRow {
  id: string;
  vin: string | null;
  created_at: string;
}

/** Tables owned by the vehicles module. */
export interface VehicleTables {
  vehicles: VehicleRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends VehicleTables {}
}
