import { DEFAULT_AUDIT_RETENTION_DAYS, DEFAULT_TENANT_RATE_LIMIT } from '../functions/core/access.ts';

/**
 * The functions' TENANT_RATE_LIMIT and AUDIT_RETENTION_DAYS from the stack's props (CDK context
 * `-c tenantRateLimit=<n>`, `-c auditRetentionDays=<n>`), checked at synth so a typo fails the
 * deploy, not a request.
 */
export function accessEnvironment(props: {
  readonly tenantRateLimit?: number;
  readonly auditRetentionDays?: number;
}): { TENANT_RATE_LIMIT: string; AUDIT_RETENTION_DAYS: string } {
  const limit = props.tenantRateLimit ?? DEFAULT_TENANT_RATE_LIMIT;
  if (!Number.isInteger(limit) || limit < 0 || limit > 100_000)
    throw new Error(
      `tenantRateLimit must be a whole number of requests per second 0-100000 (0: off), got ${limit}`,
    );
  const days = props.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > 36_500)
    throw new Error(`auditRetentionDays must be a whole number of days 1-36500, got ${days}`);
  return { TENANT_RATE_LIMIT: String(limit), AUDIT_RETENTION_DAYS: String(days) };
}
