/**
 * Scheduled retry job. Retries through backoff windows arrive with the retries issue;
 * until then it fails loudly rather than report a retry pass that did not happen.
 */
export const handler = async (): Promise<never> => {
  throw new Error('retry job not implemented yet');
};
