// A bar chart drawn with uPlot; the same numbers are listed as text for screen readers.
import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const html = htm.bind(h);

/** Bars of `values` over `labels`, with a text equivalent. */
export function Chart({ label, labels, values }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || !values.length) return undefined;
    const xs = labels.map((_, i) => i);
    const plot = new uPlot(
      {
        width: 480,
        height: 180,
        title: label,
        scales: { x: { time: false } },
        axes: [{ values: (_u, ticks) => ticks.map((t) => labels[t] ?? '') }, {}],
        series: [{}, { label: 'count', stroke: '#1a4f8b', fill: '#1a4f8b55', paths: uPlot.paths.bars() }],
      },
      [xs, values],
      ref.current,
    );
    return () => plot.destroy();
  }, [label, labels.join(), values.join()]);
  if (!values.length) return html`<p>Nothing open.</p>`;
  return html`<figure>
    <div ref=${ref} aria-hidden="true"></div>
    <figcaption>${label}: ${labels.map((l, i) => `${l} ${values[i]}`).join(', ')}</figcaption>
  </figure>`;
}
