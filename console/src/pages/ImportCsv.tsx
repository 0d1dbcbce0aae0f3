import { parse } from 'csv-parse/browser/esm/sync';
import { stringify } from 'csv-stringify/browser/esm/sync';
import { type ReactNode, useState } from 'react';
import { api } from '../api.ts';
import { type ColumnRole, guessRoles, mappingProblems, remapRows } from '../logic/csv-columns.ts';
import { t } from '../messages.ts';
import type { ImportStatus } from '../types.ts';
import { download, ErrorNote, messageOf, ProgressBar } from '../ui.tsx';

/** Measured in the README: 80,000 rows are a 5.67 MB body and a 6.04 MB event, under Lambda's 6 MiB. */
const MAX_BODY_BYTES = 5_500_000;

const ROLES: [ColumnRole, string][] = [
  ['phone', t.groups.rolePhone],
  ['name', t.groups.roleName],
  ['tags', t.groups.roleTags],
  ['attribute', t.groups.roleAttribute],
  ['ignore', t.groups.roleIgnore],
];

/**
 * CSV import into a group: the file is read in the browser, its columns mapped (guessed, then
 * changed by the admin), and the remapped CSV sent to POST /v1/contacts/imports; progress is
 * polled from GET /v1/contacts/imports/{id}, and rows with errors can be downloaded.
 */
export function ImportCsv({ groupId, onDone }: { groupId: string; onDone: () => void }): ReactNode {
  const [rows, setRows] = useState<string[][]>();
  const [roles, setRoles] = useState<ColumnRole[]>([]);
  const [country, setCountry] = useState('');
  const [status, setStatus] = useState<ImportStatus>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function read(file: File) {
    setError(undefined);
    setStatus(undefined);
    try {
      const parsed = parse(await file.text(), {
        bom: true,
        delimiter: [',', ';'],
        relax_column_count: true,
        skip_empty_lines: true,
      }) as string[][];
      setRows(parsed);
      setRoles(guessRoles(parsed[0] ?? []));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function start() {
    if (!rows) return;
    setBusy(true);
    setError(undefined);
    try {
      const csv = stringify(remapRows(rows, roles), { record_delimiter: 'windows' });
      // The body travels in Lambda's 6 MB event as a JSON string (README, "Two ways in").
      const bytes = new Blob([csv]).size;
      if (bytes > MAX_BODY_BYTES) {
        setError(t.groups.tooLarge((bytes / 1_000_000).toFixed(1)));
        return;
      }
      const started = await api<{ importId: string }>('POST', '/v1/contacts/imports', {
        csv,
        query: { groupId, defaultCountry: country.trim().toUpperCase() || undefined },
      });
      let current: ImportStatus;
      do {
        current = await api<ImportStatus>(
          'GET',
          `/v1/contacts/imports/${encodeURIComponent(started.importId)}`,
        );
        setStatus(current);
        if (current.status === 'running') await new Promise((r) => setTimeout(r, 700));
      } while (current.status === 'running');
      onDone();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  const problems = rows ? mappingProblems(roles) : [];
  const pct =
    status && status.totalRows > 0
      ? (100 * status.processedRows) / status.totalRows
      : status?.status === 'running'
        ? 0
        : 100;
  return (
    <section aria-labelledby="import-title" className="panel">
      <h2 id="import-title">{t.groups.import}</h2>
      <label htmlFor="csv-file">{t.groups.file}</label>
      <input
        id="csv-file"
        type="file"
        accept=".csv,text/csv"
        onChange={(e) => e.target.files?.[0] && void read(e.target.files[0])}
      />
      <label htmlFor="csv-country">{t.compose.defaultCountry}</label>
      <input
        id="csv-country"
        maxLength={2}
        size={3}
        value={country}
        onChange={(e) => setCountry(e.target.value)}
      />
      {rows?.[0] && (
        <fieldset>
          <legend>{t.groups.mapping}</legend>
          {rows[0].map((header, i) => (
            <div key={`${header}-${i.toString()}`} className="mapping">
              <label htmlFor={`col-${i}`}>{t.groups.columnRole(header)}</label>
              <select
                id={`col-${i}`}
                value={roles[i]}
                onChange={(e) =>
                  setRoles(roles.map((r, j) => (j === i ? (e.target.value as ColumnRole) : r)))
                }
              >
                {ROLES.map(([role, label]) => (
                  <option key={role} value={role}>
                    {label}
                  </option>
                ))}
              </select>
            </div>
          ))}
        </fieldset>
      )}
      {problems.includes('no_phone') && <p role="alert">{t.groups.noPhoneColumn}</p>}
      <ErrorNote error={error} />
      <button
        type="button"
        className="primary"
        disabled={!rows || busy || problems.length > 0}
        onClick={() => void start()}
      >
        {t.groups.startImport}
      </button>
      {status && (
        <>
          <ProgressBar label={t.groups.importProgress} value={pct} />
          {status.status !== 'running' && (
            <p role="status">
              {t.groups.importDone(status.createdCount, status.updatedCount, status.invalidCount)}
            </p>
          )}
          {status.errors.length > 0 && (
            <button
              type="button"
              onClick={() =>
                download(
                  `${status.importId}-errors.csv`,
                  `\uFEFF${stringify(
                    status.errors.map((e) => ({
                      row: e.row,
                      line: e.line ?? '',
                      column: e.column ?? '',
                      input: e.input,
                      reason: e.reason,
                    })),
                    { header: true, record_delimiter: 'windows', escape_formulas: true },
                  )}`,
                )
              }
            >
              {t.groups.downloadErrors}
            </button>
          )}
        </>
      )}
    </section>
  );
}
