import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { currentTotp } from '../../src/identity/index.js';
import type { TestCarapace } from '../../src/testing/index.js';
import type { Person } from '../operators-support.js';

/** Debian's Chromium, which playwright-core drives headless. */
export const CHROMIUM = '/usr/bin/chromium';
// In CI a missing browser fails the run; locally it is reported skipped, never counted as passing.
export const browserPresent = existsSync(CHROMIUM) || process.env.CI === 'true';

// Screenshots go to a scratch folder, so a test run changes no tracked file; SCREENSHOTS_DIR=docs/screenshots
// refreshes the README's pictures.
const SHOTS = process.env.SCREENSHOTS_DIR ?? mkdtempSync(join(tmpdir(), 'carapace-console-shots-'));
/** Where a screenshot named `name` goes. */
export const shot = (name: string) => join(SHOTS, name);

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'];
FLAGS.push('--disable-component-update', '--disable-sync');

/** Starts headless Chromium with the flags this machine needs. */
export const launchBrowser = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });

/**
 * Signs in, in a browser context of its own, through the console's link and the authorization server's pages
 * (password, one-time code, consent). `at` gives the one-time code's time (a person signing in twice needs a new step).
 */
export async function signedIn(browser: Browser, cp: TestCarapace, person: Person, at = new Date()): Promise<Page> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  await page.goto(`${cp.addresses.admin}/console/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  await page.getByLabel(/One-time code/).fill(currentTotp(person.totp as string, at));
  await page.getByRole('button', { name: 'Sign in' }).click();
  const allow = page.getByRole('button', { name: 'Allow' });
  await page.waitForURL(/\/console\/|\/interaction\//);
  if (page.url().includes('/interaction/')) await allow.click();
  await page.waitForURL(/\/console\//);
  await expect.poll(() => page.locator('[aria-label="Signed in"]').textContent()).toContain(person.name);
  return page;
}

/** Goes to a console page at the signed-in origin (the configured console URL, which the cookie belongs to). */
export const goTo = (page: Page, hash: string) => page.goto(`${new URL(page.url()).origin}/console/#${hash}`);

/** Presses a button that asks for a reason, and gives it. */
export async function press(page: Page, label: string, reason: string): Promise<void> {
  page.once('dialog', (d) => void d.accept(reason));
  await page.getByRole('button', { name: label }).click();
}
