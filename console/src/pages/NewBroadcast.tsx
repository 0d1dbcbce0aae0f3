import { type ReactNode, useMemo, useRef, useState } from 'react';
import { api, listAll } from '../api.ts';
import { type BroadcastForm, broadcastRequest, SubmissionKeys } from '../logic/broadcast-form.ts';
import { formatDuration, formatMoney } from '../logic/format.ts';
import { defaultMappings, fillBody, type VariableMapping, variableKeys } from '../logic/variables.ts';
import { t } from '../messages.ts';
import type { Group, Preview, Template } from '../types.ts';
import { Confirm, ErrorNote, go, messageOf, useLoad } from '../ui.tsx';

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
};

const PROBLEM_TEXT: Record<string, string> = {
  no_audience: 'Choose at least one group, tag or phone number.',
  no_template: 'Choose a template.',
  missing_variables: 'Give every variable a value (an attribute name or a text).',
  schedule_past: 'The send time must be in the future.',
};

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
  const approved = (templates.data ?? []).filter((x) => x.approval === 'approved');
  const template = approved.find((x) => x.contentSid === form.contentSid);
  const request = useMemo(() => broadcastRequest(form), [form]);
  const upToDate =
    preview !== undefined && request.body !== undefined && JSON.stringify(request.body) === preview.body;

  const set = (patch: Partial<BroadcastForm>) => setForm((f) => ({ ...f, ...patch }));
  const setMapping = (key: string, patch: Partial<VariableMapping>) =>
    setForm((f) => ({
      ...f,
      mappings: { ...f.mappings, [key]: { ...(f.mappings[key] as VariableMapping), ...patch } },
    }));

  async function runPreview() {
    setError(undefined);
    if (!request.body) return setError(request.problems.map((p) => PROBLEM_TEXT[p]).join(' '));
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
          <label htmlFor="b-template">{t.compose.template}</label>
          <select
            id="b-template"
            value={form.contentSid}
            onChange={(e) => {
              const next = approved.find((x) => x.contentSid === e.target.value);
              set({ contentSid: e.target.value, mappings: next ? defaultMappings(next.variables) : {} });
            }}
          >
            <option value="">{t.compose.chooseTemplate}</option>
            {approved.map((x) => (
              <option key={x.contentSid} value={x.contentSid}>
                {x.friendlyName} ({x.language})
              </option>
            ))}
          </select>
          {template && (
            <>
              <h2 className="sub">{t.compose.body}</h2>
              <blockquote className="template-body">{template.body}</blockquote>
              {variableKeys(template.variables).map((key) => {
                const m = form.mappings[key];
                if (!m) return null;
                return (
                  <fieldset key={key} className="variable">
                    <legend>{t.compose.variable(key)}</legend>
                    <label htmlFor={`src-${key}`}>{t.compose.source(key)}</label>
                    <select
                      id={`src-${key}`}
                      value={m.source}
                      onChange={(e) =>
                        setMapping(key, { source: e.target.value as VariableMapping['source'], value: '' })
                      }
                    >
                      <option value="name">{t.compose.fromName}</option>
                      <option value="attribute">{t.compose.fromAttribute}</option>
                      <option value="literal">{t.compose.fromLiteral}</option>
                    </select>
                    {m.source !== 'name' && (
                      <>
                        <label htmlFor={`val-${key}`}>
                          {m.source === 'attribute' ? t.compose.attribute(key) : t.compose.literal(key)}
                        </label>
                        <input
                          id={`val-${key}`}
                          value={m.value}
                          onChange={(e) => setMapping(key, { value: e.target.value })}
                        />
                      </>
                    )}
                    {m.source !== 'literal' && (
                      <>
                        <label htmlFor={`fb-${key}`}>{t.compose.fallback(key)}</label>
                        <input
                          id={`fb-${key}`}
                          value={m.fallback}
                          onChange={(e) => setMapping(key, { fallback: e.target.value })}
                        />
                      </>
                    )}
                  </fieldset>
                );
              })}
            </>
          )}
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
            <Figure
              label={t.compose.cost}
              value={formatMoney(
                preview.result.estimatedCost.amount,
                preview.result.estimatedCost.currency,
                navigator.language,
              )}
            />
          </dl>
          {preview.result.skippedByReason && Object.keys(preview.result.skippedByReason).length > 0 && (
            <ul>
              {Object.entries(preview.result.skippedByReason).map(([reason, n]) => (
                <li key={reason}>
                  {reason}: {n}
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
