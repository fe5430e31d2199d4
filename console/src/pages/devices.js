// The console page "devices".
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { html, ErrorBox, Listing, ActionButton, useNeed } from '../ui.js';

/** The devices page. */
export function Devices() {
  const [id, setId] = useState('');
  const [device, setDevice] = useState(null);
  const [error, setError] = useState(null);
  const need = useNeed();
  const load = async (e) => {
    e?.preventDefault();
    try {
      setDevice(await api(`/admin/v1/devices/${encodeURIComponent(id)}`));
      setError(null);
    } catch (err) {
      setDevice(null);
      setError(err);
    }
  };
  const setStatus = (status) => (reason) =>
    api(`/admin/v1/devices/${encodeURIComponent(id)}/status`, { method: 'POST', body: { status, reason } });
  return html`<section aria-labelledby="h-devices">
    <h2 id="h-devices">Devices and certificates</h2>
    <form onSubmit=${load}>
      <label for="device-id">Device id</label>
      <input id="device-id" value=${id} onInput=${(e) => setId(e.currentTarget.value.trim())} required />
      <button type="submit">Look up</button>
    </form>
    <${ErrorBox} error=${error} />
    ${
      device &&
      html`<div>
        <pre tabindex="0" aria-label="Device">${JSON.stringify(device, null, 2)}</pre>
        ${['revoked', 'quarantined', 'active'].map(
          (s) =>
            html`<${ActionButton}
              label=${s === 'revoked' ? 'Revoke' : s === 'active' ? 'Release' : 'Quarantine'}
              run=${setStatus(s)}
              onDone=${load}
              need=${need('pki:transition_device', s)}
            />`,
        )}
      </div>`
    }
    <${Listing} path="/admin/v1/telemetry/quarantines" caption="Telemetry quarantines" />
  </section>`;
}
