import { describe, expect, it } from 'vitest';
import { errorBody } from '../../functions/core/errors.ts';
import { allowedMethods, compileRoutes, matchRoute, noRouteError } from '../../functions/core/routes.ts';
import { topology } from '../../lib/topology.ts';

const routes = compileRoutes(topology.routes);

describe('route matching, as API Gateway HTTP APIs match', () => {
  it('finds the route and its raw path parameters, the literal route first', () => {
    expect(matchRoute(routes, 'GET', '/v1/broadcasts/brd_1/recipients')).toMatchObject({
      route: { method: 'GET', path: '/v1/broadcasts/{id}/recipients' },
      rawParameters: { id: 'brd_1' },
    });
    expect(matchRoute(routes, 'DELETE', '/v1/suppressions/%2B972501234567')?.rawParameters).toEqual({
      phone: '%2B972501234567',
    });
    const literal = compileRoutes([
      { method: 'GET', path: '/a/{id}' },
      { method: 'GET', path: '/a/summary' },
    ]);
    expect(matchRoute(literal, 'GET', '/a/summary')?.route.path).toBe('/a/summary');
    expect(matchRoute(routes, 'PATCH', '/v1/broadcasts')).toBeUndefined();
  });

  it('lists the methods a path takes', () => {
    expect(allowedMethods(routes, '/v1/broadcasts')).toEqual(['GET', 'POST']);
    expect(allowedMethods(routes, '/v1/suppressions/123')).toEqual(['DELETE']);
    expect(allowedMethods(routes, '/v1/nope')).toEqual([]);
  });
});

describe('noRouteError: what a request no route takes is answered', () => {
  it('405 METHOD_NOT_ALLOWED with Allow when the path has other methods', () => {
    const error = noRouteError(routes, 'DELETE', '/v1/broadcasts');
    expect(error.status).toBe(405);
    expect(error.headers).toEqual({ allow: 'GET, POST' });
    expect(errorBody(error)).toEqual({
      error: {
        code: 'METHOD_NOT_ALLOWED',
        message: 'DELETE is not allowed on /v1/broadcasts; it takes GET, POST.',
        details: [{ message: 'use GET or POST', allowed: ['GET', 'POST'] }],
      },
    });
    expect(noRouteError(routes, 'GET', '/webhooks/twilio/status').headers).toEqual({ allow: 'POST' });
  });

  it('404 NOT_FOUND when no route has the path', () => {
    const error = noRouteError(routes, 'GET', '/v1/nope');
    expect(error.status).toBe(404);
    expect(errorBody(error)).toEqual({
      error: { code: 'NOT_FOUND', message: 'No route GET /v1/nope. GET /openapi.json lists the routes.' },
    });
  });
});
