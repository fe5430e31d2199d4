export { SimulatedVehicle, type SimulatedUnit } from './simulated-vehicle.js';
export { runFleet, unitsIn } from './fleet.js';
