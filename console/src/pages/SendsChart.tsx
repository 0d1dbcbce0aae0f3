import type { ReactNode } from 'react';
import { sendsPerMinute } from '../logic/format.ts';
import { t } from '../messages.ts';

/**
 * Sends per minute as an accessible SVG bar chart (role img with a text summary) plus the same
 * figures in a table for screen readers: no chart library for one small chart.
 */
export function SendsChart({ times, sample }: { times: (string | undefined)[]; sample: number }): ReactNode {
  const bars = sendsPerMinute(times);
  if (bars.length === 0) return <p>{t.detail.chartEmpty}</p>;
  const max = Math.max(...bars.map((b) => b.count));
  const width = 480;
  const height = 120;
  const barWidth = Math.min(32, width / bars.length); // one minute alone is not a wall
  const summary = bars.map((b) => `${b.minute}: ${b.count}`).join(', ');
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height + 16}`} role="img" aria-label={`${t.detail.chart}: ${summary}`}>
        {bars.map((b, i) => {
          const h = max ? (b.count / max) * height : 0;
          return (
            <rect
              key={b.minute}
              x={i * barWidth + 1}
              y={height - h}
              width={Math.max(1, barWidth - 2)}
              height={h}
              className="bar"
            />
          );
        })}
        <text x={0} y={height + 14} className="axis">
          {bars[0]?.minute}
        </text>
        <text x={width} y={height + 14} textAnchor="end" className="axis">
          {bars.at(-1)?.minute}
        </text>
      </svg>
      <figcaption>{t.detail.chartSample(sample)}</figcaption>
      <details>
        <summary>{t.detail.chart}</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">{t.detail.minute}</th>
              <th scope="col">{t.detail.sent}</th>
            </tr>
          </thead>
          <tbody>
            {bars.map((b) => (
              <tr key={b.minute}>
                <td>{b.minute}</td>
                <td className="num">{b.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
