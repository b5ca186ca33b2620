/**
 * The report's charts as small hand-written SVG: a line chart (freshness over time), horizontal bars
 * (CPU time, storage), and a log-log line chart (a cost against history size, where a crossover shows). No browser and no library: the markup is plain text, every label escaped.
 */

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

export interface Bar {
  label: string;
  value: number;
  color: string;
}

const WIDTH = 640;
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

export function lineChart(options: { title: string; xLabel: string; yLabel: string; series: Series[]; marker?: { x: number; label: string } }): string {
  const height = 300;
  const plot = { left: 60, right: WIDTH - 20, top: 40, bottom: height - 45 };
  const points = options.series.flatMap((series) => series.points);
  const maxX = niceCeiling(Math.max(1, ...points.map((point) => point.x), options.marker?.x ?? 0));
  const maxY = niceCeiling(Math.max(1, ...points.map((point) => point.y)));
  const x = (value: number) => plot.left + (value / maxX) * (plot.right - plot.left);
  const y = (value: number) => plot.bottom - (value / maxY) * (plot.bottom - plot.top);
  const parts: string[] = [header(WIDTH, height, options.title)];
  for (let i = 0; i <= 4; i++) {
    const value = (maxY / 4) * i;
    parts.push(`<line x1="${plot.left}" y1="${fixed(y(value))}" x2="${plot.right}" y2="${fixed(y(value))}" stroke="#ddd"/>`);
    parts.push(`<text x="${plot.left - 6}" y="${fixed(y(value) + 4)}" text-anchor="end" ${FONT}>${format(value)}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const value = (maxX / 4) * i;
    parts.push(`<text x="${fixed(x(value))}" y="${plot.bottom + 16}" text-anchor="middle" ${FONT}>${format(value)}</text>`);
  }
  parts.push(`<line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(plot.left + plot.right) / 2}" y="${height - 8}" text-anchor="middle" ${FONT}>${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text x="14" y="${(plot.top + plot.bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(plot.top + plot.bottom) / 2})" ${FONT}>${escapeXml(options.yLabel)}</text>`);
  if (options.marker) {
    const at = fixed(x(options.marker.x));
    parts.push(`<line x1="${at}" y1="${plot.top}" x2="${at}" y2="${plot.bottom}" stroke="#999" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${at}" y="${plot.top - 4}" text-anchor="middle" ${FONT}>${escapeXml(options.marker.label)}</text>`);
  }
  options.series.forEach((series, i) => {
    if (series.points.length > 0) {
      const path = series.points.map((point) => `${fixed(x(point.x))},${fixed(y(point.y))}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${series.color}" stroke-width="1.5" points="${path}"/>`);
    }
    parts.push(`<rect x="${plot.left + 10 + i * 120}" y="${plot.top + 4}" width="12" height="12" fill="${series.color}"/>`);
    parts.push(`<text x="${plot.left + 26 + i * 120}" y="${plot.top + 14}" ${FONT}>${escapeXml(series.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function barChart(options: { title: string; unit: string; bars: Bar[] }): string {
  const rowHeight = 28;
  const height = 50 + options.bars.length * rowHeight;
  const left = 150;
  const right = WIDTH - 90;
  const max = Math.max(1e-9, ...options.bars.map((bar) => bar.value));
  const parts: string[] = [header(WIDTH, height, options.title)];
  options.bars.forEach((bar, i) => {
    const top = 36 + i * rowHeight;
    const width = Math.max(1, (bar.value / max) * (right - left));
    parts.push(`<text x="${left - 8}" y="${top + 15}" text-anchor="end" ${FONT}>${escapeXml(bar.label)}</text>`);
    parts.push(`<rect x="${left}" y="${top}" width="${fixed(width)}" height="${rowHeight - 8}" fill="${bar.color}"/>`);
    parts.push(`<text x="${fixed(left + width + 6)}" y="${top + 15}" ${FONT}>${escapeXml(`${format(bar.value)} ${options.unit}`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/**
 * Both axes log-scaled (powers of ten as grid lines), a dot at each point: cost against history size,
 * where lines of different slopes cross. Values at or below zero cannot be drawn on a log axis and are
 * left out of their line.
 */
export function logLogChart(options: { title: string; xLabel: string; yLabel: string; series: Series[]; formatX?: (value: number) => string; formatY?: (value: number) => string }): string {
  const height = 320;
  const plot = { left: 70, right: WIDTH - 20, top: 40, bottom: height - 45 };
  const series = options.series.map((line) => ({ ...line, points: line.points.filter((point) => point.x > 0 && point.y > 0) }));
  const points = series.flatMap((line) => line.points);
  const xs = points.map((point) => point.x);
  const ys = points.map((point) => point.y);
  const decade = (value: number, round: (value: number) => number) => round(Math.log10(value));
  // Whole decades around the points (one decade at least; 1 when there is no point yet).
  const minX = decade(xs.length > 0 ? Math.min(...xs) : 1, Math.floor);
  const maxX = Math.max(minX + 1, decade(xs.length > 0 ? Math.max(...xs) : 1, Math.ceil));
  const minY = decade(ys.length > 0 ? Math.min(...ys) : 1, Math.floor);
  const maxY = Math.max(minY + 1, decade(ys.length > 0 ? Math.max(...ys) : 1, Math.ceil));
  const x = (value: number) => plot.left + ((Math.log10(value) - minX) / (maxX - minX)) * (plot.right - plot.left);
  const y = (value: number) => plot.bottom - ((Math.log10(value) - minY) / (maxY - minY)) * (plot.bottom - plot.top);
  const formatX = options.formatX ?? format;
  const formatY = options.formatY ?? format;
  const parts: string[] = [header(WIDTH, height, options.title)];
  for (let power = minY; power <= maxY; power++) {
    const at = fixed(y(10 ** power));
    parts.push(`<line x1="${plot.left}" y1="${at}" x2="${plot.right}" y2="${at}" stroke="#ddd"/>`);
    parts.push(`<text x="${plot.left - 6}" y="${fixed(y(10 ** power) + 4)}" text-anchor="end" ${FONT}>${escapeXml(formatY(10 ** power))}</text>`);
  }
  for (let power = minX; power <= maxX; power++) {
    const at = fixed(x(10 ** power));
    parts.push(`<line x1="${at}" y1="${plot.top}" x2="${at}" y2="${plot.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${at}" y="${plot.bottom + 16}" text-anchor="middle" ${FONT}>${escapeXml(formatX(10 ** power))}</text>`);
  }
  parts.push(`<line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(plot.left + plot.right) / 2}" y="${height - 8}" text-anchor="middle" ${FONT}>${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text x="14" y="${(plot.top + plot.bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(plot.top + plot.bottom) / 2})" ${FONT}>${escapeXml(options.yLabel)}</text>`);
  series.forEach((line, i) => {
    if (line.points.length > 0) {
      const path = line.points.map((point) => `${fixed(x(point.x))},${fixed(y(point.y))}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${line.color}" stroke-width="2" points="${path}"/>`);
      for (const point of line.points) parts.push(`<circle cx="${fixed(x(point.x))}" cy="${fixed(y(point.y))}" r="3" fill="${line.color}"/>`);
    }
    parts.push(`<rect x="${plot.left + 10 + i * 120}" y="${plot.top + 4}" width="12" height="12" fill="${line.color}"/>`);
    parts.push(`<text x="${plot.left + 26 + i * 120}" y="${plot.top + 14}" ${FONT}>${escapeXml(line.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function header(width: number, height: number, title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-family="system-ui, sans-serif" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ].join('\n');
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (character) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[character]!);
}

/** A round number at or above `value` (1, 2 or 5 times a power of ten), for the axis. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value)!;
}

function format(value: number): string {
  if (value >= 100 || Number.isInteger(value)) return String(Math.round(value));
  return value.toFixed(value >= 10 ? 1 : 2);
}

function fixed(value: number): string {
  return value.toFixed(1);
}
