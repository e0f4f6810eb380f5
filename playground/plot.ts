/** Small SVG plots for the playground: a line chart and a grouped bar chart. */

const NS = 'http://www.w3.org/2000/svg';

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const pad = { left: 38, right: 8, top: 8, bottom: 22 };
const colors = ['#0969da', '#cf222e', '#1a7f37', '#8250df'];

/** Draw `series` (points [x, y]) as lines; y range from the data unless given. */
export function lineChart(svg: SVGSVGElement, series: { name: string; points: [number, number][] }[], yRange?: [number, number]): void {
  svg.replaceChildren();
  const w = Number(svg.getAttribute('width'));
  const h = Number(svg.getAttribute('height'));
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const [y0, y1] = yRange ?? [Math.min(0, ...ys), Math.max(...ys) * 1.05 || 1];
  const sx = (x: number): number => pad.left + ((x - x0) / (x1 - x0)) * (w - pad.left - pad.right);
  const sy = (y: number): number => h - pad.bottom - ((y - y0) / (y1 - y0 || 1)) * (h - pad.top - pad.bottom);
  svg.append(el('rect', { x: pad.left, y: pad.top, width: w - pad.left - pad.right, height: h - pad.top - pad.bottom, fill: 'none', stroke: '#d0d7de' }));
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    svg.append(el('text', { x: 2, y: sy(y) + 3 }, y.toFixed(y1 - y0 < 2 ? 2 : 1)));
  }
  svg.append(el('text', { x: pad.left, y: h - 6 }, String(x0)));
  svg.append(el('text', { x: w - pad.right - 24, y: h - 6 }, String(x1)));
  series.forEach((s, k) => {
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    svg.append(el('path', { d, fill: 'none', stroke: colors[k % colors.length] ?? '#000', 'stroke-width': 1.5, class: 'series' }));
  });
}

/** Grouped bars: one group per label, one bar per series, values in 0..1. */
export function barChart(svg: SVGSVGElement, groups: string[], series: { name: string; values: number[] }[]): void {
  svg.replaceChildren();
  const w = Number(svg.getAttribute('width'));
  const h = Number(svg.getAttribute('height'));
  const gw = (w - pad.left - pad.right) / Math.max(1, groups.length);
  const bw = (gw * 0.8) / Math.max(1, series.length);
  const sy = (v: number): number => h - pad.bottom - v * (h - pad.top - pad.bottom);
  svg.append(el('line', { x1: pad.left, x2: w - pad.right, y1: sy(0), y2: sy(0), stroke: '#57606a' }));
  for (const v of [0, 0.5, 1]) svg.append(el('text', { x: 4, y: sy(v) + 3 }, v.toFixed(1)));
  groups.forEach((g, i) => {
    series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      svg.append(el('rect', { x: pad.left + i * gw + gw * 0.1 + k * bw, y: sy(v), width: bw - 1, height: sy(0) - sy(v), fill: colors[k % colors.length] ?? '#000', class: 'bar' }));
    });
    svg.append(el('text', { x: pad.left + i * gw + gw * 0.2, y: h - 6 }, g));
  });
  series.forEach((s, k) => svg.append(el('text', { x: w - pad.right - 120 + k * 60, y: pad.top + 10, fill: colors[k % colors.length] ?? '#000' }, s.name)));
}
