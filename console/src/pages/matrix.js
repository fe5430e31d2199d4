/* global setTimeout, clearTimeout */
// The console page "matrix": the last authorization matrix report, and a run against a configured staging target
// (a security admin's; the server names the targets, the page only picks one), with its progress.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { html, useApi, ErrorBox, Table, NeedHint, useNeed } from '../ui.js';

const CELL_COLUMNS = ['phase', 'persona', 'route', 'object', 'action', 'expected', 'observed', 'note'];

/** The report's totals, route coverage, per-action counts, and the cells a reviewer reads. */
function Report({ refresh }) {
  const report = useApi('/admin/v1/authz-matrix/report', refresh);
  if (report.error) return html`<${ErrorBox} error=${report.error} />`;
  if (!report.data) return html`<p aria-busy="true">Loading the report…</p>`;
  const { summary: s, writtenAt, byAction, unexpectedCells, unreachedCells } = report.data;
  const totals = [
    { measure: 'cells', value: s.cells },
    { measure: 'allowed', value: s.allowed },
    { measure: 'denied', value: s.denied },
    { measure: 'unexpected', value: s.unexpected },
    { measure: 'unreached', value: s.unreached },
    { measure: 'routes reached', value: `${s.routesReached} of ${s.routes}` },
    { measure: 'phases', value: s.phases.join(', ') },
  ];
  return html`<p>Report written ${writtenAt}.</p>
    <${Table} caption="Matrix totals" rows=${totals} columns=${['measure', 'value']} />
    ${
      s.routesMissing.length > 0 &&
      html`<h4>Routes never reached</h4>
        <ul aria-label="Routes never reached">
          ${s.routesMissing.map((r) => html`<li>${r}</li>`)}
        </ul>`
    }
    <${Table} caption="Unexpected cells" rows=${unexpectedCells} columns=${CELL_COLUMNS} />
    <${Table} caption="Unreached cells" rows=${unreachedCells} columns=${CELL_COLUMNS} />
    <${Table} caption="Cells per action" rows=${byAction} columns=${['action', 'cells', 'unexpected', 'unreached']} />`;
}

/** The node's last run, re-read every 2 s while it runs; the button only where the role may run one. */
function Runs({ onFinished }) {
  const need = useNeed()('console:run_matrix');
  const [tick, setTick] = useState(0);
  const status = useApi('/admin/v1/authz-matrix/runs/current', tick);
  const [target, setTarget] = useState('');
  const [error, setError] = useState(null);
  const run = status.data?.run;
  const running = run?.state === 'running';
  useEffect(() => {
    if (!running) return undefined;
    const t = setTimeout(() => setTick((n) => n + 1), 2000);
    return () => clearTimeout(t);
  }, [running, status.data]);
  useEffect(() => {
    if (!run || running) return;
    // A refusal shown while the run went on (a second run) is out of date once it ended.
    setError(null);
    onFinished();
  }, [run?.id, run?.state]);
  const targets = status.data?.targets ?? [];
  const chosen = target || targets[0] || '';
  const start = async (e) => {
    e.preventDefault();
    try {
      await api('/admin/v1/authz-matrix/runs', { method: 'POST', body: { target: chosen } });
      setError(null);
    } catch (err) {
      setError(err);
    }
    setTick((n) => n + 1);
  };
  return html`<div>
    ${
      need !== null &&
      targets.length > 0 &&
      html`<form onSubmit=${start} aria-label="Run the matrix">
        <label for="matrix-target">Target</label>
        <select id="matrix-target" value=${chosen} onChange=${(e) => setTarget(e.currentTarget.value)}>
          ${targets.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
        <button type="submit">Run the matrix<${NeedHint} need=${need} /></button>
      </form>`
    }
    ${need !== null && targets.length === 0 && html`<p>No matrix target is configured (inventory.matrixTargets).</p>`}
    <${ErrorBox} error=${error || status.error} />
    ${
      run &&
      html`<div aria-label="Matrix run" data-state=${run.state}>
        <p aria-live="polite">
          Run on ${run.target} by ${run.startedBy}, started ${run.startedAt}: ${run.state}
          ${run.exitCode !== null && ` (exit code ${run.exitCode})`}${run.finishedAt && `, finished ${run.finishedAt}`}
        </p>
        <pre tabindex="0" aria-label="Run output">${run.output.join('\n')}</pre>
      </div>`
    }
  </div>`;
}

/** The authorization matrix page. */
export function Matrix() {
  const [n, setN] = useState(0);
  return html`<section aria-labelledby="h-matrix">
    <h2 id="h-matrix">Authorization matrix</h2>
    <h3>Runs</h3>
    <${Runs} onFinished=${() => setN((k) => k + 1)} />
    <h3>Last report</h3>
    <${Report} refresh=${n} />
  </section>`;
}
