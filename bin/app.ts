/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy`. Twilio's non-secret settings come as
 * context, e.g.
 *   npx cdk deploy -c twilioAccountSid=AC... -c twilioFrom=whatsapp:+14155238886
 * The auth token is never passed here: put it in the secret named by the
 * TwilioAuthTokenSecretName output after the first deploy.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BroadcastStack, type BroadcastStackProps } from '../lib/stack.ts';

const app = new App();

const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null) return undefined;
  return String(value);
};

new BroadcastStack(app, context('stackName') ?? 'WhatsAppBroadcast', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  twilio: {
    accountSid: context('twilioAccountSid'),
    from: context('twilioFrom'),
    messagingServiceSid: context('twilioMessagingServiceSid'),
  },
  publicBaseUrl: context('publicBaseUrl'),
  retryBackoffSeconds: context('retryBackoffSeconds'),
  ...(context('senderMps') ? { senderMps: Number(context('senderMps')) } : {}),
  optOutConfirmationText: context('optOutConfirmationText'),
  whatsAppPrices: context('whatsAppPrices'),
  ...(context('logLevel') ? { logLevel: context('logLevel') as BroadcastStackProps['logLevel'] } : {}),
  tracing: context('tracing') === 'true',
  // Requests per second per tenant (0: off), and days audit entries are kept.
  ...(context('tenantRateLimit') ? { tenantRateLimit: Number(context('tenantRateLimit')) } : {}),
  ...(context('auditRetentionDays') ? { auditRetentionDays: Number(context('auditRetentionDays')) } : {}),
  // Alarm notifications by email (-c alarmEmail=ops@example.com); without it, subscribe to AlarmTopicArn.
  alarmEmail: context('alarmEmail'),
  // Data retention in days (functions/core/retention.ts): -c recipientRetentionDays=90 -c historyRetentionDays=180.
  ...(context('recipientRetentionDays')
    ? { recipientRetentionDays: Number(context('recipientRetentionDays')) }
    : {}),
  ...(context('historyRetentionDays')
    ? { historyRetentionDays: Number(context('historyRetentionDays')) }
    : {}),
  // The admin console (S3 + CloudFront); -c console=false leaves it out.
  ...(context('console') === 'false' ? { console: false } : {}),
  // Comma-separated origins that may PUT uploads from a browser, e.g. the console's.
  ...(context('uploadCorsOrigins')
    ? { uploadCorsOrigins: (context('uploadCorsOrigins') ?? '').split(',').filter((o) => o.trim()) }
    : {}),
});

// cdk-nag 3 is a CDK policy-validation plugin (it replaced v2's Aspect): any unacknowledged
// AwsSolutions finding fails `cdk synth` / `cdk deploy`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
