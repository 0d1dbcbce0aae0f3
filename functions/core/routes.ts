import { ApiError } from './errors.ts';

/**
 * Route matching as API Gateway HTTP APIs do it (routes `METHOD /path/{param}`, greedy `{proxy+}`,
 * the most specific path first; https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html),
 * and the answer for a request no route takes: 404 NOT_FOUND when no route has its path, 405
 * METHOD_NOT_ALLOWED with an `Allow` header when routes have the path with other methods
 * (RFC 9110 §15.5.6). The local gateway matches with it; the `$default` route's function (on AWS
 * and on the twin) answers with it.
 */

export interface RouteRef {
  readonly method: string;
  /** API Gateway syntax: `/v1/broadcasts/{id}`, or a greedy `{proxy+}` at the end. */
  readonly path: string;
}

export interface CompiledRoute<R extends RouteRef = RouteRef> {
  readonly route: R;
  readonly pattern: RegExp;
  readonly paramNames: readonly string[];
  /** Literal characters: API Gateway prefers the most specific route. */
  readonly specificity: number;
}

export interface RouteMatch<R extends RouteRef = RouteRef> {
  readonly route: R;
  /** Path parameters as they appear in the path, still percent-encoded. */
  readonly rawParameters: Readonly<Record<string, string>>;
}

/** The routes as patterns, most specific first. */
export function compileRoutes<R extends RouteRef>(routes: readonly R[]): CompiledRoute<R>[] {
  return routes
    .map((route) => {
      const paramNames: string[] = [];
      const source = route.path
        .split('/')
        .map((segment) => {
          const param = /^\{([A-Za-z0-9_]+)(\+?)\}$/.exec(segment);
          if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          paramNames.push(param[1] as string);
          return param[2] ? '(.+)' : '([^/]+)';
        })
        .join('/');
      return {
        route,
        pattern: new RegExp(`^${source}$`),
        paramNames,
        specificity: route.path.replace(/\{[^}]+\}/g, '').length,
      };
    })
    .sort((a, b) => b.specificity - a.specificity);
}

/** The route that takes `method` on `pathname`, with its raw path parameters; undefined when none does. */
export function matchRoute<R extends RouteRef>(
  routes: readonly CompiledRoute<R>[],
  method: string,
  pathname: string,
): RouteMatch<R> | undefined {
  for (const compiled of routes) {
    if (compiled.route.method !== method) continue;
    const m = compiled.pattern.exec(pathname);
    if (!m) continue;
    const rawParameters: Record<string, string> = {};
    compiled.paramNames.forEach((name, i) => {
      rawParameters[name] = m[i + 1] as string;
    });
    return { route: compiled.route, rawParameters };
  }
  return undefined;
}

/** The methods routes take on `pathname`, sorted. */
export function allowedMethods(routes: readonly CompiledRoute[], pathname: string): string[] {
  const methods = new Set<string>();
  for (const { route, pattern } of routes) if (pattern.test(pathname)) methods.add(route.method);
  return [...methods].sort();
}

/** The answer to `method pathname` that no route took: 405 (with `Allow`) or 404. */
export function noRouteError(routes: readonly CompiledRoute[], method: string, pathname: string): ApiError {
  const shown = pathname.length > 200 ? `${pathname.slice(0, 200)}…` : pathname;
  const allowed = allowedMethods(routes, pathname);
  if (allowed.length > 0)
    return new ApiError(
      'METHOD_NOT_ALLOWED',
      `${method} is not allowed on ${shown}; it takes ${allowed.join(', ')}.`,
      [{ message: `use ${allowed.join(' or ')}`, allowed }],
      { allow: allowed.join(', ') },
    );
  return new ApiError('NOT_FOUND', `No route ${method} ${shown}. GET /openapi.json lists the routes.`);
}
