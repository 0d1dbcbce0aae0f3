import type { StreamFilterPattern, StreamFilterValue } from '../topology.ts';

/**
 * Lambda event filtering (the event source mapping's FilterCriteria) on one stream record, for the
 * patterns the topology uses: every field a pattern names must be in the record; a list matches when
 * the record's value equals one of its strings or starts with one of its `{ prefix }`es; an object
 * matches the record's object field by field. A record passes when any of the patterns matches
 * (Lambda ORs a mapping's filters). Source: Lambda developer guide, "Control which events Lambda
 * sends to your function" (filter rule syntax: exact values and prefix matching).
 */
export function matchesAnyFilter(record: unknown, patterns: readonly StreamFilterPattern[]): boolean {
  return patterns.some((pattern) => matches(record, pattern));
}

function matches(value: unknown, pattern: StreamFilterPattern | readonly StreamFilterValue[]): boolean {
  if (Array.isArray(pattern))
    return (
      typeof value === 'string' &&
      (pattern as readonly StreamFilterValue[]).some((rule) =>
        typeof rule === 'string' ? value === rule : value.startsWith(rule.prefix),
      )
    );
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(pattern as StreamFilterPattern).every(([key, inner]) =>
    matches((value as Record<string, unknown>)[key], inner),
  );
}
