// Launching Debian's Chromium through playwright-core (no browser download).
//
// Flags (docs/notes/browser.md; measured here): SwiftShader answers WebGL 1/2 through
// ANGLE and WebGPU through Dawn's SwiftShader Vulkan adapter, so every gpu.js mode runs
// on a machine with no GPU. A fresh profile directory per launch keeps runs independent.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Chromium is looked for, first found wins (GPUGRAD_CHROMIUM pins one). */
export const chromiumPaths = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export const chromiumFlags = [
  '--no-sandbox',
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** The Chromium executable, or null with the reason. */
export function findChromium() {
  const pinned = process.env.GPUGRAD_CHROMIUM;
  if (pinned) return existsSync(pinned) ? { path: pinned } : { path: null, reason: `GPUGRAD_CHROMIUM=${pinned} does not exist` };
  const path = chromiumPaths.find((p) => existsSync(p));
  return path ? { path } : { path: null, reason: `no Chromium at ${chromiumPaths.join(', ')} (Debian: apt-get install chromium; .ci/install-deps does)` };
}

/**
 * Launch headless Chromium with a fresh profile; returns { browser, context, close }.
 * Throws with the reason when Chromium or playwright-core is missing.
 */
export async function launchChromium({ headless = true } = {}) {
  const found = findChromium();
  if (!found.path) throw new Error(found.reason);
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'gpugrad-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: found.path,
    headless,
    args: chromiumFlags,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
