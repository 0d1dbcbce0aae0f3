import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { DynamoBroadcasts } from '../../functions/adapters/dynamo-broadcasts.ts';
import { DynamoContactStore } from '../../functions/adapters/dynamo-contact-store.ts';
import { DynamoCounters } from '../../functions/adapters/dynamo-counters.ts';
import { DynamoFollowUpLedger } from '../../functions/adapters/dynamo-follow-up-ledger.ts';
import { DynamoMessageIndex } from '../../functions/adapters/dynamo-message-index.ts';
import { DynamoSendLedger } from '../../functions/adapters/dynamo-send-ledger.ts';
import { TwilioMessenger } from '../../functions/adapters/twilio-messenger.ts';
import type { HandlerLogger } from '../../functions/commons/powertools.ts';
import type { StatusCounts } from '../../functions/core/counts.ts';
import type { Broadcast, ChunkEntry, Recipient, RecipientKey } from '../../functions/core/ports.ts';
import type { ServiceMetrics } from '../../functions/core/service-metrics.ts';
import { createStatusWebhookHandler } from '../../functions/twilio-status-webhook.ts';
import { stateOf } from '../../functions/use-cases/settle-broadcast.ts';
import type { FaultInjector } from '../../lib/local/faults/injector.ts';
import { createHttpGateway } from '../../lib/local/http-gateway.ts';
import { startTwilioSimulator, type TwilioSimulator } from '../../lib/local/twilio-simulator.ts';
import { waitFor } from '../../lib/local/wait-for.ts';
import { storeBroadcast } from './broadcasts.ts';
import { type CountsStream, startCountsStream } from './counts-stream.ts';
import { startTestDynamoDb } from './dynamodb.ts';

export const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
export const FROM = 'whatsapp:+14155238886';

/**
 * The send path on one machine, in this process: DynamoDB Local with the real adapters, the Twilio
 * simulator (through the real SDK), the real status webhook behind the payload-2.0 gateway (so the
 * simulator's signed callbacks arrive as API Gateway would hand them over), and the counts
 * aggregator on the table's stream. What the tests add on top is the stage under test.
 */
export interface SendRig {
  readonly db: Awaited<ReturnType<typeof startTestDynamoDb>>;
  readonly broadcasts: DynamoBroadcasts;
  readonly ledger: DynamoSendLedger;
  readonly followUps: DynamoFollowUpLedger;
  readonly counters: DynamoCounters;
  readonly contacts: DynamoContactStore;
  readonly messageIndex: DynamoMessageIndex;
  readonly simulator: TwilioSimulator;
  readonly messenger: TwilioMessenger;
  readonly countsStream: CountsStream;
  /** The status webhook (functions/twilio-status-webhook.ts) that the simulator's callbacks reach. */
  readonly webhook: ReturnType<typeof createStatusWebhookHandler>;
  /** Where messages name their StatusCallback (the webhook, no trailing slash). */
  readonly callbackBase: string;
  readonly authToken: string;
  /** From now on the callbacks of this broadcast are answered 200 and dropped (lost on the way). */
  loseCallbacksOf(broadcastId: string): void;
  /** A stored broadcast (fanned out: its send tasks returned) whose recipients end in these digits. */
  store(
    lastFours: readonly string[],
    options?: { fanOut?: boolean; createdAt?: Date; scheduledAt?: Date; chunkSize?: number },
  ): Promise<{ broadcast: Broadcast; keys: RecipientKey[]; phones: string[]; tasks: SendTaskList }>;
  recipient(key: RecipientKey): Promise<Recipient>;
  untilStatus(key: RecipientKey, status: string, timeoutMs?: number): Promise<Recipient>;
  /** The messages the simulator accepted for this E.164 number. */
  sentTo(phone: string): ReturnType<TwilioSimulator['messages']>;
  /** The broadcast's counts as the API shows them (they follow the ledger about a second behind). */
  counts(broadcast: Broadcast): Promise<StatusCounts>;
  /** Polls the broadcast item until it has `status`. */
  untilBroadcast(broadcast: Broadcast, status: string, timeoutMs?: number): Promise<Broadcast>;
  stop(): Promise<void>;
}

type SendTaskList = Awaited<ReturnType<typeof storeBroadcast>>['tasks'];

let rigs = 0;

export async function startSendRig(options: {
  tenantId: string;
  contentSid: string;
  logger: HandlerLogger;
  /** The retry windows; none by default (retries are test/integration/retries.test.ts's subject). */
  backoffSeconds?: number[];
  faults?: FaultInjector;
  /** What the status webhook records (core/service-metrics.ts); none by default. */
  metrics?: ServiceMetrics;
}): Promise<SendRig> {
  const authToken = `send-rig-token-${++rigs}`;
  const [db, simulator] = await Promise.all([
    startTestDynamoDb(),
    startTwilioSimulator({
      port: 0,
      accountSid: ACCOUNT_SID,
      authToken,
      latencyMs: 2,
      callbackDelayMs: 20,
      callbackRetryDelaysMs: [100],
      ...(options.faults ? { faults: options.faults } : {}),
      log: () => {},
    }),
  ]);
  const broadcasts = new DynamoBroadcasts(db.doc, db.tableName);
  const ledger = new DynamoSendLedger(db.doc, db.tableName);
  const followUps = new DynamoFollowUpLedger(ledger);
  const counters = new DynamoCounters(db.doc, db.tableName);
  const contacts = new DynamoContactStore(db.doc, db.tableName);
  const messageIndex = new DynamoMessageIndex(db.doc, db.tableName);
  const lost = new Set<string>();
  let callbackBase = '';
  const webhook = createStatusWebhookHandler({
    ledger,
    followUps,
    messageIndex,
    contacts,
    backoffSeconds: options.backoffSeconds ?? [],
    authToken: async () => authToken,
    publicBaseUrl: () => callbackBase,
    logger: options.logger,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const gateway: Server = createServer(
    createHttpGateway({
      routes: [
        {
          method: 'POST',
          path: '/webhooks/twilio/status',
          invoke: async (event) => {
            const e = event as APIGatewayProxyEventV2;
            if (lost.has(new URLSearchParams(e.rawQueryString).get('b') ?? '')) return { statusCode: 200 };
            return webhook(e);
          },
        },
      ],
      log: () => {},
    }),
  );
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  callbackBase = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  const countsStream = await startCountsStream(db, { broadcasts, counters, contacts });
  const messenger = new TwilioMessenger({
    accountSid: ACCOUNT_SID,
    authToken,
    from: FROM,
    apiBaseUrl: simulator.url,
    timeoutMs: 5000,
  });
  let stored = 0;

  const recipient = async (key: RecipientKey) => {
    const r = await ledger.get(key);
    if (!r) throw new Error(`recipient ${key.index} of ${key.broadcastId} was never written`);
    return r;
  };

  return {
    db,
    broadcasts,
    ledger,
    followUps,
    counters,
    contacts,
    messageIndex,
    simulator,
    messenger,
    countsStream,
    webhook,
    callbackBase,
    authToken,
    loseCallbacksOf: (broadcastId) => lost.add(broadcastId),
    async store(lastFours, storeOptions = {}) {
      stored += 1;
      const entries: ChunkEntry[] = lastFours.map((last4, index) => ({
        index,
        // Unique per broadcast: the simulator's one-time 0005 refusal applies to each test afresh.
        phone: `+9725${String(stored + rigs * 100).padStart(3, '0')}${String(index).padStart(2, '0')}${last4}`,
        contentVariables: { '1': `name ${index}` },
      }));
      const result = await storeBroadcast(
        { broadcasts, ledger },
        {
          tenantId: options.tenantId,
          entries,
          contentSid: options.contentSid,
          fanOut: storeOptions.fanOut ?? true,
          ...(storeOptions.createdAt ? { createdAt: storeOptions.createdAt } : {}),
          ...(storeOptions.scheduledAt ? { scheduledAt: storeOptions.scheduledAt } : {}),
          ...(storeOptions.chunkSize ? { chunkSize: storeOptions.chunkSize } : {}),
        },
      );
      return { ...result, phones: entries.map((e) => e.phone) };
    },
    recipient,
    untilStatus: (key, status, timeoutMs = 10_000) =>
      waitFor(
        async () => {
          const r = await ledger.get(key);
          return r?.status === status ? r : undefined;
        },
        { timeoutMs, intervalMs: 50, message: `recipient ${key.index} never reached ${status}` },
      ),
    sentTo: (phone) => simulator.messagesTo(`whatsapp:${phone}`),
    async counts(broadcast) {
      const now = (await broadcasts.get(broadcast.tenantId, broadcast.broadcastId)) ?? broadcast;
      return (await stateOf({ broadcasts, counters }, now)).counts;
    },
    untilBroadcast: (broadcast, status, timeoutMs = 15_000) =>
      waitFor(
        async () => {
          const b = await broadcasts.get(broadcast.tenantId, broadcast.broadcastId);
          return b?.status === status ? b : undefined;
        },
        {
          timeoutMs,
          intervalMs: 100,
          message: `broadcast ${broadcast.broadcastId} never became ${status}`,
        },
      ),
    async stop() {
      await countsStream.stop();
      await simulator.stop();
      await new Promise<void>((resolve) => gateway.close(() => resolve()));
      await db.stop();
    },
  };
}
