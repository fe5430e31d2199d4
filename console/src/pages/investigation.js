/* global URLSearchParams */
// The console page "investigation".
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { html, ErrorBox } from '../ui.js';

const PIVOTS = ['request', 'trace', 'jti', 'user', 'client', 'device', 'certificate', 'source', 'job', 'vehicle'];

/** The investigation page. */
export function Investigation() {
  const [pivot, setPivot] = useState('vehicle');
  const [value, setValue] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const go = async (e) => {
    e.preventDefault();
    const q = new URLSearchParams({ pivot, value });
    try {
      setResult(await api(`/admin/v1/investigations?${q}`));
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  return html`<section aria-labelledby="h-inv">
    <h2 id="h-inv">Investigation</h2>
    <form onSubmit=${go}>
      <label for="pivot">Start from</label>
      <select id="pivot" value=${pivot} onChange=${(e) => setPivot(e.currentTarget.value)}>
        ${PIVOTS.map((p) => html`<option value=${p}>${p}</option>`)}
      </select>
      <label for="pivot-value">Value</label>
      <input id="pivot-value" value=${value} onInput=${(e) => setValue(e.currentTarget.value.trim())} required />
      <button type="submit">Investigate</button>
    </form>
    <${ErrorBox} error=${error} />
    ${result && html`<pre tabindex="0" aria-label="Investigation graph">${JSON.stringify(result, null, 2)}</pre>`}
  </section>`;
}
