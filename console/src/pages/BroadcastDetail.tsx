import { type ReactNode, useRef, useState } from 'react';
// The API's own list of statuses a pause is accepted from (not `scheduled`: cancel that instead).
import { PAUSABLE_BROADCAST_STATUSES } from '../../../functions/core/statuses.ts';
import { ApiProblem, api, exportCsv } from '../api.ts';
import { capabilities } from '../capabilities.ts';
import { FINAL_BROADCAST_STATUSES, formatTime, RECIPIENT_STATUSES, twilioErrorUrl } from '../logic/format.ts';
import { FINAL_POLL_MS, SettleWatch } from '../logic/settle.ts';
import { t } from '../messages.ts';
import type { Broadcast, CanaryState as Canary, Page, Progress, Waiting } from '../types.ts';
import {
  Confirm,
  download,
  ErrorNote,
  messageOf,
  Notice,
  ProgressBar,
  StatusBadge,
  useLoad,
} from '../ui.tsx';
import { RecipientsTable } from './RecipientsTable.tsx';
import { SendsChart } from './SendsChart.tsx';

type Action = 'cancel' | 'retry';
const CHART_SAMPLE = 500;

/** One broadcast: live progress, counts, sends over time, errors explained, recipients, actions. */
export function BroadcastDetail({ id }: { id: string }): ReactNode {
  const path = `/v1/broadcasts/${encodeURIComponent(id)}`;
  // Counts keep moving after a broadcast turns final (logic/settle.ts): one watch per resource.
  const watches = useRef({ broadcast: new SettleWatch(), progress: new SettleWatch() });
  const broadcast = useLoad(() => api<Broadcast>('GET', path), [id], {
    pollMs: (b) => watches.current.broadcast.pollMs(b?.status),
  });
  const progress = useLoad(() => api<Progress>('GET', `${path}/progress`), [id], {
    pollMs: (p) => watches.current.progress.pollMs(p?.status),
  });
  const sends = useLoad(
    () => api<Page<{ sentAt?: string }>>('GET', `${path}/recipients`, { query: { limit: CHART_SAMPLE } }),
    [id],
    { pollMs: () => (FINAL_BROADCAST_STATUSES.has(broadcast.data?.status ?? '') ? FINAL_POLL_MS : 5000) },
  );
  const caps = useLoad(() => capabilities(), []);
  const canPause = caps.data?.has('POST /v1/broadcasts/{id}/pause') ?? false;
  const [asking, setAsking] = useState<Action>();
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();

  const b = broadcast.data;
  const p = progress.data;
  const name = b?.name || t.broadcasts.unnamed;
  const status = p?.status ?? b?.status ?? '';
  const final = FINAL_BROADCAST_STATUSES.has(status);

  async function act(run: () => Promise<string>) {
    setError(undefined);
    try {
      setNotice(await run());
      broadcast.reload();
      progress.reload();
    } catch (e) {
      setError(e instanceof ApiProblem ? t.common.error(e.message) : messageOf(e));
    }
  }
  const cancel = () =>
    act(async () =>
      t.detail.cancelled((await api<{ cancelledCount: number }>('POST', `${path}/cancel`)).cancelledCount),
    );
  const retry = () =>
    act(async () =>
      t.detail.retried((await api<{ retriedCount: number }>('POST', `${path}/retry`)).retriedCount),
    );
  const pause = () =>
    act(async () => {
      await api('POST', `${path}/pause`);
      return t.detail.paused;
    });
  const resume = () =>
    act(async () => {
      await api('POST', `${path}/resume`);
      return t.detail.resumed;
    });
  const failures = (p?.counts.failed ?? 0) + (p?.counts.undelivered ?? 0);

  return (
    <section aria-labelledby="detail-title">
      <p>
        <a href="#/broadcasts">{t.detail.back}</a>
      </p>
      <h1 id="detail-title">{name}</h1>
      <ErrorNote error={broadcast.error ?? progress.error} />
      {b && (
        <p>
          <StatusBadge status={status} /> · {t.detail.recipientCount(b.totalRecipients)} ·{' '}
          {formatTime(b.createdAt, navigator.language)}
        </p>
      )}
      {b?.sender && (
        <p>
          {b.sender.source === 'tenant'
            ? t.detail.senderOwn(b.sender.messagingServiceSid ?? b.sender.from ?? '', b.sender.accountSid)
            : t.detail.senderDeployment}
        </p>
      )}
      {b && status === 'paused' && b.pauseReason && <p>{t.detail.pauseReason(b.pauseReason)}</p>}
      {b?.canary && <CanaryState canary={b.canary} />}
      {b && (b.quietHours || b.frequencyCap) && (
        <p>
          {t.detail.timing(
            b.quietHours ? t.timing.quietShort(b.quietHours.start, b.quietHours.end) : '',
            b.frequencyCap ? t.timing.capShort(b.frequencyCap.max, b.frequencyCap.days) : '',
          )}
        </p>
      )}
      <div className="actions">
        {!final && b && (
          <button type="button" onClick={() => setAsking('cancel')}>
            {t.detail.cancel}
          </button>
        )}
        {!canPause ? null : status === 'paused' ? (
          <button type="button" onClick={() => void resume()}>
            {t.detail.resume}
          </button>
        ) : (
          (PAUSABLE_BROADCAST_STATUSES as readonly string[]).includes(status) &&
          b && (
            <button type="button" onClick={() => void pause()}>
              {t.detail.pause}
            </button>
          )
        )}
        {failures > 0 && (
          <button type="button" onClick={() => setAsking('retry')}>
            {t.detail.retry}
          </button>
        )}
        <button
          type="button"
          onClick={() =>
            void act(async () => {
              download(`${id}-recipients.csv`, await exportCsv(`${path}/recipients`, {}));
              return '';
            })
          }
        >
          {t.detail.exportCsv}
        </button>
      </div>
      <ErrorNote error={error} />
      <Notice text={notice} />
      <Confirm
        open={asking === 'cancel'}
        title={t.detail.cancel}
        text={t.detail.cancelConfirm(name)}
        confirmLabel={t.detail.cancel}
        onConfirm={() => void cancel()}
        onClose={() => setAsking(undefined)}
      />
      <Confirm
        open={asking === 'retry'}
        title={t.detail.retry}
        text={t.detail.retryConfirm}
        confirmLabel={t.detail.retry}
        onConfirm={() => void retry()}
        onClose={() => setAsking(undefined)}
      />
      {p && (
        <>
          <h2>{t.detail.progressTitle}</h2>
          <ProgressBar label={t.broadcasts.progressOf(name)} value={p.progressPct} />
          <WaitingFigures waiting={p.waiting ?? b?.waiting} finishAt={b?.estimatedFinishAt} />
          <h2>{t.detail.counts}</h2>
          <dl className="counts">
            {RECIPIENT_STATUSES.map((s) => (
              <div key={s}>
                <dt>{t.status[s]}</dt>
                <dd>{p.counts[s] ?? 0}</dd>
              </div>
            ))}
          </dl>
          <h2>{t.detail.errors}</h2>
          {p.errorSummary.length === 0 ? (
            <p>{t.detail.noErrors}</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t.detail.code}</th>
                  <th scope="col">{t.detail.meaning}</th>
                  <th scope="col">{t.detail.count}</th>
                </tr>
              </thead>
              <tbody>
                {p.errorSummary.map((e) => (
                  <tr key={String(e.code)}>
                    <td>
                      <a
                        href={twilioErrorUrl(e.code)}
                        aria-label={t.detail.twilioDoc(e.code)}
                        rel="noreferrer"
                        target="_blank"
                      >
                        {e.code}
                      </a>
                    </td>
                    <td>{e.message}</td>
                    <td className="num">{e.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      <h2>{t.detail.chart}</h2>
      {sends.data && (
        <SendsChart
          times={sends.data.items.map((r) => r.sentAt)}
          sample={Math.min(CHART_SAMPLE, sends.data.items.length)}
        />
      )}
      <RecipientsTable
        path={`${path}/recipients`}
        live={!final}
        explanations={new Map((p?.errorSummary ?? []).map((e) => [String(e.code), e.message]))}
      />
    </section>
  );
}

/** Issue 13: who waits (quiet hours, Meta's messaging limit) and until when; nothing when nobody ever waited. */
function WaitingFigures({ waiting, finishAt }: { waiting?: Waiting; finishAt?: string }): ReactNode {
  if (!waiting) return null;
  const reasons = Object.entries(waiting.byReason ?? {}).filter(([, n]) => n > 0);
  return (
    <section aria-labelledby="waiting-title">
      <h2 id="waiting-title">{t.detail.waitingTitle}</h2>
      {waiting.count === 0 ? (
        <p>{t.detail.waitingNone}</p>
      ) : (
        <dl className="counts">
          {reasons.map(([reason, n]) => (
            <div key={reason}>
              <dt>{t.timing.waitReason[reason] ?? reason}</dt>
              <dd>{n}</dd>
            </div>
          ))}
        </dl>
      )}
      {waiting.count > 0 && waiting.until && (
        <p>{t.detail.waitingUntil(formatTime(waiting.until, navigator.language))}</p>
      )}
      {finishAt && <p>{t.detail.finishAt(formatTime(finishAt, navigator.language))}</p>}
    </section>
  );
}

const percent = (rate: number) =>
  new Intl.NumberFormat(navigator.language, { style: 'percent', maximumFractionDigits: 1 }).format(rate);

/** The canary (issue 13): its decision, and the figures it was (or is being) decided on. */
function CanaryState({ canary }: { canary: Canary }): ReactNode {
  return (
    <section aria-labelledby="canary-title">
      <h2 id="canary-title">{t.canary.state}</h2>
      <p>
        <strong>{t.canary.decision[canary.decision] ?? canary.decision}</strong>
        {canary.decidedAt ? ` · ${formatTime(canary.decidedAt, navigator.language)}` : ''}
      </p>
      <p>
        {t.canary.figures(
          canary.size,
          canary.outcomes,
          percent(canary.failureRate),
          percent(canary.maxFailureRate),
        )}
        {canary.topErrorCode !== undefined ? ` · ${t.canary.topError(canary.topErrorCode)}` : ''}
      </p>
    </section>
  );
}
