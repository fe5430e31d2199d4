import Database from 'better-sqlite3';
const stats = new Map<string, { n: number; ms: number }>();
const proto = (Database as any).prototype;
const origPrepare = proto.prepare;
proto.prepare = function (sql: string) {
  const st = origPrepare.call(this, sql);
  for (const m of ['all', 'run', 'get', 'iterate']) {
    const o = st[m];
    if (!o) continue;
    st[m] = function (...a: unknown[]) {
      const t = performance.now();
      try { return o.apply(this, a); } finally {
        const k = sql.slice(0, 140); const s = stats.get(k) ?? { n: 0, ms: 0 }; s.n++; s.ms += performance.now() - t; stats.set(k, s);
      }
    };
  }
  return st;
};
process.on('exit', () => {
  console.log([...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25).map(([k, v]) => `${v.ms.toFixed(0)}ms n=${v.n} ${k}`).join('\n'));
});
