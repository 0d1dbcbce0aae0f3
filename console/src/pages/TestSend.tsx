import { type ReactNode, useState } from 'react';
import { api } from '../api.ts';
import { MAX_TEST_PHONES, testPhonesOf } from '../logic/broadcast-form.ts';
import { t } from '../messages.ts';
import { ErrorNote, messageOf } from '../ui.tsx';

interface TestSendAnswer {
  broadcastId: string;
  testPhones: { phone: string; valuesFrom: 'contact' | 'sample' }[];
  sample?: { phone: string };
}

/**
 * "Send a test" (POST /v1/broadcasts/test-send): the form's message to 1–10 test phones only, now,
 * as a broadcast marked test (not counted in metrics, caps or the daily limit). `body` is what the
 * form would send, or undefined while the form has problems (`problems` words them).
 */
export function TestSend({
  body,
  problems,
}: {
  body?: Record<string, unknown>;
  problems: string;
}): ReactNode {
  const [phones, setPhones] = useState('');
  const [error, setError] = useState<string>();
  const [sent, setSent] = useState<TestSendAnswer>();
  const [busy, setBusy] = useState(false);

  async function send() {
    setError(undefined);
    setSent(undefined);
    const list = testPhonesOf(phones);
    if ('problem' in list) return setError(t.testSend[list.problem]);
    if (!body) return setError(problems);
    setBusy(true);
    try {
      setSent(
        await api<TestSendAnswer>('POST', '/v1/broadcasts/test-send', {
          body: { ...body, testPhones: list.phones },
        }),
      );
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="test-send-title" className="panel">
      <h2 id="test-send-title">{t.testSend.title}</h2>
      <p className="hint" id="test-phones-hint">
        {t.testSend.hint(MAX_TEST_PHONES)}
      </p>
      <label htmlFor="b-test-phones">{t.testSend.phones}</label>
      <textarea
        id="b-test-phones"
        rows={2}
        dir="ltr"
        aria-describedby="test-phones-hint"
        value={phones}
        onChange={(e) => setPhones(e.target.value)}
      />
      <ErrorNote error={error} />
      {sent && (
        <div role="status">
          <p>
            {t.testSend.sent(sent.testPhones.length)}{' '}
            <a href={`#/broadcasts/${sent.broadcastId}`}>{t.testSend.open}</a>
          </p>
          <ul>
            {sent.testPhones.map((p) => (
              <li key={p.phone}>
                <span dir="ltr">{p.phone}</span>:{' '}
                {p.valuesFrom === 'contact'
                  ? t.testSend.fromContact
                  : t.testSend.fromSample(sent.sample?.phone ?? '')}
              </li>
            ))}
          </ul>
        </div>
      )}
      <button type="button" disabled={busy} onClick={() => void send()}>
        {t.testSend.send}
      </button>
    </section>
  );
}
