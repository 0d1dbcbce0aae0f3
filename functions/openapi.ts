import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { json } from './commons/http.ts';
import { openApiDocument } from './core/openapi.ts';

/** GET /openapi.json: the OpenAPI 3.1 document, generated from the schemas that validate requests. */
export const handler = async (): Promise<APIGatewayProxyResultV2> =>
  json(200, openApiDocument(process.env.PUBLIC_BASE_URL ? { serverUrl: process.env.PUBLIC_BASE_URL } : {}));
