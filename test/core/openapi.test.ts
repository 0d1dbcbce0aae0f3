import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../functions/core/openapi.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking a JSON document by its keys
type Json = Record<string, any>;

describe('openApiDocument', () => {
  const doc = JSON.parse(JSON.stringify(openApiDocument())) as Json;

  it('is an OpenAPI 3.1 JSON document', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
  });

  it('has every path of API.md', () => {
    const expected: [string, string][] = [
      ['/v1/broadcasts', 'post'],
      ['/v1/broadcasts', 'get'],
      ['/v1/broadcasts/{id}', 'get'],
      ['/v1/broadcasts/{id}/progress', 'get'],
      ['/v1/broadcasts/{id}/recipients', 'get'],
      ['/v1/broadcasts/{id}/cancel', 'post'],
      ['/v1/broadcasts/{id}/retry', 'post'],
      ['/v1/metrics', 'get'],
      ['/v1/suppressions', 'get'],
      ['/v1/suppressions', 'post'],
      ['/v1/suppressions/{phone}', 'delete'],
      ['/v1/contacts/{phone}/messages', 'get'],
      ['/v1/contacts', 'get'],
      ['/v1/contacts/{phone}', 'put'],
      ['/v1/contacts/{phone}', 'get'],
      ['/v1/contacts/{phone}', 'delete'],
      ['/v1/groups', 'post'],
      ['/v1/groups', 'get'],
      ['/v1/groups/{id}', 'get'],
      ['/v1/groups/{id}', 'delete'],
      ['/v1/groups/{id}/members', 'post'],
      ['/v1/groups/{id}/members', 'get'],
      ['/v1/groups/{id}/members/{phone}', 'delete'],
      ['/v1/templates', 'get'],
      ['/v1/templates/{contentSid}', 'get'],
      ['/v1/campaigns', 'post'],
      ['/v1/campaigns', 'get'],
      ['/v1/campaigns/{id}', 'get'],
      ['/v1/campaigns/{id}', 'delete'],
      ['/v1/campaigns/{id}/pause', 'post'],
      ['/v1/campaigns/{id}/resume', 'post'],
      ['/v1/campaigns/{id}/test-send', 'post'],
      ['/v1/api-keys', 'post'],
      ['/v1/api-keys', 'get'],
      ['/v1/api-keys/{keyId}', 'delete'],
      ['/v1/api-keys/{keyId}/rotate', 'post'],
      ['/v1/audit', 'get'],
      ['/healthz', 'get'],
      ['/openapi.json', 'get'],
      ['/webhooks/twilio/status', 'post'],
      ['/webhooks/twilio/inbound', 'post'],
    ];
    for (const [path, method] of expected)
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });

  it('gives every admin operation its role, 403 FORBIDDEN and 429 RATE_LIMITED', () => {
    for (const [path, item] of Object.entries(doc.paths as Json))
      for (const op of Object.values(item as Json) as Json[]) {
        if (!path.startsWith('/v1/')) continue;
        expect(op['x-required-role'], path).toMatch(/^(viewer|sender|admin)$/);
        expect(op.responses['403'], path).toEqual({ $ref: '#/components/responses/Error403' });
        expect(op.responses['429'], path).toEqual({ $ref: '#/components/responses/Error429' });
      }
    expect(doc.paths['/v1/api-keys'].post['x-required-role']).toBe('admin');
    expect(doc.paths['/v1/broadcasts'].get['x-required-role']).toBe('viewer');
    expect(doc.components.schemas.CreatedApiKey.required).toContain('apiKey');
    expect(doc.components.schemas.ApiKey.properties.apiKey).toBeUndefined();
  });

  it('puts bearer security on /v1/* and none on the open routes', () => {
    expect(doc.components.securitySchemes.bearerAuth).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    );
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const op of Object.values(item as Json) as Json[]) {
        if (path.startsWith('/v1/')) expect(op.security, path).toEqual([{ bearerAuth: [] }]);
        else expect(op.security, path).toEqual([]);
      }
    }
  });

  it('the request schema requires template and template.contentSid, recipients or an audience, and rejects unknown fields', () => {
    const body = doc.paths['/v1/broadcasts'].post.requestBody.content['application/json'].schema;
    expect(body).toEqual({ $ref: '#/components/schemas/CreateBroadcastRequest' });
    const request = doc.components.schemas.CreateBroadcastRequest;
    expect(request.required).toEqual(['template']);
    expect(request.anyOf).toEqual([{ required: ['recipients'] }, { required: ['audience'] }]);
    expect(request.properties.audience).toEqual({ $ref: '#/components/schemas/Audience' });
    expect(request.additionalProperties).toBe(false);
    expect(request.properties.template).toEqual({ $ref: '#/components/schemas/TemplateRef' });
    const template = doc.components.schemas.TemplateRef;
    expect(template.required).toContain('contentSid');
    expect(template.properties.contentSid.pattern).toBe('^HX[0-9a-fA-F]{32}$');
  });

  it('describes the error responses with the one error shape', () => {
    const post = doc.paths['/v1/broadcasts'].post;
    for (const status of ['400', '401', '409', '413', '503']) {
      expect(post.responses[status]).toEqual({ $ref: `#/components/responses/Error${status}` });
    }
    expect(doc.components.responses.Error413.description).toContain('TOO_MANY_RECIPIENTS');
    expect(doc.components.responses.Error409.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Error',
    });
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toContain('VALIDATION_FAILED');
  });

  it('describes 405 (with Allow), 415, and details as an array of objects with a message', () => {
    expect(doc.components.responses.Error405.description).toContain('METHOD_NOT_ALLOWED');
    expect(doc.components.responses.Error405.headers.Allow.schema).toEqual({ type: 'string' });
    expect(doc.components.responses.Error415.description).toContain('UNSUPPORTED_MEDIA_TYPE');
    expect(doc.components.responses.Error413.description).toContain('PAYLOAD_TOO_LARGE');
    for (const [path, method] of [
      ['/v1/broadcasts', 'post'],
      ['/v1/suppressions', 'post'],
    ] as const)
      expect(doc.paths[path][method].responses['415'], path).toEqual({
        $ref: '#/components/responses/Error415',
      });
    const codes = doc.components.schemas.Error.properties.error.properties.code.enum;
    expect(codes).toEqual(expect.arrayContaining(['METHOD_NOT_ALLOWED', 'UNSUPPORTED_MEDIA_TYPE']));
    const details = doc.components.schemas.Error.properties.error.properties.details;
    expect(details).toMatchObject({ type: 'array', items: { $ref: '#/components/schemas/ErrorDetail' } });
    expect(doc.components.schemas.ErrorDetail).toMatchObject({ type: 'object', required: ['message'] });
  });

  it('describes the stricter query parameters and the scheduling horizon', () => {
    const params = doc.paths['/v1/broadcasts'].get.parameters as Json[];
    expect(params.find((p) => p.name === 'limit')?.description).toContain('decimal digits');
    expect(params.find((p) => p.name === 'cursor')?.schema.maxLength).toBeGreaterThan(0);
    expect(doc.info.description).toContain('query parameter a route does not take is refused');
    // Every admin route may refuse a query parameter it does not take.
    for (const [path, item] of Object.entries(doc.paths as Json))
      if (path.startsWith('/v1/'))
        for (const op of Object.values(item as Json) as Json[])
          expect(op.responses['400'], path).toBeDefined();
    expect(doc.components.schemas.CreateBroadcastRequest.properties.scheduledAt.description).toContain(
      '365 days',
    );
  });

  it('describes /healthz: its checks when healthy, the error shape when a dependency is not', () => {
    const health = doc.paths['/healthz'].get.responses;
    expect(health['503'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    const schema = doc.components.schemas.Health;
    expect(schema.required).toEqual(['ok', 'checks']);
    expect(schema.properties.checks.required).toEqual(['dynamodb', 'sqs']);
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toContain(
      'DEPENDENCY_UNAVAILABLE',
    );
  });

  it('lists every recipient status in the counts schema', () => {
    expect(doc.components.schemas.Counts.required).toEqual([
      'pending',
      'queued',
      'sending',
      'sent',
      'delivered',
      'read',
      'failed',
      'undelivered',
      'cancelled',
      'skipped',
    ]);
  });

  it("names every invalid-recipient reason, scientific_notation included, and the suppressions' scope", () => {
    expect(doc.components.schemas.InvalidRecipient.properties.reason.enum).toEqual([
      'too_short',
      'too_long',
      'invalid_format',
      'invalid_country',
      'not_mobile',
      'scientific_notation',
      'missing_variables',
      'invalid_variable',
    ]);
    expect(doc.components.schemas.Suppression.properties.scope.enum).toEqual(['tenant', 'sender']);
    expect(doc.components.schemas.Suppression.required).toContain('scope');
    expect(doc.paths['/v1/suppressions/{phone}'].delete.responses['409']).toEqual({
      $ref: '#/components/responses/Error409',
    });
  });

  it('every $ref resolves inside the document', () => {
    const refs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref.startsWith('#/'), ref).toBe(true);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<Json | undefined>((node, key) => node?.[key], doc);
      expect(target, ref).toBeDefined();
    }
  });

  it('describes the audience: contact and group shapes, CSV exports with their next-part headers', () => {
    const contact = doc.components.schemas.ContactRequest;
    expect(contact.additionalProperties).toBe(false);
    expect(Object.keys(contact.properties)).toEqual(
      expect.arrayContaining(['name', 'attributes', 'tags', 'language', 'timeZone', 'consent']),
    );
    expect(doc.components.schemas.Contact.required).toEqual(
      expect.arrayContaining([
        'phone',
        'attributes',
        'tags',
        'timeZone',
        'consent',
        'groupIds',
        'suppressed',
      ]),
    );
    expect(doc.components.schemas.Group.required).toEqual(
      expect.arrayContaining(['groupId', 'name', 'memberCount', 'createdAt']),
    );
    for (const path of ['/v1/groups/{id}/members', '/v1/broadcasts/{id}/recipients']) {
      const ok = doc.paths[path].get.responses['200'];
      expect(ok.content['text/csv'], path).toBeDefined();
      expect(ok.headers.Link, path).toBeDefined();
      expect(
        doc.paths[path].get.parameters.map((p: Json) => p.name),
        path,
      ).toContain('format');
    }
    for (const [path, method] of [
      ['/v1/contacts/{phone}', 'put'],
      ['/v1/groups', 'post'],
      ['/v1/groups/{id}/members', 'post'],
    ] as const)
      expect(doc.paths[path][method].responses['415'], path).toBeDefined();
    expect(doc.paths['/v1/contacts/{phone}'].delete.responses['204']).toBeDefined();
  });

  it('adds a server when asked', () => {
    expect((openApiDocument({ serverUrl: 'http://127.0.0.1:3000' }) as Json).servers).toEqual([
      { url: 'http://127.0.0.1:3000' },
    ]);
  });
});
