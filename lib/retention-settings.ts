import { retentionSettings } from '../functions/core/retention.ts';
import { parseBackoffSeconds } from '../functions/core/retry-policy.ts';

/**
 * The functions' retention settings (RECIPIENT_RETENTION_DAYS, HISTORY_RETENTION_DAYS) from the
 * stack's props, checked at synth against the retry windows (functions/core/retention.ts), so a
 * recipient kept shorter than a retry may need it fails `cdk synth`, not a send a month later.
 */
export function retentionEnvironment(props: {
  readonly recipientRetentionDays?: number;
  readonly historyRetentionDays?: number;
  readonly retryBackoffSeconds?: string;
}): Record<string, string> {
  const settings = retentionSettings(
    {
      RECIPIENT_RETENTION_DAYS:
        props.recipientRetentionDays !== undefined ? String(props.recipientRetentionDays) : undefined,
      HISTORY_RETENTION_DAYS:
        props.historyRetentionDays !== undefined ? String(props.historyRetentionDays) : undefined,
    },
    parseBackoffSeconds(props.retryBackoffSeconds),
  );
  return {
    RECIPIENT_RETENTION_DAYS: String(settings.recipientDays),
    HISTORY_RETENTION_DAYS: String(settings.historyDays),
  };
}
