/**
 * A line plot as SVG (drawn here: axes, ticks, labelled points) rendered to PNG by resvg
 * (@resvg/resvg-js, a maintained SVG renderer: kvforge writes no image encoder). Text uses the
 * system's fonts (DejaVu Sans where present); without any, the PNG has the lines and no labels.
 */
import { createRequire } from 'node:module';

// Loaded when a PNG is asked for: the command line starts without the renderer's native module.
const require = createRequire(import.meta.url);

export interface PlotSeries {
  readonly name: string;
  /** The series' colour, as SVG takes it (#rrggbb). */
  readonly color: string;
  readonly points: readonly { readonly x: number; readonly y: number; readonly label?: string }[];
}

export interface PlotSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly PlotSeries[];
  readonly width?: number;
  readonly height?: number;
}

/** Plot area margins, pixels. */
export const PLOT_MARGIN = { left: 70, right: 20, top: 40, bottom: 55 } as const;

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Round, readable ticks over [lo, hi]. */
function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** The plot's pixel mapping: what the SVG draws with, and what a test checks pixels against. */
export function plotFrame(spec: PlotSpec): { width: number; height: number; x: (v: number) => number; y: (v: number) => number; xr: [number, number]; yr: [number, number] } {
  const width = spec.width ?? 720, height = spec.height ?? 420;
  const pts = spec.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const span = (vs: number[]): [number, number] => {
    let lo = Math.min(...vs, 0), hi = Math.max(...vs, 0);
    if (hi === lo) hi = lo + 1;
    return [lo, hi + (hi - lo) * 0.05];
  };
  const xr = span(pts.map((p) => p.x)), yr = span(pts.map((p) => p.y));
  const { left, right, top, bottom } = PLOT_MARGIN;
  return {
    width, height, xr, yr,
    x: (v) => left + ((v - xr[0]) / (xr[1] - xr[0])) * (width - left - right),
    y: (v) => height - bottom - ((v - yr[0]) / (yr[1] - yr[0])) * (height - top - bottom),
  };
}

export function plotSvg(spec: PlotSpec): string {
  const f = plotFrame(spec);
  const { left, right, top, bottom } = PLOT_MARGIN;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
    `<text x="${f.width / 2}" y="24" font-size="16" text-anchor="middle" fill="#000000">${escapeXml(spec.title)}</text>`,
  ];
  for (const t of ticks(f.xr[0], f.xr[1])) {
    parts.push(`<line x1="${f.x(t)}" y1="${top}" x2="${f.x(t)}" y2="${f.height - bottom}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${f.x(t)}" y="${f.height - bottom + 18}" font-size="12" text-anchor="middle" fill="#333333">${t}</text>`);
  }
  for (const t of ticks(f.yr[0], f.yr[1])) {
    parts.push(`<line x1="${left}" y1="${f.y(t)}" x2="${f.width - right}" y2="${f.y(t)}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${left - 6}" y="${f.y(t) + 4}" font-size="12" text-anchor="end" fill="#333333">${t}</text>`);
  }
  parts.push(`<line x1="${left}" y1="${f.height - bottom}" x2="${f.width - right}" y2="${f.height - bottom}" stroke="#000000"/>`);
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${f.height - bottom}" stroke="#000000"/>`);
  parts.push(`<text x="${(left + f.width - right) / 2}" y="${f.height - 12}" font-size="13" text-anchor="middle" fill="#000000">${escapeXml(spec.xLabel)}</text>`);
  parts.push(`<text x="16" y="${(top + f.height - bottom) / 2}" font-size="13" text-anchor="middle" fill="#000000" transform="rotate(-90 16 ${(top + f.height - bottom) / 2})">${escapeXml(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${f.x(p.x)},${f.y(p.y)}`).join(' ')}"/>`);
    for (const p of pts) {
      parts.push(`<circle cx="${f.x(p.x)}" cy="${f.y(p.y)}" r="4" fill="${s.color}"/>`);
      if (p.label) parts.push(`<text x="${f.x(p.x) + 6}" y="${f.y(p.y) - 6}" font-size="11" fill="${s.color}">${escapeXml(p.label)}</text>`);
    }
    parts.push(`<rect x="${f.width - right - 170}" y="${top + 6 + i * 18}" width="12" height="12" fill="${s.color}"/>`);
    parts.push(`<text x="${f.width - right - 152}" y="${top + 16 + i * 18}" font-size="12" fill="#000000">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** The plot as PNG bytes. */
export function plotPng(spec: PlotSpec): Buffer {
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  return new Resvg(plotSvg(spec), { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: '#ffffff' }).render().asPng();
}
