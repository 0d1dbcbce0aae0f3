import type { APIGatewayProxyResultV2 } from 'aws-lambda';

/** GET /healthz: answers without touching any dependency, so it proves routing only. */
export const handler = async (): Promise<APIGatewayProxyResultV2> => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify({ ok: true }),
});
