/* global window, URLSearchParams, location, addEventListener, removeEventListener, document */
// The operators' console: one page per admin task, each over the admin plane's existing APIs.
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';
import { Chart } from './chart.js';
import './style.css';

const html = htm.bind(h);

/** Loads `path` on mount and whenever `key` changes; returns { data, error, reload }. */
function useApi(path, key = 0) {
  const [state, setState] = useState({ data: null, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    api(path).then(
      (data) => live && setState({ data, error: null }),
      (error) => live && setState({ data: null, error }),
    );
    return () => (live = false);
  }, [path, key, n]);
  return { ...state, reload: () => setN(n + 1) };
}

/** The first array in a response body: the list routes answer `{ <things>: [...] }`. */
const rowsOf = (data) => (Array.isArray(data) ? data : (Object.values(data ?? {}).find(Array.isArray) ?? []));
const cell = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

function Table({ rows, caption, columns, actions }) {
  if (!rows.length) return html`<p>No ${caption.toLowerCase()}.</p>`;
  const cols = columns ?? Object.keys(rows[0]).slice(0, 7);
  return html`<table>
    <caption>
      ${caption}
    </caption>
    <thead>
      <tr>
        ${cols.map((c) => html`<th scope="col">${c}</th>`)}${actions && html`<th scope="col">actions</th>`}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            ${cols.map((c) => html`<td>${cell(r[c])}</td>`)}${actions && html`<td>${actions(r)}</td>`}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const ErrorBox = ({ error }) => error && html`<p role="alert" class="error">${error.message}</p>`;

function Listing({ path, caption, columns, actions, refresh }) {
  const { data, error } = useApi(path, refresh);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p aria-busy="true">Loading ${caption.toLowerCase()}…</p>`;
  return html`<${Table} rows=${rowsOf(data)} caption=${caption} columns=${columns} actions=${actions} />`;
}

function Overview() {
  const gov = useApi('/admin/v1/governance');
  const findings = useApi('/admin/v1/findings');
  const bySeverity = {};
  for (const f of rowsOf(findings.data))
    if (f.status === 'open') bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
  return html`<section aria-labelledby="h-overview">
    <h2 id="h-overview">Overview</h2>
    <h3>Open findings by severity</h3>
    <${ErrorBox} error=${findings.error} />
    <${Chart} label="Open findings by severity" labels=${Object.keys(bySeverity)} values=${Object.values(bySeverity)} />
    <h3>Incidents</h3>
    <${Listing} path="/admin/v1/incidents?limit=100" caption="Incidents" />
    <h3>Governance metrics</h3>
    <${ErrorBox} error=${gov.error} />
    ${gov.data && html`<pre tabindex="0">${JSON.stringify(gov.data, null, 2)}</pre>`}
  </section>`;
}

/** A small form that sends one action with a reason; the server decides and its problem detail is shown. */
function ActionButton({ label, run, onDone }) {
  const [error, setError] = useState(null);
  const go = async () => {
    const reason = window.prompt(`Reason for "${label}"`);
    if (!reason) return;
    try {
      await run(reason);
      setError(null);
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return html`<button type="button" onClick=${go}>${label}</button><${ErrorBox} error=${error} />`;
}

function Findings() {
  const [n, setN] = useState(0);
  const resolve = (f, status) => (reason) =>
    api(`/admin/v1/findings/${f.id}/status`, { method: 'POST', body: { status, reason } });
  const actions = (f) =>
    f.status === 'open' &&
    html`<${ActionButton} label="Resolve" run=${resolve(f, 'resolved')} onDone=${() => setN(n + 1)} />
      <${ActionButton} label="Suppress" run=${resolve(f, 'suppressed')} onDone=${() => setN(n + 1)} />`;
  return html`<section aria-labelledby="h-findings">
    <h2 id="h-findings">Findings and incidents</h2>
    <${Listing}
      path="/admin/v1/findings"
      caption="Findings"
      refresh=${n}
      actions=${actions}
      columns=${['id', 'detection', 'severity', 'status', 'createdAt']}
    />
    <${Listing} path="/admin/v1/incidents?limit=100" caption="Incidents" refresh=${n} />
    <${Listing} path="/admin/v1/playbooks" caption="Playbooks" />
  </section>`;
}

function Devices() {
  const [id, setId] = useState('');
  const [device, setDevice] = useState(null);
  const [error, setError] = useState(null);
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
            />`,
        )}
      </div>`
    }
    <${Listing} path="/admin/v1/telemetry/quarantines" caption="Telemetry quarantines" />
  </section>`;
}

const PIVOTS = ['request', 'trace', 'jti', 'user', 'client', 'device', 'certificate', 'source', 'job', 'vehicle'];

function Investigation() {
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

function Audit() {
  const latest = useApi('/admin/v1/audit/checkpoints/latest');
  return html`<section aria-labelledby="h-audit">
    <h2 id="h-audit">Audit trail</h2>
    <h3>Last checkpoint</h3>
    <${ErrorBox} error=${latest.error} />
    ${latest.data && html`<pre tabindex="0">${JSON.stringify(latest.data, null, 2)}</pre>`}
    <${Listing} path="/admin/v1/audit-events" caption="Audit events" />
  </section>`;
}

function Inventory() {
  return html`<section aria-labelledby="h-inventory">
    <h2 id="h-inventory">API inventory</h2>
    <${Listing} path="/admin/v1/inventory/deprecated" caption="Callers of deprecated versions" />
    <${Listing} path="/admin/v1/inventory" caption="Routes" />
  </section>`;
}

const PAGES = {
  overview: Overview,
  findings: Findings,
  devices: Devices,
  investigation: Investigation,
  audit: Audit,
  inventory: Inventory,
};

/** Who is signed in, with sign-in, elevation and sign-out; the server still decides every action. */
function Operator() {
  const me = useApi('/admin/v1/operator/me');
  const [error, setError] = useState(null);
  if (me.error?.status === 401)
    return html`<p class="operator">Not signed in. <a href="/admin/v1/operator-sign-in">Sign in</a></p>`;
  if (me.error) return html`<${ErrorBox} error=${me.error} />`;
  if (!me.data) return null;
  const { name, kind, roles, elevation } = me.data;
  const act = (path, body) => api(path, { method: 'POST', body }).then(me.reload, setError);
  const elevate = () => {
    const reason = window.prompt('Reason for the elevation (audited)');
    if (reason) void act('/admin/v1/elevations', { reason, minutes: 15 });
  };
  const signOut = () => api('/admin/v1/operator-sign-out', { method: 'POST' }).then(() => location.reload(), setError);
  return html`<div class="operator" aria-label="Signed in">
    <span>${name} (${kind}): ${roles.join(', ')}</span>
    <span>${elevation ? ` elevated until ${elevation.until}` : ' not elevated'}</span>
    ${kind === 'person' && !elevation && html`<button type="button" onClick=${elevate}>Elevate</button>`}
    ${kind === 'person' && html`<button type="button" onClick=${signOut}>Sign out</button>`}
    <${ErrorBox} error=${error} />
  </div>`;
}

function App() {
  const [page, setPage] = useState(location.hash.slice(1) in PAGES ? location.hash.slice(1) : 'overview');
  useEffect(() => {
    const on = () => location.hash.slice(1) in PAGES && setPage(location.hash.slice(1));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const Page = PAGES[page];
  return html`<header>
      <h1>Carapace console</h1>
      <${Operator} />
    </header>
    <nav aria-label="Pages">
      <ul>
        ${Object.keys(PAGES).map((p) => html`<li><a href=${`#${p}`} aria-current=${p === page ? 'page' : undefined}>${p}</a></li>`)}
      </ul>
    </nav>
    <main><${Page} /></main>`;
}

render(html`<${App} />`, document.getElementById('app'));
