import { type FormEvent, type ReactNode, useMemo, useState } from 'react';
import { api, listAll } from '../api.ts';
import { capabilities } from '../capabilities.ts';
import { splitList } from '../logic/broadcast-form.ts';
import { formatTime } from '../logic/format.ts';
import {
  browserTimeZone,
  type Preset,
  type ScheduleChoice,
  scheduleExpression,
  WEEKDAYS,
  type Weekday,
} from '../logic/schedule-presets.ts';
import { NO_TIMING, type TimingFields as Timing, timingOptions } from '../logic/send-timing.ts';
import { compileVariables, type VariableMapping } from '../logic/variables.ts';
import { t } from '../messages.ts';
import type { Group, Page, Template } from '../types.ts';
import { Confirm, ErrorNote, go, messageOf, Notice, StatusBadge, useLoad } from '../ui.tsx';
import { TemplateFields } from './TemplateFields.tsx';
import { TimingFields } from './TimingFields.tsx';

interface Campaign {
  campaignId: string;
  name: string;
  status: string;
  nextRunAt?: string;
  nextRuns?: string[];
  schedule?: { expression: string; timeZone?: string };
  quietHours?: { start: string; end: string };
  frequencyCap?: { max: number; days: number };
  runs?: {
    scheduledFor: string;
    broadcastId?: string;
    status: string;
    reason?: string;
    error?: { message: string };
  }[];
}

/** Campaigns (API.md, "Campaigns"): list and create with presets, one campaign's next runs and runs, pause/resume. */
export function Campaigns({ campaignId }: { campaignId?: string }): ReactNode {
  const caps = useLoad(() => capabilities(), []);
  if (!caps.data) return <p>{t.common.loading}</p>;
  if (!caps.data.has('GET /v1/campaigns'))
    return (
      <section aria-labelledby="campaigns-title">
        <h1 id="campaigns-title">{t.campaigns.title}</h1>
        <p>{t.campaigns.unavailable}</p>
      </section>
    );
  return campaignId ? <CampaignView id={campaignId} /> : <CampaignList />;
}

function CampaignList(): ReactNode {
  const list = useLoad(() => api<Page<Campaign>>('GET', '/v1/campaigns', { query: { limit: 100 } }), []);
  return (
    <section aria-labelledby="campaigns-title">
      <h1 id="campaigns-title">{t.campaigns.title}</h1>
      <ErrorNote error={list.error} />
      {list.data && list.data.items.length === 0 && <p>{t.common.none}</p>}
      {list.data && list.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t.broadcasts.name}</th>
              <th scope="col">{t.broadcasts.status}</th>
              <th scope="col">{t.campaigns.schedule}</th>
              <th scope="col">{t.campaigns.nextRun}</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((c) => (
              <tr key={c.campaignId}>
                <td>
                  <a href={`#/campaigns/${c.campaignId}`}>{c.name}</a>
                </td>
                <td>
                  <StatusBadge status={c.status} />
                </td>
                <td dir="ltr">
                  {c.schedule?.expression} {c.schedule?.timeZone ?? ''}
                </td>
                <td>{formatTime(c.nextRunAt, navigator.language, c.schedule?.timeZone)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <NewCampaign onCreated={(id) => go('campaigns', id)} />
    </section>
  );
}

function NewCampaign({ onCreated }: { onCreated: (id: string) => void }): ReactNode {
  const templates = useLoad(() => listAll<Template>('/v1/templates', { approval: 'approved' }), []);
  const groups = useLoad(() => listAll<Group>('/v1/groups'), []);
  const [name, setName] = useState('');
  const [groupIds, setGroupIds] = useState<string[]>([]);
  const [tags, setTags] = useState('');
  const [template, setTemplate] = useState<{ contentSid: string; mappings: Record<string, VariableMapping> }>(
    {
      contentSid: '',
      mappings: {},
    },
  );
  const [choice, setChoice] = useState<ScheduleChoice>({
    preset: 'weekly',
    time: '09:00',
    weekday: 'MON',
    dayOfMonth: 1,
    at: '',
    expression: '',
  });
  const [timeZone, setTimeZone] = useState(browserTimeZone);
  const [timing, setTiming] = useState<Timing>(NO_TIMING);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const schedule = useMemo(() => scheduleExpression(choice), [choice]);
  const approved = (templates.data ?? []).filter((x) => x.approval === 'approved');

  async function create(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    if ('error' in schedule) return setError(t.campaigns.problems[schedule.error]);
    const { variables, missing } = compileVariables(template.mappings);
    if (!template.contentSid || missing.length > 0) return setError(t.campaigns.problems.template);
    const options = timingOptions(timing);
    if (options.problems.length > 0)
      return setError(options.problems.map((p) => t.timing.problems[p]).join(' '));
    setBusy(true);
    try {
      const created = await api<{ campaignId: string }>('POST', '/v1/campaigns', {
        body: {
          name: name.trim(),
          audience: {
            ...(groupIds.length ? { groupIds } : {}),
            ...(splitList(tags).length ? { tags: splitList(tags) } : {}),
          },
          template: { contentSid: template.contentSid, variables },
          schedule: { expression: schedule.expression, timeZone: timeZone.trim() || 'UTC' },
          ...options.options,
        },
      });
      onCreated(created.campaignId);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  const presets: [Preset, string][] = [
    ['daily', t.campaigns.daily],
    ['weekly', t.campaigns.weekly],
    ['monthly', t.campaigns.monthly],
    ['once', t.campaigns.once],
    ['custom', t.campaigns.custom],
  ];
  return (
    <form onSubmit={create} className="panel" aria-labelledby="new-campaign-title">
      <h2 id="new-campaign-title">{t.campaigns.create}</h2>
      <label htmlFor="c-name">{t.campaigns.name}</label>
      <input id="c-name" required value={name} onChange={(e) => setName(e.target.value)} />
      <fieldset>
        <legend>{t.compose.audience}</legend>
        {groups.data?.map((g) => (
          <label key={g.groupId} className="check">
            <input
              type="checkbox"
              checked={groupIds.includes(g.groupId)}
              onChange={(e) =>
                setGroupIds(
                  e.target.checked ? [...groupIds, g.groupId] : groupIds.filter((id) => id !== g.groupId),
                )
              }
            />
            {g.name} ({g.memberCount})
          </label>
        ))}
        <label htmlFor="c-tags">{t.compose.tags}</label>
        <input id="c-tags" value={tags} onChange={(e) => setTags(e.target.value)} />
      </fieldset>
      <fieldset>
        <legend>{t.compose.template}</legend>
        <ErrorNote error={templates.error} />
        <TemplateFields
          idPrefix="c"
          templates={approved}
          contentSid={template.contentSid}
          mappings={template.mappings}
          onChange={setTemplate}
        />
      </fieldset>
      <fieldset>
        <legend>{t.campaigns.schedule}</legend>
        <label htmlFor="c-preset">{t.campaigns.repeat}</label>
        <select
          id="c-preset"
          value={choice.preset}
          onChange={(e) => setChoice({ ...choice, preset: e.target.value as Preset })}
        >
          {presets.map(([p, label]) => (
            <option key={p} value={p}>
              {label}
            </option>
          ))}
        </select>
        {choice.preset === 'weekly' && (
          <>
            <label htmlFor="c-weekday">{t.campaigns.weekday}</label>
            <select
              id="c-weekday"
              value={choice.weekday}
              onChange={(e) => setChoice({ ...choice, weekday: e.target.value as Weekday })}
            >
              {WEEKDAYS.map((d) => (
                <option key={d} value={d}>
                  {t.campaigns.weekdays[d]}
                </option>
              ))}
            </select>
          </>
        )}
        {choice.preset === 'monthly' && (
          <>
            <label htmlFor="c-day">{t.campaigns.dayOfMonth}</label>
            <input
              id="c-day"
              type="number"
              min={1}
              max={28}
              value={choice.dayOfMonth}
              onChange={(e) => setChoice({ ...choice, dayOfMonth: Number(e.target.value) })}
            />
          </>
        )}
        {['daily', 'weekly', 'monthly'].includes(choice.preset) && (
          <>
            <label htmlFor="c-time">{t.campaigns.time}</label>
            <input
              id="c-time"
              type="time"
              value={choice.time}
              onChange={(e) => setChoice({ ...choice, time: e.target.value })}
            />
          </>
        )}
        {choice.preset === 'once' && (
          <>
            <label htmlFor="c-at">{t.campaigns.at}</label>
            <input
              id="c-at"
              type="datetime-local"
              value={choice.at}
              onChange={(e) => setChoice({ ...choice, at: e.target.value })}
            />
          </>
        )}
        {choice.preset === 'custom' && (
          <>
            <label htmlFor="c-expr">{t.campaigns.expression}</label>
            <input
              id="c-expr"
              dir="ltr"
              value={choice.expression}
              onChange={(e) => setChoice({ ...choice, expression: e.target.value })}
            />
          </>
        )}
        <label htmlFor="c-tz">{t.campaigns.timeZone}</label>
        <input id="c-tz" dir="ltr" value={timeZone} onChange={(e) => setTimeZone(e.target.value)} />
        <p className="hint" dir="ltr">
          {'expression' in schedule ? schedule.expression : ''}
        </p>
      </fieldset>
      <TimingFields idPrefix="c" value={timing} onChange={setTiming} />
      <ErrorNote error={error} />
      <button type="submit" className="primary" disabled={busy}>
        {t.campaigns.create}
      </button>
    </form>
  );
}

function CampaignView({ id }: { id: string }): ReactNode {
  const path = `/v1/campaigns/${encodeURIComponent(id)}`;
  const campaign = useLoad(() => api<Campaign>('GET', path), [id], { pollMs: 5000 });
  const [asking, setAsking] = useState(false);
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();
  const c = campaign.data;
  async function act(run: () => Promise<unknown>, done?: string) {
    setError(undefined);
    try {
      await run();
      setNotice(done);
      campaign.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  }
  return (
    <section aria-labelledby="campaign-title">
      <p>
        <a href="#/campaigns">{t.campaigns.title}</a>
      </p>
      <h1 id="campaign-title">{c?.name ?? id}</h1>
      <ErrorNote error={campaign.error ?? error} />
      <Notice text={notice} />
      {c && (
        <>
          <p>
            <StatusBadge status={c.status} /> ·{' '}
            <span dir="ltr">
              {c.schedule?.expression} {c.schedule?.timeZone ?? ''}
            </span>
          </p>
          {(c.quietHours || c.frequencyCap) && (
            <p>
              {t.detail.timing(
                c.quietHours ? t.timing.quietShort(c.quietHours.start, c.quietHours.end) : '',
                c.frequencyCap ? t.timing.capShort(c.frequencyCap.max, c.frequencyCap.days) : '',
              )}
            </p>
          )}
          <div className="actions">
            {c.status === 'active' && (
              <button type="button" onClick={() => void act(() => api('POST', `${path}/pause`))}>
                {t.campaigns.pause}
              </button>
            )}
            {c.status === 'paused' && (
              <button type="button" onClick={() => void act(() => api('POST', `${path}/resume`))}>
                {t.campaigns.resume}
              </button>
            )}
            <button type="button" className="danger" onClick={() => setAsking(true)}>
              {t.campaigns.remove}
            </button>
          </div>
          <Confirm
            open={asking}
            title={t.campaigns.remove}
            text={t.campaigns.removeConfirm(c.name)}
            confirmLabel={t.campaigns.remove}
            onConfirm={() => void act(() => api('DELETE', path)).then(() => go('campaigns'))}
            onClose={() => setAsking(false)}
          />
          <h2>{t.campaigns.nextRuns}</h2>
          <ul>
            {(c.nextRuns ?? (c.nextRunAt ? [c.nextRunAt] : [])).map((at) => (
              <li key={at}>{formatTime(at, navigator.language, c.schedule?.timeZone)}</li>
            ))}
          </ul>
          <h2>{t.campaigns.runs}</h2>
          {(c.runs ?? []).length === 0 ? (
            <p>{t.campaigns.noRuns}</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t.campaigns.scheduledFor}</th>
                  <th scope="col">{t.broadcasts.status}</th>
                  <th scope="col">{t.campaigns.broadcast}</th>
                  <th scope="col">{t.campaigns.note}</th>
                </tr>
              </thead>
              <tbody>
                {(c.runs ?? []).map((r) => (
                  <tr key={r.scheduledFor}>
                    <td>{formatTime(r.scheduledFor, navigator.language, c.schedule?.timeZone)}</td>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td>{r.broadcastId && <a href={`#/broadcasts/${r.broadcastId}`}>{r.broadcastId}</a>}</td>
                    <td>{r.reason ?? r.error?.message ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
