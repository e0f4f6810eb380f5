/**
 * `node:fs` for the test bundle in the browser (scripts/build-browser.mjs maps it
 * here): `readFileSync` fetches the file from the test page's server with a
 * synchronous request (fixtures are small JSON), everything else fails loudly.
 */

/** The part of the browser's XMLHttpRequest used here (the test tsconfig has no DOM types). */
interface SyncRequest {
  overrideMimeType(type: string): void;
  open(method: string, url: string, async: boolean): void;
  send(): void;
  readonly status: number;
  readonly responseText: string;
}
const XHR = (globalThis as unknown as { XMLHttpRequest: new () => SyncRequest }).XMLHttpRequest;

/** The file at `path` (a URL or a path under the server root) as text, or its bytes. */
export function readFileSync(path: string | URL, encoding?: string | { encoding?: string }): string | Uint8Array {
  const url = path instanceof URL ? path.pathname : String(path);
  const req = new XHR();
  const text = encoding !== undefined;
  // NOTE: a synchronous request, as readFileSync is synchronous; test pages only
  if (!text) req.overrideMimeType('text/plain; charset=x-user-defined');
  req.open('GET', url, false);
  req.send();
  if (req.status !== 200) throw new Error(`ENOENT: no such file in the test page's server: ${url} (HTTP ${req.status})`);
  if (text) return req.responseText;
  const s = req.responseText;
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i) & 0xff;
  return bytes;
}

function nodeOnly(name: string): never {
  throw new Error(`fs.${name} is not available in the browser test page`);
}

export const writeFileSync = (): never => nodeOnly('writeFileSync');
export const appendFileSync = (): never => nodeOnly('appendFileSync');
export const existsSync = (): boolean => false;
export const mkdtempSync = (): never => nodeOnly('mkdtempSync');
export const rmSync = (): never => nodeOnly('rmSync');
