/** The probe module's public surface: other folders import only from here. */
export { runProbe, type ProbeOptions } from './run.js';
export {
  formatProbeReport,
  PROBE_CHECKS,
  type CheckReport,
  type Finding,
  type ProbeCheck,
  type ProbeReport,
} from './report.js';
export { ProbeUnavailable, type ProbeTarget } from './session.js';
