/* global window */
// Shared building blocks of the console pages: loading an API, tables, errors, actions with a reason.
import { createContext, h } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

export const html = htm.bind(h);

/** Loads `path` on mount and whenever `key` changes; returns { data, error, reload }. */
export function useApi(path, key = 0) {
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
export const rowsOf = (data) => (Array.isArray(data) ? data : (Object.values(data ?? {}).find(Array.isArray) ?? []));
export const cell = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

export function Table({ rows, caption, columns, actions }) {
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

export const ErrorBox = ({ error }) => error && html`<p role="alert" class="error">${error.message}</p>`;

export function Listing({ path, caption, columns, actions, refresh }) {
  const { data, error } = useApi(path, refresh);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p aria-busy="true">Loading ${caption.toLowerCase()}…</p>`;
  return html`<${Table} rows=${rowsOf(data)} caption=${caption} columns=${columns} actions=${actions} />`;
}

/** The signed-in operator (`/admin/v1/operator/me`, with its `may` list) and a way to read it again. */
export const OperatorContext = createContext({ me: null, reload: () => {} });

/**
 * What the signed-in operator still needs for an admin action: 'nothing', 'elevation' or 'approval', or null when
 * their role lacks it (the page then hides the action). Before the answer arrives, or for an operator the server
 * did not describe, 'unknown': the action is offered and the server decides, as it does for every request anyway.
 */
export function useNeed() {
  const { me } = useContext(OperatorContext);
  return (action, targetStatus) => {
    if (!me?.may) return 'unknown';
    const p = me.may.find((m) => m.action === action && m.targetStatus === targetStatus);
    return p ? p.needs : null;
  };
}

/** The signed-in operator's name, or null. */
export const useOperatorName = () => useContext(OperatorContext).me?.name ?? null;

/** Says beside an action what it still needs, so the refusal is not a surprise. */
export const NeedHint = ({ need }) =>
  (need === 'elevation' || need === 'approval') && html`<span class="need"> (needs ${need})</span>`;

/**
 * A button that sends one action with a reason; the server decides and its problem detail is shown. `need` (from
 * useNeed) hides the button when the operator's role lacks the action.
 */
export function ActionButton({ label, run, onDone, need = 'unknown' }) {
  const [error, setError] = useState(null);
  if (need === null) return null;
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
  return html`<button type="button" onClick=${go}>${label}<${NeedHint} need=${need} /></button
    ><${ErrorBox} error=${error} />`;
}
