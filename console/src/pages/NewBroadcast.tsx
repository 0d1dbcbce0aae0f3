import { type ReactNode, useMemo, useRef, useState } from 'react';
// The API's own words for why a recipient is skipped (one table, in functions/core).
import { SKIP_REASON_TEXT, type SkipReason } from '../../../functions/core/skips.ts';
import { api, listAll } from '../api.ts';
import { capabilities } from '../capabilities.ts';
import { type BroadcastForm, broadcastRequest, SubmissionKeys } from '../logic/broadcast-form.ts';
import { NO_CANARY } from '../logic/canary.ts';
import { formatDuration, formatMoney, formatTime } from '../logic/format.ts';
import { NO_TIMING } from '../logic/send-timing.ts';
import { fillBody } from '../logic/variables.ts';
import { t } from '../messages.ts';
import type { Group, Preview, Template } from '../types.ts';
import { Confirm, ErrorNote, go, messageOf, useLoad } from '../ui.tsx';
import { CanaryFields } from './CanaryFields.tsx';
import { TemplateFields } from './TemplateFields.tsx';
import { TestSend } from './TestSend.tsx';
import { TimingFields } from './TimingFields.tsx';

const EMPTY: BroadcastForm = {
  name: '',
  groupIds: [],
  tags: '',
  phones: '',
  defaultCountry: '',
  contentSid: '',
  mappings: {},
  followUpBody: '',
  confirmPayload: '',
  scheduleLocal: '',
  timing: NO_TIMING,
  canary: NO_CANARY,
};

/** A problem's words, from whichever part of the form has it. */
const problemText = (p: string) => t.compose.problems[p] ?? t.timing.problems[p] ?? t.canary.problems[p] ?? p;

/** Compose → dry run (POST /v1/broadcasts/preview) → Send, confirmed, with one Idempotency-Key per submission. */
export function NewBroadcast(): ReactNode {
  const [form, setForm] = useState<BroadcastForm>(EMPTY);
  const [preview, setPreview] = useState<{ result: Preview; body: string }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const keys = useRef(new SubmissionKeys());
  const templates = useLoad(() => listAll<Template>('/v1/templates', { approval: 'approved' }), []);
  const groups = useLoad(() => listAll<Group>('/v1/groups'), []);
  // Canary and test sends came with the same change (issue 13): offered where the server has them.
  const caps = useLoad(() => capabilities(), []);
  const control = caps.data?.has('POST /v1/broadcasts/test-send') ?? false;
  const approved = (templates.data ?? []).filter((x) => x.approval === 'approved');
  const template = approved.find((x) => x.contentSid === form.contentSid);
  const request = useMemo(() => broadcastRequest(form), [form]);
  const upToDate =
    preview !== undefined && request.body !== undefined && JSON.stringify(request.body) === preview.body;

  const set = (patch: Partial<BroadcastForm>) => setForm((f) => ({ ...f, ...patch }));
  async function runPreview() {
    setError(undefined);
    if (!request.body) return setError(request.problems.map(problemText).join(' '));
    setBusy(true);
    try {
      const result = await api<Preview>('POST', '/v1/broadcasts/preview', { body: request.body });
      setPreview({ result, body: JSON.stringify(request.body) });
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  async function send() {
    if (!request.body || !upToDate) return;
    setBusy(true);
    setError(undefined);
    try {
      const created = await api<{ broadcastId: string }>('POST', '/v1/broadcasts', {
        body: request.body,
        headers: { 'idempotency-key': keys.current.keyFor(request.body) },
      });
      go('broadcasts', created.broadcastId);
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  }

  const sendCount = preview ? (preview.result.sendCount ?? preview.result.totalRecipients) : 0;
  const name = form.name.trim() || t.broadcasts.unnamed;
  const skipped = Object.entries(preview?.result.skippedByReason ?? {}).filter(([, n]) => n > 0);
  const waiting = preview?.result.waiting;
  const waitingReasons = Object.entries(waiting?.byReason ?? {}).filter(([, n]) => n > 0);
  return (
    <section aria-labelledby="compose-title">
      <h1 id="compose-title">{t.compose.title}</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void runPreview();
        }}
      >
        <label htmlFor="b-name">{t.compose.name}</label>
        <input id="b-name" value={form.name} onChange={(e) => set({ name: e.target.value })} />

        <fieldset>
          <legend>{t.compose.audience}</legend>
          <fieldset>
            <legend>{t.compose.groups}</legend>
            {groups.data?.length === 0 && <p>{t.compose.noGroups}</p>}
            {groups.data?.map((g) => (
              <label key={g.groupId} className="check">
                <input
                  type="checkbox"
                  checked={form.groupIds.includes(g.groupId)}
                  onChange={(e) =>
                    set({
                      groupIds: e.target.checked
                        ? [...form.groupIds, g.groupId]
                        : form.groupIds.filter((id) => id !== g.groupId),
                    })
                  }
                />
                {g.name} ({g.memberCount})
              </label>
            ))}
          </fieldset>
          <label htmlFor="b-tags">{t.compose.tags}</label>
          <input id="b-tags" value={form.tags} onChange={(e) => set({ tags: e.target.value })} />
          <label htmlFor="b-phones">{t.compose.phones}</label>
          <textarea
            id="b-phones"
            rows={3}
            dir="ltr"
            value={form.phones}
            onChange={(e) => set({ phones: e.target.value })}
          />
          <label htmlFor="b-country">{t.compose.defaultCountry}</label>
          <input
            id="b-country"
            maxLength={2}
            size={3}
            value={form.defaultCountry}
            onChange={(e) => set({ defaultCountry: e.target.value })}
          />
        </fieldset>

        <fieldset>
          <legend>{t.compose.template}</legend>
          <ErrorNote error={templates.error ?? groups.error} />
          <TemplateFields
            idPrefix="b"
            templates={approved}
            contentSid={form.contentSid}
            mappings={form.mappings}
            onChange={(next) => set(next)}
          />
        </fieldset>

        <fieldset>
          <legend>{t.compose.followUp}</legend>
          <label htmlFor="b-follow">{t.compose.followUpBody}</label>
          <textarea
            id="b-follow"
            rows={2}
            value={form.followUpBody}
            onChange={(e) => set({ followUpBody: e.target.value })}
          />
          <label htmlFor="b-payload">{t.compose.confirmPayload}</label>
          <input
            id="b-payload"
            value={form.confirmPayload}
            onChange={(e) => set({ confirmPayload: e.target.value })}
          />
        </fieldset>

        <TimingFields idPrefix="b" value={form.timing ?? NO_TIMING} onChange={(timing) => set({ timing })} />
        {control && <CanaryFields value={form.canary ?? NO_CANARY} onChange={(canary) => set({ canary })} />}

        <label htmlFor="b-when">{t.compose.schedule}</label>
        <input
          id="b-when"
          type="datetime-local"
          value={form.scheduleLocal}
          onChange={(e) => set({ scheduleLocal: e.target.value })}
        />

        <ErrorNote error={error} />
        <div className="actions">
          <button type="submit" disabled={busy}>
            {t.compose.preview}
          </button>
        </div>
      </form>

      {control && <TestSend body={request.body} problems={request.problems.map(problemText).join(' ')} />}

      {preview && (
        <section aria-labelledby="preview-title" className="preview">
          <h2 id="preview-title">{t.compose.previewTitle}</h2>
          {!upToDate && <p role="alert">{t.compose.changed}</p>}
          <dl className="counts">
            <Figure label={t.compose.totalRecipients} value={preview.result.totalRecipients} />
            <Figure label={t.compose.sendCount} value={sendCount} />
            <Figure label={t.compose.skipped} value={preview.result.skippedCount ?? 0} />
            <Figure label={t.compose.invalid} value={preview.result.invalidRecipientsCount} />
            <Figure label={t.compose.duplicates} value={preview.result.duplicateRecipientsCount} />
            <Figure label={t.compose.time} value={formatDuration(preview.result.estimatedSeconds)} />
            {waiting && <Figure label={t.compose.waiting} value={waiting.count} />}
            {preview.result.canary && (
              <Figure
                label={t.canary.figure}
                value={t.canary.split(preview.result.canary.size, preview.result.canary.rest)}
              />
            )}
            {preview.result.estimatedFinishAt && (
              <Figure
                label={t.compose.finishAt}
                value={formatTime(preview.result.estimatedFinishAt, navigator.language)}
              />
            )}
            <Figure
              label={t.compose.cost}
              value={formatMoney(
                preview.result.estimatedCost.amount,
                preview.result.estimatedCost.currency,
                navigator.language,
              )}
            />
          </dl>
          {waitingReasons.length > 0 && (
            <ul aria-label={t.compose.waiting}>
              {waitingReasons.map(([reason, n]) => (
                <li key={reason}>
                  {t.timing.waitReason[reason] ?? reason}: {n}
                </li>
              ))}
              {waiting?.until && (
                <li>
                  {t.compose.waitingUntil}: {formatTime(waiting.until, navigator.language)}
                </li>
              )}
            </ul>
          )}
          {skipped.length > 0 && (
            <ul aria-label={t.compose.skipped}>
              {skipped.map(([reason, n]) => (
                <li key={reason}>
                  {SKIP_REASON_TEXT[reason as SkipReason] ?? reason}: {n}
                </li>
              ))}
            </ul>
          )}
          {template && preview.result.samples.length > 0 && (
            <>
              <h3>{t.compose.samples}</h3>
              <ul>
                {preview.result.samples.slice(0, 3).map((s) => (
                  <li key={s.phone}>
                    <span dir="ltr">{s.phone}</span>: {fillBody(template.body, s.variables)}
                  </li>
                ))}
              </ul>
            </>
          )}
          <button
            type="button"
            className="primary"
            disabled={!upToDate || busy || sendCount === 0}
            onClick={() => setConfirming(true)}
          >
            {t.compose.send}
          </button>
          <Confirm
            open={confirming}
            title={t.compose.send}
            text={
              form.scheduleLocal
                ? t.compose.scheduleConfirm(sendCount, name, new Date(form.scheduleLocal).toLocaleString())
                : t.compose.sendConfirm(sendCount, name)
            }
            confirmLabel={t.compose.send}
            onConfirm={() => void send()}
            onClose={() => setConfirming(false)}
          />
        </section>
      )}
    </section>
  );
}

function Figure({ label, value }: { label: string; value: string | number }): ReactNode {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}
