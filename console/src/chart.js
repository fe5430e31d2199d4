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

/**
 * A line of `points` ({ at, value }) over time, drawn with uPlot; the caption gives the range and the latest value
 * as text, so the chart is never the only way to read it.
 */
export function TimeChart({ label, points, unit = '', from, to }) {
  const ref = useRef(null);
  const xs = points.map((p) => Date.parse(p.at) / 1000);
  const ys = points.map((p) => p.value);
  useEffect(() => {
    if (!ref.current || !points.length) return undefined;
    const plot = new uPlot(
      {
        width: 360,
        height: 160,
        title: label,
        legend: { show: false },
        // The whole range asked for, so one snapshot sits at its time instead of filling the axis.
        scales: { x: { time: true, range: () => [Date.parse(from) / 1000, Date.parse(to) / 1000] } },
        series: [{}, { label: unit || 'value', stroke: '#1a4f8b', width: 2, points: { show: points.length < 50 } }],
      },
      [xs, ys],
      ref.current,
    );
    return () => plot.destroy();
  }, [label, from, to, xs.join(), ys.join()]);
  const last = points.at(-1);
  return html`<figure class="timechart">
    <div ref=${ref} aria-hidden="true"></div>
    <figcaption>
      ${`${label}: `}${
        last
          ? `${last.value}${unit} at ${last.at} (${points.length} snapshots since ${points[0].at})`
          : 'no snapshot with data yet'
      }
    </figcaption>
  </figure>`;
}
