// One incident in the console: triage (state, owner, notes), its findings and timeline, and playbook runs with
// their steps, approvals included. Every action is an admin-plane route; the server decides and refuses.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { html, useApi, ErrorBox, Table, ActionButton, NeedHint, useNeed, useOperatorName } from '../ui.js';

// The lifecycle's next states, offered in the form; the server checks every transition (409 when refused).
const NEXT = {
  open: ['triaged', 'contained', 'closed'],
  triaged: ['contained', 'closed'],
  contained: ['recovered'],
  recovered: ['closed'],
  closed: ['open'],
};
const APPROVAL = ['none', 'one operator', 'two operators'];

/** Runs an action and keeps its problem, if any, for the page to show. */
function useAction(onDone) {
  const [error, setError] = useState(null);
  const run = async (fn) => {
    try {
      const out = await fn();
      setError(null);
      onDone?.(out);
    } catch (e) {
      setError(e);
    }
  };
  return [error, run];
}

/** An incident's triage: move it through its lifecycle, take it, add a note. */
function Triage({ incident, onDone }) {
  const need = useNeed();
  const me = useOperatorName();
  const [to, setTo] = useState(NEXT[incident.state]?.[0] ?? '');
  const [reason, setReason] = useState('');
  const [note, setNote] = useState('');
  const [error, act] = useAction(onDone);
  const base = `/admin/v1/incidents/${incident.id}`;
  const move = (e) => {
    e.preventDefault();
    // Closing before containment can only be a false positive; after recovery it is resolved.
    const resolution = to === 'closed' ? (incident.state === 'recovered' ? 'resolved' : 'false_positive') : undefined;
    void act(() => api(`${base}/transitions`, { method: 'POST', body: { to, reason, resolution } }));
  };
  const addNote = (e) => {
    e.preventDefault();
    void act(() => api(`${base}/notes`, { method: 'POST', body: { text: note } }).then(() => setNote('')));
  };
  const take = () => act(() => api(`${base}/owner`, { method: 'POST', body: { owner: me } }));
  return html`<div class="triage">
    ${
      need('incidents:transition') !== null &&
      html`<form onSubmit=${move} aria-label="Move the incident">
        <label for="inc-to">Move to</label>
        <select id="inc-to" value=${to} onChange=${(e) => setTo(e.currentTarget.value)}>
          ${(NEXT[incident.state] ?? []).map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
        <label for="inc-reason">Reason</label>
        <input id="inc-reason" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} required />
        <button type="submit">Move</button>
      </form>`
    }
    ${
      need('incidents:assign') !== null &&
      me &&
      incident.owner !== me &&
      html`<button type="button" onClick=${take}>Assign to me</button>`
    }
    ${
      need('incidents:note') !== null &&
      html`<form onSubmit=${addNote} aria-label="Add a note">
        <label for="inc-note">Note</label>
        <input id="inc-note" value=${note} onInput=${(e) => setNote(e.currentTarget.value)} required />
        <button type="submit">Add note</button>
      </form>`
    }
    <${ErrorBox} error=${error} />
  </div>`;
}

/** Pick a playbook, see what it would do (the dry run), and start it on exactly those targets. */
function StartPlaybook({ incidentId, onDone }) {
  const need = useNeed();
  const books = useApi('/admin/v1/playbooks');
  const [id, setId] = useState('');
  const [dry, setDry] = useState(null);
  const [error, act] = useAction();
  const chosen = id || books.data?.playbooks[0]?.id || '';
  const base = `/admin/v1/incidents/${incidentId}/playbooks/${encodeURIComponent(chosen)}`;
  const dryRun = (e) => {
    e.preventDefault();
    void act(() => api(`${base}/dry-run`, { method: 'POST' }).then(setDry));
  };
  const start = () =>
    act(async () => {
      // The digest of what the operator reviewed: the server refuses the run if the targets changed since.
      await api(`${base}/runs?expectDigest=${encodeURIComponent(dry.digest)}`, { method: 'POST' });
      setDry(null);
      onDone();
    });
  const runNeed = need('incidents:run_playbook');
  return html`<div>
    <form onSubmit=${dryRun} aria-label="Dry run and start">
      <label for="playbook">Playbook</label>
      <select id="playbook" value=${chosen} onChange=${(e) => (setId(e.currentTarget.value), setDry(null))}>
        ${(books.data?.playbooks ?? []).map((p) => html`<option value=${p.id}>${p.title}</option>`)}
      </select>
      <button type="submit">Dry run</button>
    </form>
    ${
      dry &&
      html`<${Table}
          caption=${`Dry run of ${dry.playbookId} (changes nothing)`}
          rows=${dry.steps.map((s) => ({ ...s, targets: s.targets.length, approval: APPROVAL[s.approval] }))}
          columns=${['position', 'stepId', 'action', 'mode', 'targets', 'vehicleCount', 'approval']}
        />
        ${
          runNeed !== null &&
          html`<button type="button" onClick=${start}>Run playbook<${NeedHint} need=${runNeed} /></button>`
        }`
    }
    <${ErrorBox} error=${error} />
  </div>`;
}

/** A run's steps; a step waiting for approval can be approved or rejected, with a reason. */
function Run({ run, onDone }) {
  const need = useNeed();
  const decide = (step, decision) => (reason) =>
    api(`/admin/v1/playbook-steps/${step.id}/decision`, { method: 'POST', body: { decision, reason } });
  const rows = run.steps.map((s) => ({ ...s, targets: s.targets.length }));
  const actions = (s) =>
    s.state === 'awaiting_approval' &&
    html`<${ActionButton}
        label=${`Approve ${s.stepId}`}
        run=${decide(s, 'approve')}
        onDone=${onDone}
        need=${need('incidents:approve_step')}
      />
      <${ActionButton}
        label=${`Reject ${s.stepId}`}
        run=${decide(s, 'reject')}
        onDone=${onDone}
        need=${need('incidents:approve_step')}
      />`;
  return html`<div aria-label=${`Run of ${run.playbookId}`} data-state=${run.state}>
    <${Table}
      caption=${`Run of ${run.playbookId} by ${run.requestedBy}: ${run.state}`}
      rows=${rows}
      actions=${actions}
      columns=${['position', 'stepId', 'action', 'targets', 'approval', 'state', 'decidedBy', 'effectiveAt', 'error']}
    />
  </div>`;
}

const stateLine = (i) =>
  `${i.severity}, ${i.state}${i.resolution ? ` (${i.resolution})` : ''}, owner ${i.owner ?? 'nobody'}, ` +
  `opened ${i.openedAt} by ${i.openedBy}`;

/** One incident: what it is, its triage, findings, timeline, and playbook runs. */
export function Incident({ id, onChange }) {
  const [k, setK] = useState(0);
  const detail = useApi(`/admin/v1/incidents/${id}`, k);
  const runs = useApi(`/admin/v1/incidents/${id}/runs`, k);
  const done = () => {
    setK(k + 1);
    onChange();
  };
  if (detail.error) return html`<${ErrorBox} error=${detail.error} />`;
  if (!detail.data) return html`<p aria-busy="true">Loading the incident…</p>`;
  const { incident, findings, timeline } = detail.data;
  return html`<section aria-labelledby="h-incident" class="incident">
    <h3 id="h-incident">Incident: ${incident.title}</h3>
    <p aria-label="Incident state">${stateLine(incident)}</p>
    <button type="button" onClick=${() => setK(k + 1)}>Refresh</button>
    <${Triage} key=${incident.state} incident=${incident} onDone=${done} />
    <${Table}
      caption="Findings of the incident"
      rows=${findings}
      columns=${['ruleId', 'severity', 'title', 'count', 'firstSeen', 'lastSeen']}
    />
    <h4>Timeline</h4>
    <ol aria-label="Timeline">
      ${timeline.map((t) => html`<li><time datetime=${t.at}>${t.at}</time> ${t.kind} by ${t.actor}: ${t.summary}</li>`)}
    </ol>
    <h4>Playbooks</h4>
    <${StartPlaybook} incidentId=${id} onDone=${done} />
    <${ErrorBox} error=${runs.error} />
    ${(runs.data?.runs ?? []).map((r) => html`<${Run} key=${r.id} run=${r} onDone=${done} />`)}
  </section>`;
}
