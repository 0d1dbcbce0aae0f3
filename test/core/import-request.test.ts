import { describe, expect, it } from 'vitest';
import { checkRouteQuery } from '../../functions/core/broadcast-request.ts';
import { ApiError } from '../../functions/core/errors.ts';
import { ImportQuery, importView } from '../../functions/core/import-request.ts';
import { ZERO_COUNTS } from '../../functions/core/import-tally.ts';
import { type ImportJob, parseImportMessage } from '../../functions/core/imports.ts';
import { openApiDocument } from '../../functions/core/openapi.ts';

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is arbitrary JSON, checked by the matchers.
type Json = Record<string, any>;

describe('the import request', () => {
  it('reads defaultCountry in any case, groupId, and tags as a trimmed, distinct comma list', () => {
    expect(
      ImportQuery.parse({
        defaultCountry: 'il',
        groupId: 'grp_01JD7X1B2C3D4E5F6G7H8J9K0M',
        tags: ' a, b,,a ',
      }),
    ).toEqual({ defaultCountry: 'IL', groupId: 'grp_01JD7X1B2C3D4E5F6G7H8J9K0M', tags: ['a', 'b'] });
    expect(ImportQuery.safeParse({ tags: 'a;b' }).success).toBe(false);
    expect(ImportQuery.safeParse({ groupId: 'grp_x' }).success).toBe(false);
  });

  it('is checked by the admin route before the handler: an unknown parameter is named', () => {
    expect(() => checkRouteQuery('POST /v1/contacts/imports', { defaultCountry: 'IL' })).not.toThrow();
    try {
      checkRouteQuery('POST /v1/contacts/imports', { country: 'IL' });
      throw new Error('expected a refusal');
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).details?.[0]).toMatchObject({ path: 'country' });
    }
    expect(() => checkRouteQuery('GET /v1/contacts/imports', { limit: '10' })).not.toThrow();
    expect(() => checkRouteQuery('GET /v1/contacts/imports/{importId}', { limit: '10' })).toThrow();
  });

  it('shows an import without a checked file with totalRows null and 0 %', () => {
    const job: ImportJob = {
      tenantId: 't',
      importId: 'imp_01JD7X1B2C3D4E5F6G7H8J9K0M',
      status: 'running',
      phase: 'waiting',
      source: 'body',
      options: { tags: [] },
      createdAt: '2026-11-30T10:00:00.000Z',
      updatedAt: '2026-11-30T10:00:00.000Z',
      counts: ZERO_COUNTS,
      errors: [],
      invocations: 0,
    };
    expect(importView(job)).toMatchObject({ totalRows: null, progressPct: 0, processedRows: 0, errors: [] });
    expect(
      importView({ ...job, totalRows: 200, counts: { ...ZERO_COUNTS, processedRows: 199 } }).progressPct,
    ).toBe(99);
    expect(importView({ ...job, status: 'completed', totalRows: 0 }).progressPct).toBe(100);
  });
});

describe('imports queue messages', () => {
  it('reads S3 events (URL-encoded keys), continuations, and ignores S3 test events', () => {
    const event = {
      Records: [
        {
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:CompleteMultipartUpload',
          s3: { bucket: { name: 'b' }, object: { key: 'imports/acme/a+b%2Bc.csv', size: 9, eTag: 'e' } },
        },
        {
          eventSource: 'aws:s3',
          eventName: 'ObjectRemoved:Delete',
          s3: { bucket: { name: 'b' }, object: { key: 'x' } },
        },
      ],
    };
    expect(parseImportMessage(JSON.stringify(event))).toEqual({
      objects: [{ bucket: 'b', key: 'imports/acme/a b+c.csv', size: 9, eTag: 'e' }],
    });
    expect(parseImportMessage('{"kind":"import.continue","tenantId":"t","importId":"imp_1"}')).toEqual({
      continuation: { kind: 'import.continue', tenantId: 't', importId: 'imp_1' },
    });
    expect(parseImportMessage('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}')).toEqual({
      ignore: 'S3 test event',
    });
    expect(parseImportMessage('not json')).toEqual({ ignore: 'not JSON' });
  });
});

describe('the OpenAPI document', () => {
  const doc = openApiDocument() as Json;
  it('describes the upload and import routes with their schemas', () => {
    expect(doc.paths['/v1/uploads'].post.responses['201'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Upload',
    });
    const create = doc.paths['/v1/contacts/imports'].post;
    expect(Object.keys(create.requestBody.content).sort()).toEqual(['application/json', 'text/csv']);
    expect(create.parameters.map((p: Json) => p.name)).toEqual([
      'defaultCountry',
      'groupId',
      'tags',
      'Idempotency-Key',
    ]);
    expect(create.responses['202'].headers.Location).toBeDefined();
    expect(doc.paths['/v1/contacts/imports'].get.responses['200'].content['application/json'].schema).toEqual(
      {
        $ref: '#/components/schemas/ImportPage',
      },
    );
    const view = doc.components.schemas.Import;
    expect(view.required).toEqual(
      expect.arrayContaining(['importId', 'status', 'totalRows', 'errors', 'progressPct']),
    );
    expect(doc.components.schemas.ImportRowError.properties.reason.enum).toEqual(
      expect.arrayContaining(['scientific_notation', 'missing_phone', 'column_count', 'contact_limit']),
    );
  });
});
