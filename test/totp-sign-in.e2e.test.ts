import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient, CarapaceClientError, totpAuthenticator } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace } from '../src/testing/index.js';

const ALICE = { email: 'alice@example.com', password: 'demo-alice-password', totp: 'JBSWY3DPEHPK3PXPALICE234' };
const SCOPES = ['openid', 'vehicle:read_status'];

/**
 * A one-time code works once, so a second sign-in of the same person within 30 s (a script run twice, the matrix and
 * then a script) used to fail. The authenticator waits for the next code instead. The server's clock is injected and
 * the authenticator "waits" by advancing it, so the test never sleeps.
 */
describe('sign-in with a one-time code that was just used', () => {
  let cp: TestCarapace;
  // Mid-period, so the first code has time left and a wait is needed to reach the next one.
  const clock = new FixedClock(Math.floor(Date.now() / 30_000) * 30_000 + 5_000);
  const client = () =>
    CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });

  beforeAll(async () => {
    cp = await startTestCarapace({ database: 'sqlite', overrides: { seedDemo: true }, clock });
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('refuses the used code, and the authenticator signs in with the next one after waiting for it', async () => {
    await (await client()).login({ ...ALICE, scopes: SCOPES, totp: currentTotp(ALICE.totp, clock.now()) });

    // The same code again (another process signing Alice in within the period): refused.
    const reused = await (
      await client()
    )
      .login({ ...ALICE, scopes: SCOPES, totp: currentTotp(ALICE.totp, clock.now()) })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(reused).toBeInstanceOf(CarapaceClientError);
    expect((reused as CarapaceClientError).status).toBe(401);

    // The authenticator first offers this period's code (refused: used), then waits for the next period.
    const waited: number[] = [];
    const authenticator = totpAuthenticator(ALICE.totp, {
      now: () => clock.now().getTime(),
      sleep: async (ms) => {
        waited.push(ms);
        clock.advance(ms);
      },
    });
    const before = clock.now().getTime();
    const tokens = await (await client()).login({ ...ALICE, scopes: SCOPES, totp: authenticator });
    expect(tokens.accessToken).toBeTruthy();
    expect(waited).toHaveLength(1);
    expect(Math.floor(clock.now().getTime() / 30_000)).toBe(Math.floor(before / 30_000) + 1);
  });

  it('still fails a wrong password after exactly one retry (the retry is only for the code)', async () => {
    const failed = async () => (await cp.platform.audit.list({ type: 'auth.login.failed', limit: 50 })).length;
    const before = await failed();
    const authenticator = totpAuthenticator(ALICE.totp, {
      now: () => clock.now().getTime(),
      sleep: async (ms) => clock.advance(ms),
    });
    const wrong = await (
      await client()
    )
      .login({ ...ALICE, password: 'not-her-password', scopes: SCOPES, totp: authenticator })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(wrong).toBeInstanceOf(CarapaceClientError);
    expect((wrong as CarapaceClientError).status).toBe(401);
    expect((await failed()) - before).toBe(2);
  });
});
