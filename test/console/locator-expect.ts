import type { Locator } from 'playwright-core';
import { waitFor } from '../../lib/local/wait-for.ts';

interface Options {
  timeout?: number;
  ignoreCase?: boolean;
}

const DEFAULT_TIMEOUT = 15_000;

/**
 * Web-first assertions on playwright-core locators (@playwright/test's `expect` is not in
 * playwright-core): each re-reads the page until the condition holds or its deadline passes
 * (wait-for.ts), never a fixed sleep. The subset the console's tests use.
 */
export function pw(locator: Locator) {
  let seen = '';
  const until = async (what: string, check: () => Promise<boolean>, options: Options = {}) => {
    seen = '';
    await waitFor(async () => check(), {
      timeoutMs: options.timeout ?? DEFAULT_TIMEOUT,
      intervalMs: 100,
      message: `${locator.toString()}: expected ${what}`,
    }).catch((error: Error) => {
      throw new Error(`${error.message}${seen ? `; last saw ${JSON.stringify(seen.slice(0, 300))}` : ''}`);
    });
  };
  const text = async () => {
    seen = (await locator.allInnerTexts()).join(' ');
    return seen;
  };
  const contains = (haystack: string, needle: string | RegExp, options: Options) =>
    typeof needle === 'string'
      ? options.ignoreCase
        ? haystack.toLowerCase().includes(needle.toLowerCase())
        : haystack.includes(needle)
      : needle.test(haystack);
  return {
    toBeVisible: (options?: Options) =>
      locator.first().waitFor({ state: 'visible', timeout: options?.timeout ?? DEFAULT_TIMEOUT }),
    toHaveAttribute: (name: string, value: string, options?: Options) =>
      until(
        `${name}="${value}"`,
        async () => (await locator.getAttribute(name, { timeout: 1000 })) === value,
        options,
      ),
    toContainText: (needle: string | RegExp, options: Options = {}) =>
      until(
        `text containing ${String(needle)}`,
        async () => contains(await text(), needle, options),
        options,
      ),
    toHaveText: (value: string, options?: Options) =>
      until(`text "${value}"`, async () => (await text()).trim() === value, options),
    toHaveValue: (value: string, options?: Options) =>
      until(`value "${value}"`, async () => (await locator.inputValue({ timeout: 1000 })) === value, options),
    toHaveCount: (n: number, options?: Options) =>
      until(`${n} matches`, async () => (await locator.count()) === n, options),
    not: {
      toHaveCount: (n: number, options?: Options) =>
        until(`other than ${n} matches`, async () => (await locator.count()) !== n, options),
    },
  };
}
