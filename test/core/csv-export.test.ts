import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  attachment,
  type CsvColumn,
  escapedBytes,
  wantsCsv,
  writeCsv,
} from '../../functions/core/csv-export.ts';

type Row = { phone: string; name?: string; plots?: number; organic?: boolean };
const columns: CsvColumn<Row>[] = [
  { header: 'phone', value: (r) => r.phone },
  { header: 'name', value: (r) => r.name },
  { header: 'plots', value: (r) => r.plots },
  { header: 'organic', value: (r) => r.organic },
];

describe('writeCsv', () => {
  it('writes a BOM, a header, RFC 4180 fields with CRLF, and escapes formulas (numbers aside)', () => {
    const rows: Row[] = [
      { phone: '+972501234567', name: 'Levi, Dana', plots: -3, organic: false },
      { phone: '+972501234568', name: 'line\nbreak "quoted"', plots: 2.5, organic: true },
      { phone: '+972501234569', name: '=HYPERLINK("http://x","y")' },
      { phone: '+972501234570', name: 'שלום עולם' },
      { phone: '+972501234571', name: '@SUM(1)' },
    ];
    const { body, written } = writeCsv(columns, rows);
    expect(written).toBe(5);
    expect(body.startsWith('\ufeffphone,name,plots,organic\r\n')).toBe(true);
    expect(body).toContain('"line\nbreak ""quoted"""');
    expect(body.endsWith('\r\n')).toBe(true);
    const parsed = parse(body, { bom: true, columns: true }) as Record<string, string>[];
    expect(parsed).toEqual([
      { phone: "'+972501234567", name: 'Levi, Dana', plots: '-3', organic: 'false' },
      { phone: "'+972501234568", name: 'line\nbreak "quoted"', plots: '2.5', organic: 'true' },
      { phone: "'+972501234569", name: `'=HYPERLINK("http://x","y")`, plots: '', organic: '' },
      { phone: "'+972501234570", name: 'שלום עולם', plots: '', organic: '' },
      { phone: "'+972501234571", name: "'@SUM(1)", plots: '', organic: '' },
    ]);
  });

  it('cuts before the row that would pass the byte budget (as JSON carries it) or at the row limit', () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({ phone: `+97250${i}`, name: '"'.repeat(50) }));
    const { body, written } = writeCsv(columns, rows, { maxBytes: 2000 });
    expect(escapedBytes(body)).toBeLessThanOrEqual(2000);
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(100);
    expect(escapedBytes(writeCsv(columns, rows.slice(0, written + 1)).body)).toBeGreaterThan(2000);
    expect(writeCsv(columns, rows, { maxRows: 7 }).written).toBe(7);
  });
});

describe('wantsCsv', () => {
  it('follows ?format first, then an Accept header preferring text/csv', () => {
    expect(wantsCsv('csv', undefined)).toBe(true);
    expect(wantsCsv('json', 'text/csv')).toBe(false);
    expect(wantsCsv(undefined, 'text/csv')).toBe(true);
    expect(wantsCsv(undefined, 'text/csv;q=0.9, application/json')).toBe(false);
    expect(wantsCsv(undefined, 'application/json;q=0.5, text/csv')).toBe(true);
    expect(wantsCsv(undefined, '*/*')).toBe(false);
    expect(wantsCsv(undefined, undefined)).toBe(false);
    expect(wantsCsv(undefined, 'text/csv;q=0')).toBe(false);
  });

  it('names downloads with safe ASCII only', () => {
    expect(attachment('grp_01ABC-members.csv')).toBe('attachment; filename="grp_01ABC-members.csv"');
    expect(attachment('a"b\r\n.csv')).toBe('attachment; filename="a_b__.csv"');
  });
});
