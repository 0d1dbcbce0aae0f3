/**
 * The signed-in API key, kept in sessionStorage only: it lives as long as the tab, is never put in
 * a URL, a log or localStorage, and sign-out (or a 401 from the API) removes it.
 */
const KEY = 'whatsapp-broadcast.apiKey';

export function storedKey(): string | undefined {
  return sessionStorage.getItem(KEY) ?? undefined;
}

export function storeKey(apiKey: string): void {
  sessionStorage.setItem(KEY, apiKey);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}
