import { type CreateBroadcastInput, tooManyRecipients } from '../core/broadcast-request.ts';
import type { Template } from '../core/content-templates.ts';
import { audienceReads } from '../use-cases/audience-source.ts';
import { type BroadcastPlan, type PlanDeps, planBroadcast } from '../use-cases/plan-broadcast.ts';
import { intEnv } from './config.ts';
import { contactStore, contacts, groups, tenantSettings } from './wiring.ts';

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
 * maxRecipients, 400 for a group that is not the tenant's (plan-broadcast.ts).
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
  return plan;
}
