import { type CreateBroadcastInput, tooManyRecipients } from '../core/broadcast-request.ts';
import type { Template } from '../core/content-templates.ts';
import { ApiError } from '../core/errors.ts';
import { DEFAULT_SENDER_MPS } from '../core/pacing.ts';
import { INVALID_REASON_TEXT, normalizeRecipients } from '../core/phones.ts';
import { messagingLimitOf } from '../core/tenant-settings.ts';
import { audienceReads } from '../use-cases/audience-source.ts';
import {
  type BroadcastPlan,
  contactVariables,
  type PlanDeps,
  planBroadcast,
} from '../use-cases/plan-broadcast.ts';
import { type TimedPlan, timePlan } from '../use-cases/plan-timing.ts';
import { intEnv } from './config.ts';
import { currentSenderOf } from './tenant-twilio-wiring.ts';
import { contactStore, contacts, groups, sendHistory, tenantSettings } from './wiring.ts';

/** MAX_RECIPIENTS_PER_REQUEST: the most recipients one broadcast may have, listed or resolved (default 100,000). */
export const maxRecipients = () => intEnv('MAX_RECIPIENTS_PER_REQUEST', 100_000);

/** The reads a broadcast plan needs, over the tenant's contacts, groups and suppressions. */
function planDeps(): PlanDeps {
  return {
    ...audienceReads(contacts()),
    async missingGroups(tenantId, groupIds) {
      const found = await Promise.all(groupIds.map((id) => groups().get(tenantId, id)));
      return groupIds.filter((_, n) => !found[n]);
    },
    suppressedAmong: (tenantId, phones) => contactStore().suppressedAmong(tenantId, phones),
  };
}

/**
 * The plan of a validated create request (POST /v1/broadcasts and its dry run): who, with which
 * values, who is skipped and why. Throws 413 TOO_MANY_RECIPIENTS when the resolved audience passes
 * maxRecipients, 400 for a group that is not the tenant's (plan-broadcast.ts), 400
 * NO_VALID_RECIPIENTS when nobody is left: the dry run refuses what the send would.
 */
export async function planFor(
  tenantId: string,
  input: CreateBroadcastInput,
  template: Pick<Template, 'category'>,
): Promise<BroadcastPlan> {
  const { settings } = await tenantSettings().get(tenantId);
  const plan = await planBroadcast(
    {
      tenantId,
      ...(input.recipients ? { recipients: input.recipients } : {}),
      ...(input.audience ? { audience: input.audience } : {}),
      ...(input.defaultCountry ? { defaultCountry: input.defaultCountry } : {}),
      ...(input.template.variables ? { templateVariables: input.template.variables } : {}),
      template,
      settings,
    },
    planDeps(),
  );
  if (plan.entries.length > maxRecipients())
    throw tooManyRecipients(maxRecipients(), plan.entries.length, 'audience');
  if (plan.entries.length === 0) throw noValidRecipients(input, plan);
  return plan;
}

/**
 * The audience's first member and their template values (the request's own `variables` for them over
 * their contact's attributes and name, as in the plan): the sample a test send uses for a test phone
 * that is not a contact. The first listed recipient, else the first of audience.phones, else the first
 * member of the groups and tags (one page read, not the whole audience); undefined when none is
 * valid. Throws VALIDATION_FAILED for a group that is not the tenant's, as the create would.
 */
export async function sampleOf(
  tenantId: string,
  input: CreateBroadcastInput,
): Promise<{ phone: string; variables: Record<string, string> } | undefined> {
  const deps = planDeps();
  const listed = normalizeRecipients(
    [...(input.recipients ?? []).slice(0, 1), ...(input.audience?.phones ?? []).slice(0, 1)],
    input.defaultCountry,
  ).accepted[0];
  if (listed) {
    const contact = (await deps.contactsAmong(tenantId, [listed.phone])).get(listed.phone);
    return { phone: listed.phone, variables: { ...contactVariables(contact), ...listed.variables } };
  }
  const groupIds = input.audience?.groupIds ?? [];
  const tags = input.audience?.tags ?? [];
  if (groupIds.length > 0) {
    const missing = await deps.missingGroups(tenantId, groupIds);
    if (missing.length > 0)
      throw new ApiError(
        'VALIDATION_FAILED',
        `No such group: ${missing.join(', ')} (GET /v1/groups lists this tenant's groups).`,
        missing.map((id) => ({
          path: `audience.groupIds.${groupIds.indexOf(id)}`,
          message: 'no such group',
          groupId: id,
        })),
      );
  }
  for await (const page of deps.audienceMembers(tenantId, { groupIds, tags })) {
    const first = page[0];
    if (first) return { phone: first.phone, variables: contactVariables(first) };
  }
  return undefined;
}

/** Invalid recipients listed in NO_VALID_RECIPIENTS (their count is in the message). */
const INVALID_SHOWN = 100;

/** 400 NO_VALID_RECIPIENTS: nobody to send to, each invalid recipient with where it came from and why. */
function noValidRecipients(input: CreateBroadcastInput, plan: BroadcastPlan): ApiError {
  const { invalid } = plan;
  if (invalid.length === 0)
    return new ApiError(
      'NO_VALID_RECIPIENTS',
      `The audience has nobody in it${plan.duplicateCount > 0 ? ` (only repeats: ${plan.duplicateCount})` : ''}: its groups have no members and no contact has its tags. Add members, or check the group ids and tags.`,
      [{ path: 'audience', message: 'resolves to no contact' }],
    );
  return new ApiError(
    'NO_VALID_RECIPIENTS',
    `No recipient can be sent this broadcast (${invalid.length} invalid${invalid.length > INVALID_SHOWN ? `, the first ${INVALID_SHOWN} listed` : ''}): see each one's reason.`,
    invalid.slice(0, INVALID_SHOWN).map((r) => ({
      path: requestPathOf(input, r.index),
      message: `${INVALID_REASON_TEXT[r.reason]}${r.missing ? `: ${r.missing.join(', ')}` : ''}`,
      input: r.input,
      reason: r.reason,
      index: r.index,
      ...(r.missing ? { missing: r.missing } : {}),
    })),
  );
}

/**
 * Where an invalid recipient came from in the request: `recipients.<n>`, `audience.phones.<n>`, or
 * `audience` for a group's or tag's member (plan-broadcast.ts numbers them in that order).
 */
function requestPathOf(input: CreateBroadcastInput, index: number): string {
  const listed = input.recipients?.length ?? 0;
  if (index < listed) return `recipients.${index}`;
  const phones = input.audience?.phones?.length ?? 0;
  return index < listed + phones ? `audience.phones.${index - listed}` : 'audience';
}

/**
 * planFor, then the timing (use-cases/plan-timing.ts): the frequency cap's skips, and when each
 * recipient may be sent (quiet hours, the tenant's messagingLimit). `counted: false` (a test send):
 * no cap and no limit apply, quiet hours still do. Throws as planFor, and 400 VALIDATION_FAILED
 * (`messagingLimit`) when the limit would spread the broadcast over more than 28 days.
 */
export async function timedPlanFor(
  tenantId: string,
  input: CreateBroadcastInput,
  template: Pick<Template, 'category'>,
  options: { now: Date; counted?: boolean },
): Promise<BroadcastPlan & TimedPlan> {
  const plan = await planFor(tenantId, input, template);
  return { ...plan, ...(await timingOf(tenantId, input, plan, options)) };
}

/** The timing of a plan made before (a create retries this part alone when the book moved under it). */
export async function timingOf(
  tenantId: string,
  input: CreateBroadcastInput,
  plan: BroadcastPlan,
  options: { now: Date; counted?: boolean },
): Promise<TimedPlan> {
  const counted = options.counted !== false;
  const limit = counted ? messagingLimitOf((await tenantSettings().get(tenantId)).settings) : undefined;
  return timePlan(
    plan,
    {
      tenantId,
      now: options.now,
      ...(input.quietHours ? { quietHours: input.quietHours } : {}),
      ...(input.frequencyCap && counted ? { frequencyCap: input.frequencyCap } : {}),
      ...(limit !== undefined ? { messagingLimit: limit } : {}),
      // The tenant's own sender's rate when it has one (core/tenant-senders.ts).
      senderMps: (await currentSenderOf(tenantId))?.mps ?? intEnv('SENDER_MPS', DEFAULT_SENDER_MPS),
    },
    sendHistory(),
  );
}
