/** Incident drills: staged attacks against a running deployment, measured end to end. */
export { DRILL_GOALS, DRILLS, type DrilledPlaybook, type DrillReport, formatDrill, runDrill } from './drill.js';
export { type DrillNode, type DrillTarget, parseNode } from './nodes.js';
export { type DrillIdentities, drillIdentities } from './scenario.js';
export { seedDrill } from './seed.js';
