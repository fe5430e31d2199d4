/* global location, addEventListener, removeEventListener, document, window */
// The operators' console: one page per admin task (console/src/pages/), each over the admin plane's existing APIs.
import { render } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { html, useApi, ErrorBox, OperatorContext } from './ui.js';
import { Overview } from './pages/overview.js';
import { Findings } from './pages/findings.js';
import { Devices } from './pages/devices.js';
import { Fleet } from './pages/fleet.js';
import { Investigation } from './pages/investigation.js';
import { Audit } from './pages/audit.js';
import { Inventory } from './pages/inventory.js';
import { Matrix } from './pages/matrix.js';
import './style.css';

const PAGES = {
  overview: Overview,
  findings: Findings,
  devices: Devices,
  fleet: Fleet,
  investigation: Investigation,
  audit: Audit,
  inventory: Inventory,
  matrix: Matrix,
};

/** Who is signed in, with sign-in, elevation and sign-out; the server still decides every action. */
function Operator() {
  const { state: me } = useContext(OperatorContext);
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
  const me = useApi('/admin/v1/operator/me');
  const Page = PAGES[page];
  return html`<${OperatorContext.Provider} value=${{ me: me.data, reload: me.reload, state: me }}>
    <header>
      <h1>Carapace console</h1>
      <${Operator} />
    </header>
    <nav aria-label="Pages">
      <ul>
        ${Object.keys(PAGES).map((p) => html`<li><a href=${`#${p}`} aria-current=${p === page ? 'page' : undefined}>${p}</a></li>`)}
      </ul>
    </nav>
    <main><${Page} /></main>
  <//>`;
}

render(html`<${App} />`, document.getElementById('app'));
