import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ApiError } from '../core/errors.ts';
import { isBroadcastId } from '../core/ids.ts';
import type { Broadcast, Broadcasts } from '../core/ports.ts';

/**
 * The broadcast named by the route's `{id}`, if it belongs to the caller's tenant. Another
 * tenant's broadcast and an id that is not one are the same 404: nothing says whether it exists.
 */
export async function ownedBroadcast(
  store: Pick<Broadcasts, 'get'>,
  tenantId: string,
  event: APIGatewayProxyEventV2,
): Promise<Broadcast> {
  const id = event.pathParameters?.id;
  const broadcast = isBroadcastId(id) ? await store.get(tenantId, id) : undefined;
  if (!broadcast) throw new ApiError('NOT_FOUND', `No broadcast ${id ?? ''} for this API key.`);
  return broadcast;
}
