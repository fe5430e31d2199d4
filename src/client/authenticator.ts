import { Secret, TOTP } from 'otpauth';

/** A source of one-time codes that can give the next one when the server refused the last (a code works once). */
export interface TotpSource {
  /** The code to send: this period's, or, when this period's code was already given out, the next period's. */
  code(): Promise<string>;
}

/** The clock and the wait an authenticator uses; tests pass the server's injected clock. */
export interface AuthenticatorClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const PERIOD_MS = 30_000;
const realClock: AuthenticatorClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * An authenticator app for a known TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s), for demos, scripts and tests.
 * A code is accepted once (the server remembers the last time step used), so two sign-ins within one period would
 * fail; on a retry this source waits for the next period, as a person would wait for the app's next code.
 */
export function totpAuthenticator(secretBase32: string, clock: AuthenticatorClock = realClock): TotpSource {
  const totp = new TOTP({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: 30 });
  let lastStep = -1;
  const code = async () => {
    let step = Math.floor(clock.now() / PERIOD_MS);
    // This period's code was given out already, so the server will refuse it: wait for the next one.
    if (step <= lastStep) {
      await clock.sleep((lastStep + 1) * PERIOD_MS - clock.now() + 50);
      step = Math.floor(clock.now() / PERIOD_MS);
    }
    lastStep = step;
    return totp.generate({ timestamp: step * PERIOD_MS });
  };
  return { code };
}
