/** The API's shapes the console reads (API.md; fields it does not use are left out). */
export type Counts = Record<string, number>;

export interface Broadcast {
  broadcastId: string;
  name?: string;
  status: string;
  createdAt: string;
  scheduledAt?: string;
  startedAt?: string;
  completedAt?: string;
  totalRecipients: number;
  counts: Counts;
  progressPct: number;
  pausedAt?: string;
  /** While paused: why ('paused by an admin', a campaign's pause, the canary's finding). */
  pauseReason?: string;
  quietHours?: { start: string; end: string };
  frequencyCap?: { max: number; days: number };
  waiting?: Waiting;
  estimatedFinishAt?: string;
  /** A test send (POST /v1/broadcasts/test-send). */
  test?: boolean;
  canary?: CanaryState;
  /** What it sends from, fixed at create: the tenant's own sender, or the deployment's. */
  sender?: {
    source: 'tenant' | 'deployment';
    from?: string;
    messagingServiceSid?: string;
    accountSid?: string;
  };
}

/** The canary: live figures while it waits, those of the decision once made. */
export interface CanaryState {
  size: number;
  maxFailureRate: number;
  minOutcomes: number;
  outcomes: number;
  failureRate: number;
  decision: 'waiting' | 'proceeded' | 'paused';
  decidedAt?: string;
  topErrorCode?: number;
}

/** Recipients waiting (not failed, not skipped): inside their quiet hours, or past the messaging limit. */
export interface Waiting {
  count: number;
  byReason?: Record<string, number>;
  /** The latest release time planned at create. */
  until?: string;
}

export interface Progress {
  broadcastId: string;
  status: string;
  totalRecipients: number;
  counts: Counts;
  processedCount: number;
  pendingCount: number;
  progressPct: number;
  errorSummary: { code: number | string; message: string; count: number }[];
  waiting?: Waiting;
  updatedAt: string;
}

export interface Recipient {
  phone: string;
  status: string;
  attempts: number;
  errorCode?: number | string;
  errorMessage?: string;
  skipReason?: string;
  sentAt?: string;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface Template {
  contentSid: string;
  friendlyName: string;
  language: string;
  category: string | null;
  approval: string;
  variables: Record<string, string>;
  body: string;
}

export interface Group {
  groupId: string;
  name: string;
  description?: string;
  memberCount: number;
  createdAt: string;
}

export interface Contact {
  phone: string;
  name?: string;
  attributes: Record<string, string | number | boolean>;
  tags: string[];
  language?: string;
  timeZone?: string;
  groupIds: string[];
  suppressed: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface HistoryEntry {
  direction: 'inbound' | 'outbound';
  type: string;
  at: string;
  messageSid?: string;
  broadcastName?: string;
  status?: string;
  body?: string;
}

export interface Preview {
  totalRecipients: number;
  sendCount?: number;
  skippedCount?: number;
  skippedByReason?: Record<string, number>;
  invalidRecipientsCount: number;
  invalidRecipients?: { input: string; reason: string }[];
  duplicateRecipientsCount: number;
  estimatedSeconds: number;
  /** Issue 13: recipients that would wait (quiet hours, the messaging limit), and when the last would go. */
  waiting?: Waiting;
  estimatedFinishAt?: string;
  /** With a canary: how many go first, how many wait for its decision. */
  canary?: { size: number; rest: number };
  estimatedCost: {
    currency: string;
    amount: number;
    byCountry: { country: string; recipients: number; amount: number }[];
  };
  samples: { phone: string; variables: Record<string, string> }[];
}

export interface ImportStatus {
  importId: string;
  status: 'running' | 'completed' | 'failed';
  totalRows: number;
  processedRows: number;
  createdCount: number;
  updatedCount: number;
  duplicateCount: number;
  invalidCount: number;
  errors: { row: number; line?: number; input: string; reason: string; column?: string }[];
}
