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
