// The simulator's Twilio accounts: the main one it starts with and the subaccounts made through
// Twilio's own REST route (POST /2010-04-01/Accounts.json with the main account's credentials), each
// with its own auth token, which it authenticates with and which signs its messages' callbacks.
// Rules as Twilio states them (https://www.twilio.com/docs/iam/api/subaccounts): a subaccount's
// credentials reach that subaccount only; the main account's reach its subaccounts' 2010 API resources.
// With a dataDir the subaccounts are kept in twilio-simulator-accounts.json and survive a restart.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { replacePrivateFile } from '../data-dir.ts';
import { API_VERSION } from './resources.ts';

export const ACCOUNTS_FILE = 'twilio-simulator-accounts.json';

export interface SimulatedAccount {
  readonly sid: string;
  readonly authToken: string;
  readonly friendlyName: string;
  readonly ownerAccountSid: string;
  readonly dateCreated: string;
}

export class Accounts {
  readonly main: SimulatedAccount;
  readonly #all = new Map<string, SimulatedAccount>();
  readonly #file: string | undefined;

  constructor(main: { accountSid: string; authToken: string }, dataDir: string | undefined, now: () => Date) {
    this.main = {
      sid: main.accountSid,
      authToken: main.authToken,
      friendlyName: 'Simulated main account',
      ownerAccountSid: main.accountSid,
      dateCreated: now().toISOString(),
    };
    this.#all.set(this.main.sid, this.main);
    this.#file = dataDir ? path.join(dataDir, ACCOUNTS_FILE) : undefined;
    if (this.#file && existsSync(this.#file))
      for (const a of JSON.parse(readFileSync(this.#file, 'utf8')) as SimulatedAccount[])
        if (a.ownerAccountSid === this.main.sid) this.#all.set(a.sid, a);
  }

  /** The token that signs this account's callbacks and inbound messages (the main one's for an unknown SID). */
  tokenOf(accountSid: string): string {
    return (this.#all.get(accountSid) ?? this.main).authToken;
  }

  /** The account whose credentials the request's Basic auth carries, or undefined. */
  authenticated(req: IncomingMessage): SimulatedAccount | undefined {
    const match = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (!match?.[1]) return undefined;
    const [sid, ...rest] = Buffer.from(match[1], 'base64').toString('utf8').split(':');
    const account = this.#all.get(sid ?? '');
    const given = Buffer.from(rest.join(':'));
    const expected = Buffer.from(account?.authToken ?? '');
    return account && given.length === expected.length && timingSafeEqual(given, expected)
      ? account
      : undefined;
  }

  /** Whether `caller`'s credentials reach `accountSid`'s resources: its own, or (the main account) a subaccount's. */
  reaches(caller: SimulatedAccount, accountSid: string): boolean {
    return caller.sid === accountSid || (caller.sid === this.main.sid && this.#all.has(accountSid));
  }

  get(accountSid: string): SimulatedAccount | undefined {
    return this.#all.get(accountSid);
  }

  /** A new subaccount of the main account (Twilio's create: FriendlyName optional). */
  create(friendlyName: string | undefined, now: Date): SimulatedAccount {
    const account: SimulatedAccount = {
      sid: `AC${randomBytes(16).toString('hex')}`,
      authToken: randomBytes(16).toString('hex'),
      friendlyName:
        friendlyName || `SubAccount Created at ${now.toISOString().slice(0, 16).replace('T', ' ')}`,
      ownerAccountSid: this.main.sid,
      dateCreated: now.toISOString(),
    };
    this.#all.set(account.sid, account);
    if (this.#file)
      replacePrivateFile(
        this.#file,
        `${JSON.stringify(
          [...this.#all.values()].filter((a) => a.sid !== this.main.sid),
          null,
          2,
        )}\n`,
      );
    return account;
  }
}

/** Twilio's Account resource (https://www.twilio.com/docs/iam/api/account), with the token as Twilio answers it. */
export function accountResource(a: SimulatedAccount): Record<string, unknown> {
  const uri = `/${API_VERSION}/Accounts/${a.sid}.json`;
  return {
    sid: a.sid,
    auth_token: a.authToken,
    friendly_name: a.friendlyName,
    owner_account_sid: a.ownerAccountSid,
    status: 'active',
    type: 'Full',
    date_created: new Date(a.dateCreated).toUTCString(),
    date_updated: new Date(a.dateCreated).toUTCString(),
    uri,
    subresource_uris: { messages: `/${API_VERSION}/Accounts/${a.sid}/Messages.json` },
  };
}

/** Twilio's Messaging Service resource (https://www.twilio.com/docs/messaging/api/service-resource): every MG SID exists here. */
export function serviceResource(sid: string, accountSid: string): Record<string, unknown> {
  return {
    sid,
    account_sid: accountSid,
    friendly_name: `Simulated Messaging Service ${sid.slice(-4)}`,
    url: `https://messaging.twilio.com/v1/Services/${sid}`,
  };
}
