import { describe, expect, it } from 'vitest';
import { jsonContentTypeProblem } from '../../functions/core/media-type.ts';

describe('jsonContentTypeProblem', () => {
  it('accepts application/json, with a UTF-8 charset or none, in any case', () => {
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON;charset=UTF-8',
      'application/json; charset="utf-8"',
      'application/json; charset=utf8',
    ])
      expect(jsonContentTypeProblem(type), type).toBeUndefined();
  });

  it('says what is wrong with anything else', () => {
    expect(jsonContentTypeProblem(undefined)).toBe('no Content-Type header was sent');
    expect(jsonContentTypeProblem('  ')).toBe('no Content-Type header was sent');
    expect(jsonContentTypeProblem('text/plain')).toBe("got 'text/plain'");
    expect(jsonContentTypeProblem('text/plain;charset=UTF-8')).toBe("got 'text/plain'");
    expect(jsonContentTypeProblem('application/x-www-form-urlencoded')).toBe(
      "got 'application/x-www-form-urlencoded'",
    );
    expect(jsonContentTypeProblem('multipart/form-data; boundary=x')).toBe("got 'multipart/form-data'");
    expect(jsonContentTypeProblem('application/jsonp')).toBe("got 'application/jsonp'");
    expect(jsonContentTypeProblem('application/json; charset=latin1')).toBe(
      "charset 'latin1': only utf-8 is read",
    );
  });
});
