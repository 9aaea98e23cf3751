// Starts headless Chromium for the browser tests.
//
// The browser is the system's Chromium (Debian's `chromium` package), driven
// by playwright-core, which bundles no browser of its own. Each launch uses a
// fresh, empty profile folder that close() removes again.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

export const chromiumBinary = process.env.COLLECTIVE_CHROMIUM_BIN ?? '/usr/bin/chromium';

// Flags that keep the browser to the page under test: no GPU, no QUIC, and
// none of the background requests a new profile would otherwise make.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Launches Chromium and returns {context, close}. Every page of `context`
// shares one browser profile. `contextOptions` go to Playwright, for example
// {viewport: {width: 1920, height: 1080}, reducedMotion: 'reduce'}.
export async function launchBrowser(contextOptions = {}) {
  const profileDir = mkdtempSync(join(tmpdir(), 'collective-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumBinary,
    headless: true,
    args: CHROMIUM_FLAGS,
    ...contextOptions,
  });

  async function close() {
    await context.close();
    rmSync(profileDir, { recursive: true, force: true });
  }
  return { context, close };
}
