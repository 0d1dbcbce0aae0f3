/**
 * What a JSON route accepts as its body's media type (API.md "Conventions": JSON in, UTF-8).
 * The media type is compared case-insensitively and parameters are allowed (RFC 9110 §8.3.1), but
 * the only charset is UTF-8, the only one JSON may use between systems (RFC 8259 §8.1).
 */

/**
 * Why a `Content-Type` header is not a JSON body's, in words for the error's details; undefined
 * when it is `application/json` (with `charset=utf-8` or no charset).
 */
export function jsonContentTypeProblem(contentType: string | undefined): string | undefined {
  if (contentType === undefined || contentType.trim() === '') return 'no Content-Type header was sent';
  const [type = '', ...parameters] = contentType.split(';');
  const mediaType = type.trim().toLowerCase();
  if (mediaType !== 'application/json') return `got ${quoted(mediaType || contentType.trim())}`;
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'charset') continue;
    const charset = value
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return `charset ${quoted(charset)}: only utf-8 is read`;
  }
  return undefined;
}

const quoted = (text: string) => `'${text.slice(0, 100)}'`;
