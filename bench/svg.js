'use strict';
// Hand-written SVG bar chart of an echo benchmark report (bench/echo.js).
// Shapes differ in QPS by orders of magnitude, so each shape's bars are scaled
// to that shape's fastest server and carry their absolute numbers as labels.
const fs = require('node:fs');

const COLORS = { c: '#8c8c8c', ringnet: '#d9480f', node: '#2f9e44', bun: '#e8b100', redis: '#c92a2a' };
const BAR_W = 34;
const BAR_GAP = 6;
const GROUP_GAP = 36;
const PLOT_H = 220;
const TOP = 96;
const LEFT = 20;

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const compact = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k` : `${Math.round(n)}`);

function renderSvg(report) {
  const keys = [...new Set(report.results.flatMap((r) => r.servers.filter((s) => s.summary).map((s) => s.key)))];
  const labels = Object.fromEntries(report.results.flatMap((r) => r.servers.map((s) => [s.key, s.label])));
  const groupW = Math.max(1, keys.length) * (BAR_W + BAR_GAP) - BAR_GAP;
  const width = Math.max(LEFT * 2 + report.results.length * (groupW + GROUP_GAP) - GROUP_GAP, 640);
  const height = TOP + PLOT_H + 70;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  const m = report.meta;
  out.push(`<text x="${LEFT}" y="22" font-size="15" font-weight="600">${esc(m.title ?? 'Echo requests/s')} (median of ${m.options.rounds} rounds)</text>`);
  const where = `${m.cpu ?? 'unknown CPU'} × ${m.cpus}, node ${m.node}, ${m.pinned ? 'server on CPU 0, client on CPU 1' : 'unpinned'}`;
  out.push(`<text x="${LEFT}" y="40" fill="#555">${esc(where)}</text>`);
  out.push(`<text x="${LEFT}" y="55" fill="#555">Bars are scaled per shape; the number under a bar is server CPU µs per request.</text>`);
  keys.forEach((k, i) => {
    const x = LEFT + i * 90;
    out.push(`<rect x="${x}" y="66" width="10" height="10" fill="${COLORS[k] || '#555'}"/><text x="${x + 14}" y="75">${esc(labels[k])}</text>`);
  });
  const base = TOP + PLOT_H;
  report.results.forEach(({ shape, servers }, gi) => {
    const gx = LEFT + gi * (groupW + GROUP_GAP);
    const max = Math.max(...servers.map((s) => s.summary?.qps ?? 0)) || 1;
    keys.forEach((k, bi) => {
      const s = servers.find((x) => x.key === k)?.summary;
      if (!s) return;
      const h = Math.max(1, (s.qps / max) * (PLOT_H - 20));
      const x = gx + bi * (BAR_W + BAR_GAP);
      out.push(`<rect x="${x}" y="${(base - h).toFixed(1)}" width="${BAR_W}" height="${h.toFixed(1)}" fill="${COLORS[k] || '#555'}"><title>${esc(`${labels[k]}: ${Math.round(s.qps)} req/s, p50 ${Math.round(s.p50_us)} µs, p99 ${Math.round(s.p99_us)} µs`)}</title></rect>`);
      out.push(`<text x="${x + BAR_W / 2}" y="${(base - h - 4).toFixed(1)}" text-anchor="middle">${compact(s.qps)}</text>`);
      if (s.cpu_us_per_req != null) out.push(`<text x="${x + BAR_W / 2}" y="${base + 14}" text-anchor="middle" fill="#555">${s.cpu_us_per_req.toFixed(s.cpu_us_per_req < 1 ? 2 : 1)}</text>`);
    });
    out.push(`<text x="${gx + groupW / 2}" y="${base + 34}" text-anchor="middle" font-weight="600">${esc(shape.name)}</text>`);
    out.push(`<text x="${gx + groupW / 2}" y="${base + 49}" text-anchor="middle" fill="#555">${esc(`${shape.conns} conns, ${shape.depth} deep`)}</text>`);
  });
  out.push(`<line x1="${LEFT}" y1="${base}" x2="${width - LEFT}" y2="${base}" stroke="#333"/>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function writeSvg(file, report) {
  fs.writeFileSync(file, renderSvg(report));
}

module.exports = { renderSvg, writeSvg };
