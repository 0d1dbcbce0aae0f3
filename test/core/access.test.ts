import { describe, expect, it } from 'vitest';
import {
  AUDIT_ACTIONS,
  allows,
  auditEntryFor,
  auditExpiresAt,
  checkRole,
  ROUTE_ACCESS,
} from '../../functions/core/access.ts';
import { ApiError } from '../../functions/core/errors.ts';
import { topology } from '../../lib/topology.ts';

const adminRoutes = topology.routes.filter((r) => r.auth === 'admin').map((r) => `${r.method} ${r.path}`);

describe('route access table', () => {
  it('has an entry for every admin route of the topology, and none for a route that does not exist', () => {
    expect(adminRoutes.filter((key) => !ROUTE_ACCESS[key])).toEqual([]);
    expect(Object.keys(ROUTE_ACCESS).filter((key) => !adminRoutes.includes(key))).toEqual([]);
  });

  it('names an audit action for every write except the dry run, and none for reads', () => {
    for (const [key, access] of Object.entries(ROUTE_ACCESS)) {
      if (key.startsWith('GET ')) expect(access.action, key).toBeUndefined();
      else if (key !== 'POST /v1/broadcasts/preview')
        expect(access.action, key).toMatch(/^[a-z_]+\.[a-z_]+$/);
    }
    expect(AUDIT_ACTIONS).toContain('broadcast.create');
    expect(AUDIT_ACTIONS).toContain('api_key.revoke');
    expect(AUDIT_ACTIONS).toContain('settings.update');
  });

  it('lets a viewer read, a sender send and cancel, and only an admin manage keys, suppressions and settings', () => {
    expect(() => checkRole('GET /v1/broadcasts', 'viewer')).not.toThrow();
    for (const write of ['POST /v1/broadcasts', 'POST /v1/broadcasts/{id}/cancel', 'POST /v1/campaigns'])
      expect(() => checkRole(write, 'viewer'), write).toThrow(
        expect.objectContaining({ code: 'FORBIDDEN', status: 403 }),
      );
    expect(() => checkRole('POST /v1/broadcasts/{id}/cancel', 'sender')).not.toThrow();
    for (const adminOnly of [
      'POST /v1/api-keys',
      'GET /v1/api-keys',
      'GET /v1/audit',
      'PUT /v1/settings',
      'POST /v1/suppressions',
      'DELETE /v1/contacts/{phone}',
    ]) {
      expect(() => checkRole(adminOnly, 'sender'), adminOnly).toThrow(ApiError);
      expect(() => checkRole(adminOnly, 'admin'), adminOnly).not.toThrow();
    }
    expect(allows('admin', 'viewer')).toBe(true);
    expect(allows('viewer', 'sender')).toBe(false);
  });

  it('refuses a route with no entry to every role (fails closed)', () => {
    expect(() => checkRole('POST /v1/not-declared', 'admin')).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN' }),
    );
  });
});

describe('audit entries', () => {
  const at = new Date('2026-11-30T10:00:00.000Z');

  it('take the resource from the path or the answer, and only the declared detail fields', () => {
    const entry = auditEntryFor(ROUTE_ACCESS['POST /v1/broadcasts'] ?? { role: 'sender' }, {
      at,
      keyId: 'key_01JDAAAAAAAAAAAAAAAAAAAAAA',
      statusCode: 201,
      body: { broadcastId: 'brd_1', status: 'accepted', totalRecipients: 3, name: 'Secret plans' },
    });
    expect(entry).toEqual({
      at: at.toISOString(),
      keyId: 'key_01JDAAAAAAAAAAAAAAAAAAAAAA',
      action: 'broadcast.create',
      resource: 'brd_1',
      detail: { statusCode: 201, status: 'accepted', totalRecipients: 3 },
    });
  });

  it('never carry a phone number: phone resources are masked', () => {
    const entry = auditEntryFor(ROUTE_ACCESS['PUT /v1/contacts/{phone}'] ?? { role: 'sender' }, {
      at,
      keyId: 'key_x',
      statusCode: 200,
      pathParameters: { phone: '%2B972501234567' },
      body: { phone: '+972501234567', name: 'Dana' },
    });
    expect(entry?.resource).toBe('+********4567');
    expect(JSON.stringify(entry)).not.toContain('972501234567');
  });

  it('are not made for reads and dry runs', () => {
    const call = { at, keyId: 'key_x', statusCode: 200, body: {} };
    expect(auditEntryFor(ROUTE_ACCESS['GET /v1/broadcasts'] ?? { role: 'viewer' }, call)).toBeUndefined();
    expect(
      auditEntryFor(ROUTE_ACCESS['POST /v1/broadcasts/preview'] ?? { role: 'sender' }, call),
    ).toBeUndefined();
  });

  it('expire AUDIT_RETENTION_DAYS after they are written (epoch seconds)', () => {
    expect(auditExpiresAt(at, 365)).toBe(Date.parse('2027-11-30T10:00:00.000Z') / 1000);
  });
});
