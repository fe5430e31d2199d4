/**
 * Named fault points for the fault-injection suite (test/faults): `CARAPACE_FAULT_POINTS=name:action,...` makes the
 * process die (`exit`: SIGKILL, as a kill -9) or stop forever (`hang`) when it reaches `name`, e.g. between two
 * commits. Read at each hit, so a test can arm one for a single request. Production mode refuses to start with any
 * fault point set (assertNoFaultPoints), so a stray environment variable cannot arm one in a deployment.
 */

const VARIABLE = 'CARAPACE_FAULT_POINTS';

/** The fault points the code has: a closed list, so a typo in a test fails loudly. */
export type FaultPointName =
  | 'commands.after-reservation'
  | 'commands.batch-after-reservation'
  /** A job is `delivered` and its envelope handed to the channel's socket. */
  | 'commands.after-delivery'
  /** A vehicle's verified acknowledgement is in, before its transition is committed. */
  | 'commands.before-ack-commit';

/** Acts on `name` when it is armed; returns at once otherwise. */
export async function faultPoint(name: FaultPointName): Promise<void> {
  const armed = process.env[VARIABLE];
  if (!armed) return;
  for (const entry of armed.split(',')) {
    const [point, action] = entry.trim().split(':');
    if (point !== name) continue;
    if (action === 'exit') process.kill(process.pid, 'SIGKILL');
    if (action === 'hang') await new Promise<never>(() => undefined);
  }
}

/** Throws when a fault point is armed in production mode. */
export function assertNoFaultPoints(mode: 'development' | 'production'): void {
  if (mode === 'production' && process.env[VARIABLE])
    throw new Error(`${VARIABLE} is set: fault points exist for tests and are refused in production mode`);
}
