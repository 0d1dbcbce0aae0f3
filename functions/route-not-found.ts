import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { topology } from '../lib/topology.ts';
import { errorResponse } from './commons/http.ts';
import { compileRoutes, noRouteError, type RouteRef } from './core/routes.ts';

/**
 * The HTTP API's `$default` route: every request no route takes lands here and is answered in
 * API.md's error shape (404 NOT_FOUND, or 405 METHOD_NOT_ALLOWED with `Allow` when the path has
 * routes with other methods) instead of API Gateway's bare `{"message":"Not Found"}`, which an
 * HTTP API cannot customise (it has no gateway responses). It reads the routes from the topology
 * both builders wire, so it knows every path the API serves. It touches nothing else.
 */
export function createRouteNotFoundHandler(routes: readonly RouteRef[]) {
  const compiled = compileRoutes(routes);
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
    errorResponse(noRouteError(compiled, event.requestContext?.http?.method ?? 'GET', event.rawPath ?? '/'));
}

export const handler = createRouteNotFoundHandler(topology.routes);
