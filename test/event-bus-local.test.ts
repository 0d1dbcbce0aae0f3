import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBridgePublisher } from '../functions/adapters/eventbridge-events.ts';
import { eventIdOf, type LifecycleEvent } from '../functions/core/lifecycle-events.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local.ts';
import { type LocalEventBus, startLocalEventBus } from '../lib/local/eventbridge-local.ts';
import { FaultInjector } from '../lib/local/faults/injector.ts';
import { parseFaultPlan } from '../lib/local/faults/spec.ts';
import { waitFor } from '../lib/local/wait-for.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'event-bus-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function bus(options: Partial<Parameters<typeof startLocalEventBus>[0]> = {}): Promise<LocalEventBus> {
  const started = await startLocalEventBus({
    dataDir: tempDir(),
    busName: 'broadcast-lifecycle',
    ...options,
  });
  cleanups.push(() => started.stop());
  return started;
}

function client(endpoint: string): EventBridgeClient {
  // Few SDK retries, quickly: the adapter's own retries are what is tested.
  const c = new EventBridgeClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  cleanups.push(() => c.destroy());
  return c;
}

function importEvents(n: number): LifecycleEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'import.completed' as const,
    detail: {
      eventId: eventIdOf('import.completed', 'acme', `imp_${i}`),
      tenantId: 'acme',
      occurredAt: '2026-11-30T10:00:00.000Z',
      importId: `imp_${i}`,
      status: 'completed' as const,
      completedAt: '2026-11-30T10:00:00.000Z',
      processedRows: i,
      createdCount: i,
      updatedCount: 0,
      duplicateCount: 0,
      invalidCount: 0,
    },
  }));
}

describe('the EventBridge publisher against the local bus', () => {
  it('puts every event in calls of at most 10 entries, as EventBridge delivers them to a target', async () => {
    const local = await bus();
    const publisher = new EventBridgePublisher(client(local.endpoint), { busName: local.busName });
    const events = importEvents(23);
    expect(await publisher.publish(events)).toEqual({ failedEventIds: [] });
    const taken = local.events();
    expect(taken.map((e) => e.detail.eventId).sort()).toEqual(events.map((e) => e.detail.eventId).sort());
    expect(taken[0]).toMatchObject({
      version: '0',
      source: 'whatsapp-broadcast',
      'detail-type': 'import.completed',
      time: '2026-11-30T10:00:00Z',
      detail: { tenantId: 'acme' },
    });
    // PutEvents' own limit, as AWS answers it.
    const entries = Array.from({ length: 11 }, () => ({ Source: 's', DetailType: 'd', Detail: '{}' }));
    await expect(
      client(local.endpoint).send(new PutEventsCommand({ Entries: entries })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('puts refused entries again (FailedEntryCount, a thrown ServiceUnavailable) and reports those still refused', async () => {
    const injector = new FaultInjector(
      parseFaultPlan('events.PutEvents.PartialFailure=0.4,events.ServiceUnavailable=0.3', '11'),
    );
    const local = await bus({ injector });
    const failures: string[] = [];
    const publisher = new EventBridgePublisher(client(local.endpoint), {
      busName: local.busName,
      retryDelayMs: 1,
      onEntryFailure: (f) => failures.push(f.errorCode),
    });
    const events = importEvents(30);
    const first = await publisher.publish(events);
    // What it says was refused is not on the bus; everything else is.
    const onBus = new Set(local.events().map((e) => e.detail.eventId));
    for (const e of events)
      expect(onBus.has(e.detail.eventId)).toBe(!first.failedEventIds.includes(e.detail.eventId));
    expect(failures).toEqual(expect.arrayContaining(['InternalFailure', 'ServiceUnavailable']));
    const injected = injector.injected();
    expect(injected['events.PutEvents.PartialFailure']).toBeGreaterThan(0);
    expect(injected['events.ServiceUnavailable']).toBeGreaterThan(0);
    // Put again until taken: every event arrives (at least once), none is lost.
    let pending = events.filter((e) => first.failedEventIds.includes(e.detail.eventId));
    await waitFor(
      async () => {
        if (pending.length > 0) {
          const { failedEventIds } = await publisher.publish(pending);
          pending = pending.filter((e) => failedEventIds.includes(e.detail.eventId));
        }
        return pending.length === 0 ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 1, message: 'events still refused' },
    );
    expect(new Set(local.events().map((e) => e.detail.eventId)).size).toBe(30);
  });
});

describe('the local bus target (LOCAL_EVENTS_URL)', () => {
  it('POSTs each event in order until the target takes it, and resumes after a restart without repeating', async () => {
    const received: string[] = [];
    let refuse = 2;
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (refuse > 0) {
          refuse -= 1;
          res.writeHead(503).end();
          return;
        }
        received.push((JSON.parse(body) as { detail: { eventId: string } }).detail.eventId);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    const dataDir = tempDir();
    const targetUrl = `http://127.0.0.1:${port}/events`;
    const first = await startLocalEventBus({ dataDir, busName: 'b', targetUrl, maxRetryDelayMs: 20 });
    const events = importEvents(5);
    await new EventBridgePublisher(client(first.endpoint), { busName: 'b' }).publish(events.slice(0, 3));
    await waitFor(async () => (received.length === 3 ? true : undefined), {
      timeoutMs: 10_000,
      message: 'the target did not get the events',
    });
    expect(received).toEqual(events.slice(0, 3).map((e) => e.detail.eventId));
    await first.stop();
    const second = await startLocalEventBus({ dataDir, busName: 'b', targetUrl, maxRetryDelayMs: 20 });
    cleanups.push(() => second.stop());
    await new EventBridgePublisher(client(second.endpoint), { busName: 'b' }).publish(events.slice(3));
    await waitFor(async () => (received.length >= 5 ? true : undefined), {
      timeoutMs: 10_000,
      message: 'the target did not get the later events',
    });
    expect(received).toEqual(events.map((e) => e.detail.eventId));
    expect(second.events()).toHaveLength(5);
  });
});
