/**
 * The admin console in a real browser (Debian's Chromium through playwright-core) against an
 * in-process twin: the issue's end-to-end path (sign in, import a CSV into a group, a broadcast from
 * it with the dry run, its progress bar to 100, a failed recipient's explanation, cancel another
 * broadcast), sign-out and 401, right-to-left, and axe-core on every page (zero serious or critical
 * violations). One twin and one browser for the whole file; every wait is on a condition.
 * UPDATE_SCREENSHOTS=1 also writes docs/screenshots/*.png.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lib/local/wait-for.ts';
import { type ApiTwin, startApiTwin, testPhone } from '../support/api-twin.ts';
import { ensureConsoleBuilt, launchBrowser, newContext, seriousViolations } from './browser.ts';
import { pw } from './locator-expect.ts';

const KEY = 'console-key-acme';
const OTHER_KEY = 'console-key-beta';
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? path.resolve(import.meta.dirname, '../../docs/screenshots')
  : undefined;
const LONG = { timeout: 60_000 };

let api: ApiTwin;
let browser: Browser;
let context: BrowserContext;
let page: Page;

async function screenshot(name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

async function accessible(): Promise<void> {
  expect(await seriousViolations(page)).toEqual([]);
}

async function signIn(key = KEY): Promise<void> {
  await page.goto(`${api.twin.consoleUrl}`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await pw(page.getByRole('navigation')).toBeVisible();
}

beforeAll(async () => {
  const [twin, b] = await Promise.all([
    startApiTwin({ LOCAL_API_KEYS: `acme:${KEY},beta:${OTHER_KEY}` }),
    launchBrowser(),
    ensureConsoleBuilt(),
  ]);
  api = twin;
  browser = b;
  context = await newContext(browser);
  page = await context.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
});

describe('the console, served by the twin', { timeout: 60_000 }, () => {
  it('is at /console/ on the API origin, with its security headers', async () => {
    const res = await fetch(api.twin.consoleUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // The production build: no React development runtime, no path of the machine that built it.
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(await res.text())?.[1];
    const bundle = await (await fetch(`${api.twin.consoleUrl}${script}`)).text();
    expect(bundle).not.toContain('jsxDEV');
    expect(bundle).not.toContain(process.cwd());
    expect((await fetch(`${api.twin.apiUrl}/console/../package.json`)).status).toBe(404);
    expect((await fetch(`${api.twin.apiUrl}/console/%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${api.twin.apiUrl}/healthz`)).status).toBe(200);
    // The API is this origin: the config the console reads first names no other (not a 404).
    const config = await fetch(`${api.twin.consoleUrl}config.json`);
    expect(config.status).toBe(200);
    expect(await config.json()).toEqual({});
  });

  it('signs in with an API key, refuses a wrong one, and keeps the key out of the URL', async () => {
    await page.goto(api.twin.consoleUrl);
    await accessible();
    await screenshot('sign-in');
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await pw(page.getByRole('alert')).toContainText('refused');
    await signIn();
    const nav = page.getByRole('navigation');
    for (const name of [
      'Dashboard',
      'Broadcasts',
      'Contacts',
      'Groups',
      'Templates',
      'Campaigns',
      'Suppressions',
    ])
      await pw(nav.getByRole('link', { name, exact: true })).toBeVisible();
    expect(page.url()).not.toContain(KEY);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await accessible();
  });

  let groupId = '';
  const dana = testPhone();
  const notOnWhatsApp = testPhone('0002');

  it('imports a CSV into a new group, with its columns guessed and a row error to download', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Groups' }).click();
    await page.getByLabel('Group name').fill('North farmers');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('link', { name: 'North farmers' }).click();
    groupId = decodeURIComponent(page.url().split('/').at(-1) ?? '');
    expect(groupId).toMatch(/^grp_/);
    await page.getByLabel('CSV file', { exact: true }).setInputFiles({
      name: 'members.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(
        `Mobile,Full name,City\r\n${dana},Dana Cohen,Haifa\r\n${notOnWhatsApp},Omer Levi,Eilat\r\n12,Too short,Acre\r\n`,
      ),
    });
    await pw(page.getByLabel('Column "Mobile" is')).toHaveValue('phone');
    await pw(page.getByLabel('Column "Full name" is')).toHaveValue('name');
    await pw(page.getByLabel('Column "City" is')).toHaveValue('attribute');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await pw(page.getByRole('progressbar', { name: 'Import progress' })).toHaveAttribute(
      'aria-valuenow',
      '100',
      LONG,
    );
    await pw(page.getByRole('status').filter({ hasText: 'Done' })).toContainText('2 new');
    await pw(page.getByText('Members: 2')).toBeVisible();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: /rows with errors/ }).click();
    expect((await download).suggestedFilename()).toMatch(/^imp_.*-errors\.csv$/);
    await accessible();
    await screenshot('group-import');

    // Over what a request body can carry: refused in the browser, with the way out, nothing sent.
    const big = `phone,name\r\n${'+972501234567,Somebody with a rather long name to fill the row\r\n'.repeat(90_000)}`;
    await page.getByLabel('CSV file', { exact: true }).setInputFiles({
      name: 'big.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(big),
    });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await pw(page.getByRole('alert')).toContainText('at most 5.5 MB');
  });

  let broadcastId = '';
  it('creates a broadcast to the group after the dry run, and its progress bar reaches 100', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Broadcasts' }).click();
    await page.getByRole('button', { name: 'New broadcast' }).click();
    await page.getByLabel('Broadcast name').fill('Harvest notice');
    await page.getByRole('checkbox', { name: /North farmers/ }).check();
    await page.getByLabel('Template', { exact: true }).selectOption({ label: 'order_delivery_update (en)' });
    await pw(page.getByText(/your order is on its way/)).toBeVisible();
    await pw(page.getByLabel('Value of {{1}} comes from')).toHaveValue('name');
    // No sample is pre-filled: the text is the admin's to write.
    await pw(page.getByLabel('Text for {{2}}')).toHaveValue('');
    await page.getByLabel('Text for {{2}}').fill('May 5');
    // Send is only there after a dry run, and only for what the dry run saw.
    await pw(page.getByRole('button', { name: 'Send', exact: true })).toHaveCount(0);
    await page.getByRole('button', { name: 'Dry run' }).click();
    const figures = page.getByRole('region', { name: /Dry run/ });
    await pw(
      figures.getByText('Recipients', { exact: true }).locator('xpath=following-sibling::dd'),
    ).toHaveText('2');
    await pw(figures.getByText(/Dana Cohen, your order/)).toBeVisible();
    await accessible();
    await figures.scrollIntoViewIfNeeded();
    await screenshot('new-broadcast');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await pw(dialog).toContainText('Send "Harvest notice" to 2 recipients now?');
    await dialog.getByRole('button', { name: 'Send' }).dblclick();
    await pw(page.getByRole('heading', { level: 1, name: 'Harvest notice' })).toBeVisible(LONG);
    broadcastId = decodeURIComponent(page.url().split('/').at(-1) ?? '');
    expect(broadcastId).toMatch(/^brd_/);
    await pw(page.getByRole('progressbar', { name: 'Harvest notice progress' })).toHaveAttribute(
      'aria-valuenow',
      '100',
      LONG,
    );
    // This tenant has no sender of its own: the page says where the messages came from.
    await pw(page.getByText("Sent from the deployment's shared sender.")).toBeVisible();
    // The double click made one broadcast.
    const list = await api.call('GET', '/v1/broadcasts', { key: KEY });
    expect(list.body.items.filter((b: { name?: string }) => b.name === 'Harvest notice')).toHaveLength(1);
  }, 90_000);

  it("explains the failed recipient's Twilio error in plain language", { timeout: 90_000 }, async () => {
    const errors = page.getByRole('table').filter({ hasText: 'What it means' });
    await pw(errors.getByRole('row').filter({ hasText: '63024' })).toContainText('Not a WhatsApp user', LONG);
    await page.getByLabel('Status', { exact: true }).last().selectOption('failed');
    const failed = page
      .getByRole('region', { name: 'Recipients' })
      .getByRole('row')
      .filter({ hasText: notOnWhatsApp });
    await pw(failed).toContainText('63024: Not a WhatsApp user');
    await pw(page.getByRole('img', { name: /Sends over time/ })).toBeVisible();
    await accessible();
    await screenshot('broadcast-detail');

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const csv = await download;
    expect(csv.suggestedFilename()).toBe(`${broadcastId}-recipients.csv`);
    const text = readFileSync((await csv.path()) as string, 'utf8');
    expect(text.split(/\r?\n/).filter(Boolean)).toHaveLength(3); // the header and both recipients

    // 63024 is permanent: a retry is offered, confirmed, and re-queues nobody.
    await page.getByRole('button', { name: 'Retry failed' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Retry failed' }).click();
    await pw(page.getByRole('status').filter({ hasText: 'queued again' })).toContainText('0 recipients');
  });

  it('shows each broadcast with a live progress bar named after it on the list', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Broadcasts' }).click();
    await pw(page.getByRole('progressbar', { name: /Harvest notice/ })).toHaveAttribute(
      'aria-valuenow',
      '100',
    );
    await accessible();
    await screenshot('broadcasts');
  });

  it('cancels another broadcast after a confirmation', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const created = await api.call('POST', '/v1/broadcasts', {
      key: KEY,
      body: {
        name: 'Autumn reminder',
        audience: { groupIds: [groupId] },
        template: { contentSid: 'HX06a946ba26c93353f739d9cc914c577b', variables: { '1': '{{name|Farmer}}' } },
        scheduledAt: later,
      },
    });
    expect(created.status).toBe(202);
    await page.getByRole('link', { name: 'Autumn reminder' }).click();
    await pw(page.getByRole('button', { name: 'Cancel broadcast' })).toBeVisible();
    // Not started yet: the API refuses to pause it (409), so no Pause is offered; Cancel is.
    await pw(page.getByRole('button', { name: 'Pause', exact: true })).toHaveCount(0);
    await page.getByRole('button', { name: 'Cancel broadcast' }).click();
    const dialog = page.getByRole('dialog');
    await pw(dialog).toContainText('cannot be undone');
    await dialog.getByRole('button', { name: 'Cancel broadcast' }).click();
    await pw(page.getByRole('status')).toContainText('Cancelled');
    await pw(page.getByText('Cancelled', { exact: true }).first()).toBeVisible();
    expect(
      (await api.call('GET', `/v1/broadcasts/${created.body.broadcastId}`, { key: KEY })).body.status,
    ).toBe('cancelled');
    await pw(page.getByRole('button', { name: 'Cancel broadcast' })).toHaveCount(0);
  });

  it('shows the other pages accessibly: contacts with history, templates, suppressions, dashboard, campaigns', async () => {
    const nav = page.getByRole('navigation');
    await nav.getByRole('link', { name: 'Contacts' }).click();
    await page.getByLabel('Search by phone or name').fill('Dana');
    await page.getByRole('button', { name: 'Search' }).click();
    await page
      .getByRole('link', { name: `Open ${dana}` })
      .or(page.getByRole('link', { name: dana }))
      .click();
    await pw(page.getByRole('heading', { level: 1 })).toContainText('Dana Cohen');
    await pw(page.locator('.conversation li')).not.toHaveCount(0, LONG);
    await accessible();
    await screenshot('contact');
    await page.getByRole('button', { name: 'Edit contact' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Dana C.');
    await page.getByRole('button', { name: 'Save' }).click();
    await pw(page.getByRole('heading', { level: 1 })).toContainText('Dana C.');
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await pw(page.getByRole('heading', { level: 1, name: 'Contacts' })).toBeVisible();
    expect((await api.call('GET', `/v1/contacts/${encodeURIComponent(dana)}`, { key: KEY })).status).toBe(
      404,
    );

    await nav.getByRole('link', { name: 'Templates' }).click();
    await pw(page.getByRole('row').filter({ hasText: 'flash_sale' })).toContainText('rejected');
    await accessible();
    await screenshot('templates');

    await nav.getByRole('link', { name: 'Suppressions' }).click();
    await page.getByLabel('Phone number to suppress').fill('+972501239876');
    await page.getByRole('button', { name: 'Suppress', exact: true }).click();
    await pw(page.getByRole('row').filter({ hasText: '+972501239876' })).toBeVisible();
    await accessible();
    await page.getByRole('button', { name: 'Remove +972501239876' }).click();
    await pw(page.getByRole('row').filter({ hasText: '+972501239876' })).toHaveCount(0);
    // A number the person opted out of themselves (STOP to the sender): the admin's add keeps it, and says so.
    const stopped = '+972501239877';
    expect((await api.simulator('/_simulator/inbound', { from: stopped, body: 'STOP' })).status).toBe(200);
    await page.getByLabel('Phone number to suppress').fill(stopped);
    await page.getByLabel('Note (optional)').fill('asked by phone');
    await page.getByRole('button', { name: 'Suppress', exact: true }).click();
    await pw(page.getByRole('status').filter({ hasText: `${stopped} was already suppressed` })).toBeVisible();
    await pw(page.getByRole('row').filter({ hasText: stopped })).toContainText('opt_out_keyword');
    expect((await api.simulator('/_simulator/inbound', { from: stopped, body: 'START' })).status).toBe(200);

    await nav.getByRole('link', { name: 'Dashboard' }).click();
    await pw(page.getByText('Active broadcasts')).toBeVisible();
    await accessible();
    await screenshot('dashboard');

    await nav.getByRole('link', { name: 'Campaigns' }).click();
    await pw(page.getByRole('heading', { level: 1, name: 'Campaigns' })).toBeVisible();
    await accessible();
  }, 90_000);

  it('manages API keys (the secret shown once, revoke) and shows the audit log, accessibly', async () => {
    const nav = page.getByRole('navigation');
    await nav.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Key name').fill('Reporting');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = page.getByLabel('New API key secret');
    await pw(secret).toBeVisible();
    const apiKey = await secret.inputValue();
    expect(apiKey).toMatch(/^wbk_/);
    expect((await api.call('GET', '/v1/broadcasts', { key: apiKey })).status).toBe(200);
    await accessible();
    // Revoking asks first: going back leaves the key working; confirming revokes it.
    await page.getByRole('button', { name: 'Revoke Reporting' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke Reporting' });
    await pw(dialog).toContainText('cannot be restored');
    await accessible();
    await dialog.getByRole('button', { name: 'Go back' }).click();
    await pw(dialog).toHaveCount(0);
    expect((await api.call('GET', '/v1/broadcasts', { key: apiKey })).status).toBe(200);
    await page.getByRole('button', { name: 'Revoke Reporting' }).click();
    await dialog.getByRole('button', { name: 'Revoke Reporting' }).click();
    await pw(page.getByRole('row').filter({ hasText: 'Reporting' })).toContainText('Revoked');
    await waitFor(
      async () =>
        (await api.call('GET', '/v1/broadcasts', { key: apiKey })).status === 401 ? true : undefined,
      { timeoutMs: 5_000, message: 'the revoked key still works' },
    );

    await nav.getByRole('link', { name: 'Audit' }).click();
    await pw(page.getByRole('row').filter({ hasText: 'api_key.revoke' })).toBeVisible();
    await pw(page.getByRole('row').filter({ hasText: 'api_key.create' })).toBeVisible();
    await accessible();
    await screenshot('audit');
  }, 90_000);

  it('keeps tenants apart: another tenant sees none of these broadcasts', async () => {
    const other = await browser.newContext({ bypassCSP: true });
    const otherPage = await other.newPage();
    await otherPage.goto(`${api.twin.consoleUrl}#/broadcasts/${broadcastId}`);
    await otherPage.getByLabel('API key').fill(OTHER_KEY);
    await otherPage.getByRole('button', { name: 'Sign in' }).click();
    await pw(otherPage.getByRole('alert')).toContainText('No broadcast');
    await otherPage.goto(`${api.twin.consoleUrl}#/broadcasts`);
    await pw(otherPage.getByText('Nothing here yet.')).toBeVisible();
    await other.close();
  });

  it('returns to sign-in with a message when the key is refused, and signs out', async () => {
    await page.evaluate(() => sessionStorage.setItem('whatsapp-broadcast.apiKey', 'revoked-key'));
    await page.getByRole('navigation').getByRole('link', { name: 'Broadcasts' }).click();
    await pw(page.getByRole('alert')).toContainText('signed out');
    await pw(page.getByLabel('API key')).toBeVisible();
    await signIn();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await pw(page.getByLabel('API key')).toBeVisible();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('lays out right-to-left for a Hebrew or Arabic browser', async () => {
    for (const locale of ['he-IL', 'ar-EG']) {
      const rtl = await newContext(browser, locale);
      const rtlPage = await rtl.newPage();
      await rtlPage.goto(api.twin.consoleUrl);
      await pw(rtlPage.locator('html')).toHaveAttribute('dir', 'rtl');
      await rtlPage.getByLabel('API key').fill(KEY);
      await rtlPage.getByRole('button', { name: 'Sign in' }).click();
      await pw(rtlPage.getByRole('progressbar', { name: /Harvest notice/ })).toBeVisible();
      // Mirrored: the navigation starts at the right edge.
      const nav = await rtlPage.getByRole('navigation').boundingBox();
      const brand = await rtlPage.getByText('WhatsApp broadcast', { exact: true }).boundingBox();
      expect((brand?.x ?? 0) > (nav?.x ?? 0)).toBe(true);
      if (locale === 'he-IL') {
        page = rtlPage; // screenshot() takes the current page
        await screenshot('broadcasts-rtl');
      }
      await rtl.close();
    }
  });

  it('works from the keyboard: sign in, open a dialog, close it with Escape', async () => {
    const keyboard = await newContext(browser);
    page = await keyboard.newPage();
    await page.goto(api.twin.consoleUrl);
    await pw(page.getByLabel('API key')).toBeVisible(); // rendered: Tab now reaches it
    await page.keyboard.press('Tab');
    expect(
      await page.evaluate(
        () => (globalThis as { document?: { activeElement?: { id?: string } } }).document?.activeElement?.id,
      ),
    ).toBe('api-key');
    await page.keyboard.type(KEY);
    await page.keyboard.press('Enter');
    await pw(page.getByRole('navigation')).toBeVisible();
    await page.getByRole('link', { name: 'Harvest notice' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Retry failed' }).focus();
    await page.keyboard.press('Enter');
    await pw(page.getByRole('dialog')).toBeVisible();
    await page.keyboard.press('Escape');
    await pw(page.getByRole('dialog')).toHaveCount(0);
    await keyboard.close();
  });

  it('has an accessibility check that does catch violations', async () => {
    const probe = await (await newContext(browser)).newPage();
    await probe.setContent('<html><body><main><input type="text"><button></button></main></body></html>');
    const ids = (await seriousViolations(probe)).map((v) => v.id);
    expect(ids).toEqual(expect.arrayContaining(['label', 'button-name']));
    await probe.close();
  });
});
