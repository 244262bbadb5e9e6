// The example app in a real browser: Debian's headless Chromium through playwright-core (no
// browser download), against the real `latchkey` binary and the app's Vite dev server, both
// started as `npm run example` starts them (scripts/stack.mjs). One journey, in the order a
// user would take it: create an account; add an authenticator app (the key read off the
// page, codes computed here with RFC 6238) and save the backup codes; sign out and in with
// the password and a TOTP code; add a phone, codes by email and a passkey (Chromium's
// virtual authenticator over CDP); sign in with each of them as the second step and with a
// backup code; sign in with the passkey alone. Every screen is a screenshot, checked with
// axe-core (no serious or critical violation); any console error but the browser's notes on
// the API's expected 4xx answers fails the run.
//
// Screenshots go to a temporary folder; LATCHKEY_UPDATE_SCREENS=1 writes them to
// docs/screens/sdk-example/ instead (as crates/latchkey/tests/browser.rs does for docs/screens).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startStack } from '../scripts/stack.mjs';
import { totp } from '../../js/test/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const screens = process.env.LATCHKEY_UPDATE_SCREENS
  ? resolve(here, '../../../docs/screens/sdk-example')
  : mkdtempSync(join(tmpdir(), 'latchkey-example-screens-'));
mkdirSync(screens, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const executablePath = process.env.LATCHKEY_CHROMIUM || '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple';
const PHONE = '+14155552671';

/** A screenshot of the screen as it is, then axe-core on it. */
async function shot(page, name) {
  await page.screenshot({ path: join(screens, `${name}.png`), fullPage: true });
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () =>
    (await window.axe.run(document, { resultTypes: ['violations'] })).violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    })),
  );
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `accessibility of ${name}`);
}

const heading = (page, name) => page.getByRole('heading', { level: 1, name }).waitFor({ timeout: 15_000 });

async function signIn(page, email, password = PASSWORD) {
  await heading(page, 'Sign in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await heading(page, 'Sign in');
}

/** Picks `label` among the factors of the MFA step. */
async function choose(page, label) {
  await heading(page, 'Two-step verification');
  await page.getByRole('radio', { name: label }).check();
}

test('the example app: sign-up, TOTP, SMS, email, passkeys and backup codes in Chromium', { timeout: 240_000 }, async () => {
  const stack = await startStack();
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // Root in CI and containers: Chromium's sandbox needs user namespaces we may not have.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const problems = [];
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 900, height: 760 }, locale: 'en-GB' });
    page = await context.newPage();
    page.on('console', (msg) => {
      const text = msg.text();
      // 401 mfa_required, 401 invalid_code, …: the app handles them; Chromium notes each.
      if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) {
        problems.push(`console: ${text}`);
      }
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    // A fresh server each run: the same address every time keeps the screenshots stable.
    const email = 'ada@example.com';

    // Create an account.
    await page.goto(stack.appUrl);
    await heading(page, 'Sign in');
    await shot(page, 'sign-in');
    await page.getByRole('button', { name: 'No account yet? Create one' }).click();
    await heading(page, 'Create an account');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await shot(page, 'sign-up');
    await page.getByRole('button', { name: 'Create account' }).click();
    await heading(page, 'Your account');
    await page.getByText('You sign in with your password alone.').waitFor();
    await shot(page, 'account-new');

    // An authenticator app: the key beside the QR code, a wrong code, the right one.
    await page.getByRole('button', { name: 'Add an authenticator app' }).click();
    await heading(page, 'Add an authenticator app');
    assert.ok(await page.getByRole('img', { name: /QR code/ }).isVisible());
    const secret = (await page.locator('#totp-secret').textContent()).replace(/\s+/g, '');
    assert.match(secret, /^[A-Z2-7]{16,}=*$/);
    await shot(page, 'enroll-totp');
    const now = totp(secret);
    await page.getByLabel('6-digit code from the app').fill(now === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('alert').filter({ hasText: 'That code is not right' }).waitFor();
    await shot(page, 'enroll-totp-wrong-code');
    await page.getByLabel('6-digit code from the app').fill(now);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await heading(page, 'Save your backup codes');
    const codes = await page.getByRole('list', { name: 'Backup codes' }).locator('code').allTextContents();
    assert.equal(codes.length, 10);
    await shot(page, 'backup-codes');
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await heading(page, 'Your account');
    await page.getByRole('row', { name: /Authenticator app/ }).waitFor();

    // Out, a wrong password, then in with the password and the app's next code.
    await signOut(page);
    await signIn(page, email, 'not the password');
    await page.getByRole('alert').filter({ hasText: 'do not match' }).waitFor();
    await shot(page, 'sign-in-error');
    await signIn(page, email);
    await heading(page, 'Two-step verification');
    await shot(page, 'mfa-totp');
    await page.getByLabel('6-digit code from your authenticator app').fill(totp(secret, 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await heading(page, 'Your account');

    // Fresh from a second step, the account may add more: a phone, email codes, a passkey.
    await page.getByRole('button', { name: 'Add a phone for text messages' }).click();
    await heading(page, 'Add a phone for text messages');
    await page.getByLabel('Phone number').fill(PHONE);
    await shot(page, 'enroll-phone');
    await page.getByRole('button', { name: 'Send a code' }).click();
    await heading(page, 'Confirm your phone');
    await shot(page, 'enroll-sms');
    await page.getByLabel('Code from the text message').fill(await stack.code(PHONE, 1));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('status').filter({ hasText: 'Your phone was added.' }).waitFor();

    await page.getByRole('button', { name: 'Add codes by email' }).click();
    await heading(page, 'Confirm codes by email');
    await shot(page, 'enroll-email');
    await page.getByLabel('Code from the email').fill(await stack.code(email, 1));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('status').filter({ hasText: 'Email was added.' }).waitFor();

    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await heading(page, 'Add a passkey');
    await page.getByLabel('Name of the passkey (optional)').fill('Laptop');
    await shot(page, 'enroll-passkey');
    await page.getByRole('button', { name: 'Create the passkey' }).click();
    await page.getByRole('status').filter({ hasText: 'Your passkey was added.' }).waitFor();
    const stored = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    assert.equal(stored.length, 1);
    assert.equal(stored[0].isResidentCredential, true, 'a passkey is discoverable');
    await page.getByRole('cell', { name: 'Laptop' }).waitFor();
    await shot(page, 'account');

    // New backup codes replace the old ones.
    await page.getByRole('button', { name: 'Get new backup codes' }).click();
    await heading(page, 'Save your backup codes');
    const fresh = await page.getByRole('list', { name: 'Backup codes' }).locator('code').allTextContents();
    assert.equal(fresh.length, 10);
    assert.ok(!fresh.includes(codes[0]));
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await heading(page, 'Your account');

    // Each second step at sign-in.
    await signOut(page);
    await signIn(page, email);
    await choose(page, /^Text message/);
    await shot(page, 'mfa-choose');
    await page.getByRole('button', { name: 'Send the code' }).click();
    await page.getByRole('status').filter({ hasText: 'We sent a code to' }).waitFor();
    await shot(page, 'mfa-sms');
    await page.getByLabel('Code from the text message').fill(await stack.code(PHONE, 2));
    await page.getByRole('button', { name: 'Verify' }).click();
    await heading(page, 'Your account');

    await signOut(page);
    await signIn(page, email);
    await choose(page, /^Email/);
    await page.getByRole('button', { name: 'Send the code' }).click();
    await page.getByRole('status').filter({ hasText: 'We sent a code to' }).waitFor();
    await shot(page, 'mfa-email');
    await page.getByLabel('Code from the email').fill(await stack.code(email, 2));
    await page.getByRole('button', { name: 'Verify' }).click();
    await heading(page, 'Your account');

    await signOut(page);
    await signIn(page, email);
    await choose(page, 'Passkey or security key');
    await shot(page, 'mfa-passkey');
    await page.getByRole('button', { name: 'Use your passkey' }).click();
    await heading(page, 'Your account');

    await signOut(page);
    await signIn(page, email);
    await choose(page, 'Backup code');
    await page.getByLabel('One of your backup codes').fill(codes[0]);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'That code is not right' }).waitFor();
    await page.getByLabel('One of your backup codes').fill(fresh[0]);
    await shot(page, 'mfa-backup-code');
    await page.getByRole('button', { name: 'Verify' }).click();
    await heading(page, 'Your account');

    // The passkey alone: no password, no second step.
    await signOut(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await heading(page, 'Your account');
    assert.ok((await page.locator('header').textContent()).includes(email));
  } catch (e) {
    if (page) {
      await page.screenshot({ path: join(screens, 'failure.png'), fullPage: true }).catch(() => {});
      console.error(`failed at ${page.url()} (screenshots in ${screens}):\n${await page.content().catch(() => '')}\n--- server\n${stack.log()}`);
    }
    throw e;
  } finally {
    await browser.close();
    await stack.stop();
  }
  assert.deepEqual(problems, []);
});
