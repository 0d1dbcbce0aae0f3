// The simulator's Content templates: a documented sample set (fixed SIDs, so tests, the README and the
// bench name them) and the ones a developer adds with POST /_simulator/templates, kept under DATA_DIR
// like the message log. The REST shapes Twilio answers with are in content-api.ts.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  MAX_CONTENT_VARIABLE_KEY_LENGTH,
  MAX_CONTENT_VARIABLES,
} from '../../../functions/core/template-parameters.ts';

export const CONTENT_FILE = 'twilio-simulator-content.jsonl';

/** Twilio's WhatsApp approval statuses (the Content API's own words; `received`: Meta has not answered yet). */
export const SIMULATED_APPROVALS = [
  'approved',
  'pending',
  'received',
  'rejected',
  'paused',
  'disabled',
  'unsubmitted',
] as const;
export type SimulatedApproval = (typeof SIMULATED_APPROVALS)[number];
export const SIMULATED_CATEGORIES = ['MARKETING', 'UTILITY', 'AUTHENTICATION'] as const;

export interface SimulatedTemplate {
  /** HX + 32 hex. */
  readonly contentSid: string;
  readonly friendlyName: string;
  readonly language: string;
  readonly category: (typeof SIMULATED_CATEGORIES)[number];
  readonly approval: SimulatedApproval;
  /** Meta's reason, for a rejected template (Twilio's `rejection_reason`). */
  readonly rejectionReason?: string;
  /** The text with `{{1}}`-style placeholders. */
  readonly body: string;
  /** Each variable and its sample value. */
  readonly variables: Readonly<Record<string, string>>;
  /** Quick-reply buttons (`twilio/quick-reply`); without them the template is `twilio/text`. */
  readonly buttons?: readonly { readonly id: string; readonly title: string }[];
  /** ISO-8601. */
  readonly dateCreated: string;
}

/**
 * The sample templates every simulator has (README: "The Twilio simulator"). Their SIDs never
 * change; each covers a case the product must handle:
 *
 * | name | category | approval | variables | buttons |
 * | --- | --- | --- | --- | --- |
 * | deliveryUpdate `order_delivery_update` | UTILITY | approved | 1, 2 | none |
 * | subsidyReminder `subsidy_reminder` | UTILITY | approved | 1 | none |
 * | coopNotice `coop_notice` | UTILITY | approved | none | Read more (`read_broadcast`) |
 * | seasonalOffer `seasonal_offer` | MARKETING | approved | 1 | Read more, Stop promotions |
 * | appointmentReminder `appointment_reminder` | UTILITY | pending | 1, 2 | none |
 * | flashSale `flash_sale` | MARKETING | rejected (INVALID_FORMAT) | 1 | none |
 * | harvestSurvey `harvest_survey` | UTILITY | paused | none | none |
 */
export const SAMPLE_TEMPLATES = {
  deliveryUpdate: {
    contentSid: 'HX880b0d228b6b512bae0f14a67c858ce4',
    friendlyName: 'order_delivery_update',
    language: 'en',
    category: 'UTILITY',
    approval: 'approved',
    body: 'Hi {{1}}, your order is on its way and will arrive on {{2}}. Thank you for shopping with the co-op.',
    variables: { '1': 'Dana', '2': 'May 5' },
    dateCreated: '2026-03-02T09:15:00Z',
  },
  subsidyReminder: {
    contentSid: 'HX06a946ba26c93353f739d9cc914c577b',
    friendlyName: 'subsidy_reminder',
    language: 'en',
    category: 'UTILITY',
    approval: 'approved',
    body: 'Hello {{1}}, the fertilizer subsidy forms are ready at the co-op office. Please bring your member card.',
    variables: { '1': 'Dana' },
    dateCreated: '2026-03-01T08:00:00Z',
  },
  coopNotice: {
    contentSid: 'HX41c1063f4220553c6e9408dcbc85a5e6',
    friendlyName: 'coop_notice',
    language: 'en',
    category: 'UTILITY',
    approval: 'approved',
    body: 'There is news from the co-op about this season. Tap Read more and we will send you the details here.',
    variables: {},
    buttons: [{ id: 'read_broadcast', title: 'Read more' }],
    dateCreated: '2026-02-27T07:30:00Z',
  },
  seasonalOffer: {
    contentSid: 'HX6cf858d4a1b956351186152f034c061b',
    friendlyName: 'seasonal_offer',
    language: 'en',
    category: 'MARKETING',
    approval: 'approved',
    body: "Hello {{1}}, this season's seeds and fertilizer are 15% off for members until Friday. Tap Read more for the details.",
    variables: { '1': 'Dana' },
    buttons: [
      { id: 'read_broadcast', title: 'Read more' },
      { id: 'stop_promotions', title: 'Stop promotions' },
    ],
    dateCreated: '2026-02-20T10:00:00Z',
  },
  appointmentReminder: {
    contentSid: 'HX857a299c0d53e9de1ba27ebbc0d7caa1',
    friendlyName: 'appointment_reminder',
    language: 'en',
    category: 'UTILITY',
    approval: 'pending',
    body: 'Hi {{1}}, this is a reminder of your appointment at the co-op clinic on {{2}}. Reply to change it.',
    variables: { '1': 'Dana', '2': 'May 5 at 10:00' },
    dateCreated: '2026-03-03T12:00:00Z',
  },
  flashSale: {
    contentSid: 'HX46958089a941b9123e8bed1dab136936',
    friendlyName: 'flash_sale',
    language: 'en',
    category: 'MARKETING',
    approval: 'rejected',
    rejectionReason:
      'INVALID_FORMAT: Variable parameters are not allowed at the beginning or end of the template body.',
    body: 'Everything in the co-op shop is 30% off this weekend only, {{1}}',
    variables: { '1': 'Dana' },
    dateCreated: '2026-02-25T16:45:00Z',
  },
  harvestSurvey: {
    contentSid: 'HX5fb7cd6b2eec0dc6234495a207091b24',
    friendlyName: 'harvest_survey',
    language: 'en',
    category: 'UTILITY',
    approval: 'paused',
    body: 'How was this year’s harvest? Reply with a number from 1 (poor) to 5 (excellent).',
    variables: {},
    dateCreated: '2026-01-15T06:00:00Z',
  },
} as const satisfies Record<string, SimulatedTemplate>;

export type SampleTemplateName = keyof typeof SAMPLE_TEMPLATES;

/** POST /_simulator/templates: what a developer gives for a new template. */
const NewTemplate = z.strictObject({
  friendlyName: z.string().trim().min(1).max(450),
  body: z.string().min(1).max(1024),
  variables: z
    .record(
      z.string().min(1).max(MAX_CONTENT_VARIABLE_KEY_LENGTH).regex(/^\S+$/, 'a variable key has no spaces'),
      z.string().max(1024),
    )
    .refine(
      (v) => Object.keys(v).length <= MAX_CONTENT_VARIABLES,
      `at most ${MAX_CONTENT_VARIABLES} variables`,
    )
    .default({}),
  category: z.enum(SIMULATED_CATEGORIES),
  approval: z.enum(SIMULATED_APPROVALS),
  rejectionReason: z.string().min(1).max(1024).optional(),
  language: z.string().trim().min(2).max(16).default('en'),
  // WhatsApp: at most 10 quick replies, each title at most 25 characters.
  buttons: z
    .array(z.strictObject({ id: z.string().min(1).max(256), title: z.string().min(1).max(25) }))
    .max(10)
    .optional(),
});

export class ContentStore {
  readonly #bySid = new Map<string, SimulatedTemplate>();
  #fd: number | undefined;
  readonly #now: () => Date;
  #log: (line: string) => void = () => {};

  private constructor(now: () => Date) {
    this.#now = now;
    for (const sample of Object.values(SAMPLE_TEMPLATES)) this.#bySid.set(sample.contentSid, sample);
  }

  /** The samples, plus the templates added on an earlier run when `dataDir` has them. */
  static async open(
    dataDir: string | undefined,
    now: () => Date,
    log: (line: string) => void,
  ): Promise<ContentStore> {
    const store = new ContentStore(now);
    if (!dataDir) return store;
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const file = join(dataDir, CONTENT_FILE);
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    let skipped = 0;
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      try {
        const template = JSON.parse(raw) as SimulatedTemplate;
        if (typeof template.contentSid === 'string') store.#bySid.set(template.contentSid, template);
      } catch {
        skipped++; // a torn last line after a crash
      }
    }
    if (skipped) log(`ignored ${skipped} unreadable line(s) in ${file}`);
    store.#fd = openSync(file, 'a', 0o600);
    store.#log = (line) => log(line.replace('%FILE%', file));
    return store;
  }

  get(contentSid: string): SimulatedTemplate | undefined {
    return this.#bySid.get(contentSid);
  }

  /** Newest first, SID order among equals (the order the list routes page through). */
  newestFirst(): SimulatedTemplate[] {
    return [...this.#bySid.values()].sort(
      (a, b) => b.dateCreated.localeCompare(a.dateCreated) || a.contentSid.localeCompare(b.contentSid),
    );
  }

  /**
   * Adds a template from POST /_simulator/templates' body: 201 with it, or 400 naming what is wrong.
   * Written through at once, so a template added a moment ago survives a kill of npm start.
   */
  add(input: unknown): { status: number; body: unknown } {
    const parsed = NewTemplate.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
      return { status: 400, body: { error: `Invalid template: ${problems.join('; ')}` } };
    }
    const { rejectionReason, buttons, ...fields } = parsed.data;
    const template: SimulatedTemplate = {
      contentSid: `HX${randomBytes(16).toString('hex')}`,
      ...fields,
      ...(rejectionReason && fields.approval !== 'approved' ? { rejectionReason } : {}),
      ...(buttons && buttons.length > 0 ? { buttons } : {}),
      // Twilio's Content API writes whole seconds: 2015-07-30T19:00:00Z.
      dateCreated: this.#now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
    };
    this.#bySid.set(template.contentSid, template);
    if (this.#fd !== undefined) {
      try {
        writeSync(this.#fd, `${JSON.stringify(template)}\n`);
      } catch (error) {
        this.#fd = undefined;
        this.#log(`cannot write %FILE%: ${(error as Error).message}`);
      }
    }
    return { status: 201, body: template };
  }

  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }
}
