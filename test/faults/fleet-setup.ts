import { X509Certificate } from 'node:crypto';
import { certificateFacts } from '../../src/pki/index.js';
import type { TestCarapace } from '../../src/testing/index.js';
import { createCsr, generateDeviceKey, type StoredCredentials } from '../../src/vehicle-sdk/index.js';

/** Runs `work` over `items` with at most `width` at a time. */
export async function inParallel<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await work(items[i] as T);
    }),
  );
  return out;
}

/**
 * The cheap setup path of a large test fleet: each unit is provisioned (factory certificate, device and vehicle rows)
 * and enrolled (its own key, its own CSR, an operational certificate) through the pki module's exported API, in the
 * server's process, instead of one HTTPS enrollment per unit. What a vehicle does afterwards (token requests, the
 * command channel) still goes over real mTLS with that unit's own certificate.
 */
export async function enrolledFleet(cp: TestCarapace, serials: string[], width = 4): Promise<StoredCredentials[]> {
  const keys = await cp.platform.commands.keys.published();
  return inParallel(serials, width, async (serial) => {
    const unit = await cp.factoryUnit(serial);
    const facts = certificateFacts(new X509Certificate(unit.cert));
    const key = await generateDeviceKey('Ed25519');
    const bundle = await cp.platform.pki.enroll({
      presented: { serial: facts.serial, tcuSerial: serial, spkiSha256: facts.spkiSha256 },
      csr: await createCsr(key),
      requestedDeviceId: null,
      context: null,
    });
    return { privateKeyPem: key.privateKeyPem, issued: { ...bundle, commandVerificationKeys: { keys } } };
  });
}
