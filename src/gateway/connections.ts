import type { TLSSocket } from 'node:tls';
import { normalizeSerial } from '../platform/index.js';
import { IdentityUri, type CredentialChange } from '../pki/index.js';

/**
 * Open gateway connections indexed by certificate serial and device id, so a revocation, a quarantine or
 * a supersession closes them at once instead of waiting for their next request.
 */
export class ConnectionRegistry {
  private bySerial = new Map<string, Set<TLSSocket>>();
  private byDevice = new Map<string, Set<TLSSocket>>();

  /** Registers a freshly handshaken socket; it unregisters itself on close. */
  track(socket: TLSSocket): void {
    // Runs in an event handler on every handshake, before any authentication: nothing here may throw.
    let serial: string;
    let deviceId: string | null;
    try {
      const cert = socket.getPeerX509Certificate();
      if (!cert) return;
      serial = normalizeSerial(cert.serialNumber);
      const uris = (cert.subjectAltName ?? '')
        .split(', ')
        .filter((s) => s.startsWith('URI:'))
        .map((s) => s.slice(4));
      deviceId = IdentityUri.parse(uris, 'device');
    } catch {
      // Unreadable: the request path refuses it, so there is nothing to index.
      return;
    }
    add(this.bySerial, serial, socket);
    if (deviceId) add(this.byDevice, deviceId, socket);
    socket.once('close', () => {
      remove(this.bySerial, serial, socket);
      if (deviceId) remove(this.byDevice, deviceId, socket);
    });
  }

  /** Closes the connections a credential change invalidates; returns how many were closed. */
  apply(change: CredentialChange): number {
    const victims = new Set<TLSSocket>();
    const collect = (map: Map<string, Set<TLSSocket>>, key: string) => map.get(key)?.forEach((s) => victims.add(s));
    switch (change.kind) {
      case 'certificates-revoked':
        change.serials.forEach((s) => collect(this.bySerial, s));
        change.deviceIds.forEach((d) => collect(this.byDevice, d));
        break;
      case 'certificates-superseded':
        change.serials.forEach((s) => collect(this.bySerial, s));
        break;
      case 'device-status':
        if (change.status !== 'active') collect(this.byDevice, change.deviceId);
        break;
      case 'overlap-started':
        break;
    }
    for (const s of victims) s.destroy();
    return victims.size;
  }

  /** Number of open connections, for metrics and tests. */
  size(): number {
    let n = 0;
    for (const set of this.bySerial.values()) n += set.size;
    return n;
  }
}

function add(map: Map<string, Set<TLSSocket>>, key: string, socket: TLSSocket): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(socket);
}

function remove(map: Map<string, Set<TLSSocket>>, key: string, socket: TLSSocket): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(socket);
  if (set.size === 0) map.delete(key);
}
