import { type Platform, seedParsedScenario } from '../server/index.js';
import { findVehicleByVin } from '../vehicles/index.js';
import type { DrillIdentities } from './scenario.js';

/** Seeds a drill's generated scenario into the deployment and returns its vehicles' ids, in VIN order. */
export async function seedDrill(p: Platform, ids: DrillIdentities): Promise<string[]> {
  await seedParsedScenario(p, ids.scenario);
  const out: string[] = [];
  for (const vin of ids.vins) out.push((await findVehicleByVin(p.storage.db, vin))!.id);
  return out;
}
