/**
 * The send-rate chart (bench/results/send-rate.svg), written by hand: no chart dependency, and
 * the same input always gives the same bytes (one decimal, fixed order), so it diffs well in git.
 */
export interface SendRateChart {
  readonly title: string;
  readonly subtitle: string;
  /** Messages the provider accepted in each second since the first one. */
  readonly acceptedPerSecond: readonly number[];
  /** The provider's 429 answers in the same seconds (drawn on top of the accepted ones). */
  readonly rejectedPerSecond?: readonly number[];
  /** The configured per-sender limit, drawn as a horizontal line. */
  readonly limit: number;
  /** The window the steady rate was measured over, in seconds, shaded. */
  readonly steady?: { readonly fromS: number; readonly toS: number; readonly rate: number };
}

const WIDTH = 720;
const HEIGHT = 380;
const MARGIN = { left: 60, right: 20, top: 64, bottom: 52 } as const;
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const COLORS = { accepted: '#3b6fb6', rejected: '#d0453a', limit: '#222222', steady: '#eef2f7' };

export function sendRateSvg(chart: SendRateChart): string {
  const accepted = chart.acceptedPerSecond;
  const rejected = chart.rejectedPerSecond ?? [];
  const seconds = Math.max(1, accepted.length, rejected.length);
  const tallest = Math.max(
    chart.limit * 1.2,
    ...Array.from({ length: seconds }, (_, s) => (accepted[s] ?? 0) + (rejected[s] ?? 0)),
  );
  const yMax = niceCeil(tallest);
  const x = (second: number) => MARGIN.left + (second / seconds) * PLOT_W;
  const y = (value: number) => MARGIN.top + PLOT_H - (value / yMax) * PLOT_H;
  const barWidth = Math.max(0.5, (PLOT_W / seconds) * 0.8);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(MARGIN.left, 22, chart.title, { size: 15, weight: 'bold' }),
    text(MARGIN.left, 40, chart.subtitle, { size: 11, fill: '#555555' }),
  ];
  if (chart.steady && chart.steady.toS > chart.steady.fromS) {
    const from = x(chart.steady.fromS);
    out.push(
      `<rect x="${n(from)}" y="${MARGIN.top}" width="${n(x(chart.steady.toS) - from)}" height="${PLOT_H}" fill="${COLORS.steady}"/>`,
      text(from + 4, MARGIN.top + 14, `steady ${n(chart.steady.rate)}/s`, { size: 11, fill: '#555555' }),
    );
  }
  // Horizontal grid and y ticks.
  for (const value of ticks(yMax, 5)) {
    out.push(
      `<line x1="${MARGIN.left}" y1="${n(y(value))}" x2="${MARGIN.left + PLOT_W}" y2="${n(y(value))}" stroke="#e3e3e3"/>`,
      text(MARGIN.left - 6, y(value) + 4, String(value), { anchor: 'end' }),
    );
  }
  for (let second = 0; second < seconds; second++) {
    const ok = accepted[second] ?? 0;
    const refused = rejected[second] ?? 0;
    const left = x(second) + (PLOT_W / seconds - barWidth) / 2;
    if (ok > 0)
      out.push(
        `<rect x="${n(left)}" y="${n(y(ok))}" width="${n(barWidth)}" height="${n(y(0) - y(ok))}" fill="${COLORS.accepted}"/>`,
      );
    if (refused > 0)
      out.push(
        `<rect x="${n(left)}" y="${n(y(ok + refused))}" width="${n(barWidth)}" height="${n(y(ok) - y(ok + refused))}" fill="${COLORS.rejected}"/>`,
      );
  }
  // The configured limit.
  out.push(
    `<line x1="${MARGIN.left}" y1="${n(y(chart.limit))}" x2="${MARGIN.left + PLOT_W}" y2="${n(y(chart.limit))}" stroke="${COLORS.limit}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    text(MARGIN.left + PLOT_W - 4, y(chart.limit) - 6, `configured limit ${n(chart.limit)}/s`, {
      anchor: 'end',
    }),
  );
  // Axes, x ticks and labels.
  const step = tickStep(seconds);
  for (let second = 0; second <= seconds; second += step)
    out.push(
      `<line x1="${n(x(second))}" y1="${MARGIN.top + PLOT_H}" x2="${n(x(second))}" y2="${MARGIN.top + PLOT_H + 4}" stroke="#333333"/>`,
      text(x(second), MARGIN.top + PLOT_H + 17, String(second), { anchor: 'middle' }),
    );
  out.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + PLOT_H}" x2="${MARGIN.left + PLOT_W}" y2="${MARGIN.top + PLOT_H}" stroke="#333333"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + PLOT_H}" stroke="#333333"/>`,
    text(MARGIN.left + PLOT_W / 2, HEIGHT - 12, 'seconds since the first message was accepted', {
      anchor: 'middle',
    }),
    `<text x="16" y="${n(MARGIN.top + PLOT_H / 2)}" text-anchor="middle" transform="rotate(-90 16 ${n(MARGIN.top + PLOT_H / 2)})">messages per second</text>`,
    legend(MARGIN.left + PLOT_W - 250, 52, COLORS.accepted, 'accepted by the provider'),
    legend(MARGIN.left + PLOT_W - 90, 52, COLORS.rejected, '429 answers'),
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

/** A round number at or above `value` (1, 2, 2.5 or 5 times a power of ten). */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 2.5, 5, 10]) if (factor * power >= value) return factor * power;
  return 10 * power;
}

function ticks(max: number, count: number): number[] {
  const step = max / count;
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toFixed(2)));
}

/** Seconds between x ticks: at most about ten ticks. */
function tickStep(seconds: number): number {
  for (const step of [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600]) if (seconds / step <= 10) return step;
  return Math.ceil(seconds / 10);
}

function legend(x: number, y: number, color: string, label: string): string {
  return `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${color}"/>${text(x + 14, y, label, { size: 11 })}`;
}

function text(
  x: number,
  y: number,
  content: string,
  style: { anchor?: 'start' | 'middle' | 'end'; size?: number; weight?: string; fill?: string } = {},
): string {
  const attributes = [
    `x="${n(x)}"`,
    `y="${n(y)}"`,
    ...(style.anchor && style.anchor !== 'start' ? [`text-anchor="${style.anchor}"`] : []),
    ...(style.size ? [`font-size="${style.size}"`] : []),
    ...(style.weight ? [`font-weight="${style.weight}"`] : []),
    ...(style.fill ? [`fill="${style.fill}"`] : []),
  ];
  return `<text ${attributes.join(' ')}>${escapeXml(content)}</text>`;
}

/** One decimal at most, no trailing zeros: stable output. */
function n(value: number): string {
  return String(Number(value.toFixed(1)));
}

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
