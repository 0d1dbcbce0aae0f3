import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { SqsTaskQueue } from './adapters/sqs-queues.ts';
import { adminRoute } from './commons/admin-route.ts';
import { contactViews, membersCsv } from './commons/audience-exports.ts';
import { requiredEnv } from './commons/config.ts';
import { header, json, parseJson } from './commons/http.ts';
import { pathPhone } from './commons/phone-path.ts';
import { logger } from './commons/powertools.ts';
import { contacts, groups, sqs } from './commons/wiring.ts';
import { type Group, GroupNotFoundError } from './core/audience.ts';
import {
  AddMembersRequest,
  GroupRequest,
  groupView,
  MAX_MEMBERS_PER_REQUEST,
  MembersListQuery,
} from './core/audience-request.ts';
import { PageQuery, parseIdempotencyKey, parseListQuery } from './core/broadcast-request.ts';
import { wantsCsv } from './core/csv-export.ts';
import { ApiError, fromZodError } from './core/errors.ts';
import { isGroupId, newGroupId } from './core/ids.ts';
import { INVALID_REASON_TEXT, maskPhone, normalizeRecipients } from './core/phones.ts';

/**
 * A group's memberships removed inside the DELETE request before its answer, at most: a group of a
 * few thousand members is gone when the 204 comes; a larger one is finished by the groupCleanup
 * queue's consumer (functions/group-cleanup.ts), the API seeing it gone from the first write on.
 */
const INLINE_CLEANUP_MS = 3000;

/** Invalid phones listed in a NO_VALID_RECIPIENTS error (as POST /v1/broadcasts lists them). */
const MAX_DETAILS = 100;

/** A group cleanup task on the groupCleanup queue. */
export interface GroupCleanupTask {
  readonly tenantId: string;
  readonly groupId: string;
}

/**
 * The tenant's groups (API.md Groups): POST/GET /v1/groups, GET/DELETE /v1/groups/{id}, and its
 * members: POST/GET /v1/groups/{id}/members, DELETE /v1/groups/{id}/members/{phone}. Another
 * tenant's group is a 404, never read or changed.
 *
 * Writes and their idempotency: adding members is idempotent (a repeat answers `alreadyMembers`);
 * removing one and deleting a group end in the same state however often they are repeated (a second
 * DELETE of a gone group or a non-member answers 404). Creating a group is not idempotent by itself
 * (names need not be unique, so two POSTs make two groups): send an `Idempotency-Key` header and the
 * same key returns the same group for 24 hours (another body with it: 409 IDEMPOTENCY_CONFLICT).
 */
export const handler = adminRoute(async (event, tenantId) => {
  const store = groups();
  switch (event.routeKey) {
    case 'POST /v1/groups': {
      const key = parseIdempotencyKey(header(event, 'idempotency-key'));
      const parsed = GroupRequest.safeParse(parseJson(event));
      if (!parsed.success) throw fromZodError(parsed.error);
      const now = new Date();
      const group = {
        tenantId,
        groupId: newGroupId(now.getTime()),
        name: parsed.data.name,
        ...(parsed.data.description !== undefined ? { description: parsed.data.description } : {}),
        createdAt: now.toISOString(),
      };
      if (key === undefined) return json(201, groupView(await store.create(group)));
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([parsed.data.name, parsed.data.description ?? null]))
        .digest('base64url');
      const outcome = await store.createOnce(group, { key, fingerprint }, now);
      if (outcome.fingerprint !== fingerprint)
        throw new ApiError(
          'IDEMPOTENCY_CONFLICT',
          `This Idempotency-Key created group ${outcome.group.groupId} with another body; use a new key for a new group.`,
          [
            {
              path: 'Idempotency-Key',
              message: 'used before with another body',
              groupId: outcome.group.groupId,
            },
          ],
        );
      return json(201, groupView(outcome.group), outcome.created ? {} : { 'idempotent-replayed': 'true' });
    }
    case 'GET /v1/groups': {
      const query = parseListQuery(PageQuery, event.queryStringParameters);
      const page = await store.list(tenantId, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      return json(200, {
        items: page.items.map(groupView),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    }
    case 'GET /v1/groups/{id}':
      return json(200, groupView(await ownedGroup(tenantId, event)));
    case 'DELETE /v1/groups/{id}': {
      const groupId = event.pathParameters?.id ?? '';
      const start = isGroupId(groupId) ? await store.beginDelete(tenantId, groupId, new Date()) : 'none';
      if (start === 'none') throw notFound(groupId);
      const { done, removed } = await store.cleanup(tenantId, groupId, {
        deadline: Date.now() + INLINE_CLEANUP_MS,
      });
      if (!done)
        await new SqsTaskQueue<GroupCleanupTask>(sqs(), requiredEnv('GROUP_CLEANUP_QUEUE_URL')).enqueue([
          { tenantId, groupId },
        ]);
      logger.info('group deleted', {
        groupId,
        removedInline: removed,
        background: !done,
        repeated: start === 'already',
      });
      return { statusCode: 204 };
    }
    case 'POST /v1/groups/{id}/members': {
      const body = parseJson(event);
      const phones = (body as { phones?: unknown } | null)?.phones;
      if (Array.isArray(phones) && phones.length > MAX_MEMBERS_PER_REQUEST)
        throw new ApiError(
          'TOO_MANY_RECIPIENTS',
          `At most ${MAX_MEMBERS_PER_REQUEST} phones per request (got ${phones.length}); import longer lists with POST /v1/contacts/imports`,
          [
            {
              path: 'phones',
              message: `must list at most ${MAX_MEMBERS_PER_REQUEST} phones`,
              maxRecipients: MAX_MEMBERS_PER_REQUEST,
              received: phones.length,
            },
          ],
        );
      const parsed = AddMembersRequest.safeParse(body);
      if (!parsed.success) throw fromZodError(parsed.error);
      const group = await ownedGroup(tenantId, event);
      const { accepted, invalid, duplicateCount } = normalizeRecipients(
        parsed.data.phones,
        parsed.data.defaultCountry,
      );
      const invalidRecipients = invalid.map(({ input, reason, index }) => ({ input, reason, index }));
      if (accepted.length === 0)
        throw new ApiError(
          'NO_VALID_RECIPIENTS',
          `None of the ${invalid.length} phones can be a member${invalid.length > MAX_DETAILS ? ` (the first ${MAX_DETAILS} listed)` : ''}: see each one's reason.`,
          invalid.slice(0, MAX_DETAILS).map((r) => ({
            path: `phones.${r.index}`,
            message: INVALID_REASON_TEXT[r.reason],
            input: r.input,
            reason: r.reason,
            index: r.index,
          })),
        );
      try {
        const { added, alreadyMembers } = await store.addMembers(
          tenantId,
          group.groupId,
          accepted.map((r) => r.phone),
          new Date(),
        );
        logger.info('members added', {
          groupId: group.groupId,
          added,
          alreadyMembers,
          invalid: invalid.length,
        });
        return json(200, { added, alreadyMembers, duplicateCount, invalidRecipients });
      } catch (error) {
        // Deleted between the read above and the write.
        if (error instanceof GroupNotFoundError) throw notFound(group.groupId);
        throw error;
      }
    }
    case 'GET /v1/groups/{id}/members': {
      const group = await ownedGroup(tenantId, event);
      const query = parseListQuery(MembersListQuery, event.queryStringParameters);
      if (wantsCsv(query.format, header(event, 'accept'))) return membersCsv(event, group, query);
      const page = await contacts().members(tenantId, group.groupId, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      return json(200, {
        items: await contactViews(tenantId, page.items),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    }
    case 'DELETE /v1/groups/{id}/members/{phone}': {
      const group = await ownedGroup(tenantId, event);
      const phone = pathPhone(event);
      if (!(await store.removeMember(tenantId, group.groupId, phone)))
        throw new ApiError('NOT_FOUND', `${phone} is not a member of group ${group.groupId}.`);
      logger.info('member removed', { groupId: group.groupId, phone: maskPhone(phone) });
      return { statusCode: 204 };
    }
    default:
      throw new ApiError('NOT_FOUND', `No route ${event.routeKey}`);
  }
});

/** The route's group if it is the caller's tenant's (and not being deleted); 404 otherwise, the same for all. */
async function ownedGroup(tenantId: string, event: APIGatewayProxyEventV2): Promise<Group> {
  const groupId = event.pathParameters?.id ?? '';
  const group = isGroupId(groupId) ? await groups().get(tenantId, groupId) : undefined;
  if (!group) throw notFound(groupId);
  return group;
}

const notFound = (groupId: string) =>
  new ApiError('NOT_FOUND', `No group ${groupId.slice(0, 64)} for this API key.`);
