/* global window */
// The console page "devices": find units by device id, TCU serial, certificate serial or VIN; a unit's state, its
// history (certificates, lifecycle changes) and its lifecycle actions, each offered only when the role has it.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { html, ErrorBox, Listing, ActionButton, NeedHint, Table, useApi, useNeed } from '../ui.js';

/** A unit's certificates and lifecycle changes, oldest change first. */
function History({ id, refresh }) {
  const history = useApi(`/admin/v1/devices/${encodeURIComponent(id)}/history`, refresh);
  if (history.error) return html`<${ErrorBox} error=${history.error} />`;
  if (!history.data) return html`<p aria-busy="true">Loading the history…</p>`;
  return html`<${Table}
      caption="Certificates of the unit"
      rows=${history.data.certificates}
      columns=${['serial', 'profile', 'status', 'issuedAt', 'notAfter', 'revokedAt', 'revocationReason']}
    />
    <${Table}
      caption="Lifecycle changes"
      rows=${history.data.changes}
      columns=${['at', 'type', 'from', 'to', 'actor', 'reason', 'decision']}
    />`;
}

/** Replace a unit: a new TCU serial and a reason; the server decommissions the old unit and provisions the new. */
function Replace({ device, onDone }) {
  const need = useNeed()('pki:replace_device');
  const [serial, setSerial] = useState('');
  const [error, setError] = useState(null);
  if (need === null || device.status === 'decommissioned' || device.replacedBy) return null;
  const go = async (e) => {
    e.preventDefault();
    const reason = window.prompt(`Reason for replacing ${device.tcuSerial}`);
    if (!reason) return;
    try {
      const out = await api(`/admin/v1/devices/${device.id}/replacement`, {
        method: 'POST',
        body: { tcuSerial: serial, reason },
      });
      setError(null);
      onDone(out.replacement.id);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form onSubmit=${go} aria-label="Replace the unit">
    <label for="replacement-serial">New TCU serial</label>
    <input
      id="replacement-serial"
      value=${serial}
      onInput=${(e) => setSerial(e.currentTarget.value.trim())}
      pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}"
      required
    />
    <button type="submit">Replace<${NeedHint} need=${need} /></button>
    <${ErrorBox} error=${error} />
  </form>`;
}

/** The devices page. */
export function Devices() {
  const [q, setQ] = useState('');
  const [found, setFound] = useState(null);
  const [device, setDevice] = useState(null);
  const [error, setError] = useState(null);
  const [n, setN] = useState(0);
  const need = useNeed();
  const open = async (id) => {
    try {
      setDevice(await api(`/admin/v1/devices/${encodeURIComponent(id)}`));
      setN((k) => k + 1);
      setError(null);
    } catch (err) {
      setDevice(null);
      setError(err);
    }
  };
  const search = async (e) => {
    e?.preventDefault();
    try {
      const { devices } = await api(`/admin/v1/devices?q=${encodeURIComponent(q)}`);
      setFound(devices);
      setError(null);
      if (devices.length === 1) await open(devices[0].id);
      else setDevice(null);
    } catch (err) {
      setFound(null);
      setDevice(null);
      setError(err);
    }
  };
  const setStatus = (status) => (reason) =>
    api(`/admin/v1/devices/${encodeURIComponent(device.id)}/status`, { method: 'POST', body: { status, reason } });
  const openButton = (d) =>
    html`<button type="button" onClick=${() => open(d.id)} aria-label=${`Open ${d.tcuSerial} (${d.status})`}>
      Open
    </button>`;
  return html`<section aria-labelledby="h-devices">
    <h2 id="h-devices">Devices and certificates</h2>
    <form onSubmit=${search} role="search">
      <label for="device-q">Device id, TCU serial, certificate serial or VIN</label>
      <input id="device-q" value=${q} onInput=${(e) => setQ(e.currentTarget.value.trim())} required />
      <button type="submit">Look up</button>
    </form>
    <${ErrorBox} error=${error} />
    ${
      found &&
      html`<${Table}
        caption="Units found"
        rows=${found}
        columns=${['tcuSerial', 'vin', 'status', 'id', 'replacedBy', 'createdAt']}
        actions=${openButton}
      />`
    }
    ${
      device &&
      html`<div>
        <pre tabindex="0" aria-label="Device">${JSON.stringify(device, null, 2)}</pre>
        ${['revoked', 'quarantined', 'active'].map(
          (s) =>
            html`<${ActionButton}
              label=${s === 'revoked' ? 'Revoke' : s === 'active' ? 'Release' : 'Quarantine'}
              run=${setStatus(s)}
              onDone=${() => open(device.id)}
              need=${need('pki:transition_device', s)}
            />`,
        )}
        <${Replace} key=${device.id} device=${device} onDone=${open} />
        <${History} id=${device.id} refresh=${n} />
      </div>`
    }
    <${Listing} path="/admin/v1/telemetry/quarantines" caption="Telemetry quarantines" />
  </section>`;
}
