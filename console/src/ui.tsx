import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { ApiProblem } from './api.ts';
import { t } from './messages.ts';

/** The current hash route ("#/broadcasts/brd_…" → ["broadcasts", "brd_…"]). */
export function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
}

export function go(...parts: string[]): void {
  location.hash = `#/${parts.map(encodeURIComponent).join('/')}`;
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiProblem) return t.common.error(error.message);
  return error instanceof Error ? error.message : String(error);
}

/**
 * Loads with `load` now, whenever `deps` change, and every `pollMs` while `poll` says so (live
 * progress without a manual refresh). A failed poll keeps the last data and shows the error.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  options: {
    /** Milliseconds to the next load; a function of the data may answer undefined to stop. */
    pollMs?: number | ((data: T | undefined) => number | undefined);
    poll?: (data: T | undefined) => boolean;
  } = {},
): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  const pollRef = useRef(options.poll);
  pollRef.current = options.poll;
  const pollMsRef = useRef(options.pollMs);
  pollMsRef.current = options.pollMs;
  // biome-ignore lint/correctness/useExhaustiveDependencies: reloads on the caller's deps and on reload().
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      let current: T | undefined;
      try {
        current = await latest.current();
        if (!live) return;
        setData(current);
        setError(undefined);
      } catch (e) {
        if (!live) return;
        setError(messageOf(e));
      }
      const every = pollMsRef.current;
      const ms = typeof every === 'function' ? every(current) : every;
      if (live && ms && (pollRef.current?.(current) ?? true)) timer = setTimeout(run, ms);
    };
    void run();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, reload };
}

export function ErrorNote({ error }: { error: string | undefined }): ReactNode {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {error}
    </p>
  );
}

export function Notice({ text }: { text: string | undefined }): ReactNode {
  return (
    <p role="status" className="notice">
      {text ?? ''}
    </p>
  );
}

/** A progress bar whose accessible name is `label` and whose value is `value` (0–100). */
export function ProgressBar({ label, value }: { label: string; value: number }): ReactNode {
  const pct = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct}
      aria-valuetext={`${pct}%`}
    >
      <div className="progress-track">
        <div className="progress-fill" style={{ inlineSize: `${pct}%` }} />
      </div>
      <span className="progress-text">{pct}%</span>
    </div>
  );
}

/**
 * A confirmation in a modal <dialog> (focus moves into it, Escape closes it: the browser's own
 * accessible modal). `onConfirm` runs once per opening, so a double click confirms once.
 */
export function Confirm(props: {
  open: boolean;
  title: string;
  text: string;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
}): ReactNode {
  const ref = useRef<HTMLDialogElement>(null);
  const done = useRef(false);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) {
      done.current = false;
      dialog.showModal();
    } else if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onClose={props.onClose}>
      <h2 id="confirm-title">{props.title}</h2>
      <p>{props.text}</p>
      <div className="actions">
        <button
          type="button"
          className="primary"
          onClick={() => {
            if (done.current) return;
            done.current = true;
            props.onConfirm();
            props.onClose();
          }}
        >
          {props.confirmLabel}
        </button>
        <button type="button" onClick={props.onClose}>
          {t.common.keep}
        </button>
      </div>
    </dialog>
  );
}

/** Saves text as a file the browser downloads (exports, import errors). */
export function download(filename: string, text: string, type = 'text/csv;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function StatusBadge({ status }: { status: string }): ReactNode {
  return <span className={`badge badge-${status}`}>{t.status[status] ?? status}</span>;
}
