/** Time is a dependency: expiry, skew and windows are tested by moving a clock, never by sleeping. */
export interface Clock {
  /** Current time. */
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock that tests can set and advance. */
export class FixedClock implements Clock {
  private current: number;

  constructor(start: Date | number = Date.now()) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.current += ms;
  }

  /** Sets the clock to an absolute time. */
  set(to: Date): void {
    this.current = to.getTime();
  }
}

/** ISO 8601 text as stored in the database: fixed width, so it sorts and compares as time. */
export function isoTime(d: Date): string {
  return d.toISOString();
}
