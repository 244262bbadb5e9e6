// The hosted pages in a real browser (Debian's headless Chromium through playwright-core):
// sign up through the JSON API, sign in on /login, add an authenticator app on
// /account/security by reading the key shown beside the QR code, save the backup codes,
// sign out, and sign in again with password and a TOTP code computed here, asking to remember
// the browser; sign out and in with the password alone; forget the device. A screenshot of
// every screen goes to $LATCHKEY_SCREENS_DIR. Any console error (a CSP violation included)
// fails the run. Started by crates/latchkey/tests/browser.rs; exits non-zero on failure.
//
//   LATCHKEY_URL=http://127.0.0.1:8080 LATCHKEY_SCREENS_DIR=/tmp/screens node tests/browser/login.mjs

import { createHmac } from "node:crypto";
import { api, base, check, expectPath, journey, password, requireEnv, shot } from "./common.mjs";

const email = process.env.LATCHKEY_TEST_EMAIL || "alice@example.com";
requireEnv(["LATCHKEY_URL", "LATCHKEY_SCREENS_DIR"]);

/** RFC 4648 base32 (spaces ignored) -> bytes. */
function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const clean = text.replace(/[\s=]/g, "").toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** TOTP (RFC 6238, HMAC-SHA-1, 30 s steps, 6 digits) for time step `step`. */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(binary).padStart(6, "0");
}

const currentStep = () => Math.floor(Date.now() / 30_000);

const signup = await api("POST", "/v1/auth/signup", { email, password });
check(signup.status === 201, `sign-up answered ${signup.status}: ${signup.body}`);

// Every console error fails the run (a CSP violation is one), but the browser's note that
// the wrong-password page came with its intended 401.
const wrongPasswordNote = (text, page) =>
  /Failed to load resource: .* status of 401/.test(text) && page.url().endsWith("/login");

journey(async (page) => {
  // A wrong password: the form again, the error tied to the field.
  await page.goto(`${base}/login`);
  await shot(page, "login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not my password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForSelector("#password-error");
  check((await page.getAttribute("#password", "aria-invalid")) === "true", "password not marked invalid");
  check(await page.evaluate(() => document.activeElement?.id === "password"), "focus is not on the field in error");
  await shot(page, "login-error");

  // Password only: no second factor yet.
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectPath(page, "/account/security");

  // Add an authenticator app, reading the key shown for people who cannot scan.
  await page.getByLabel("Name (optional)").fill("My phone");
  await page.getByRole("button", { name: "Add an authenticator app" }).click();
  await page.waitForSelector("#totp-secret");
  const secret = (await page.textContent("#totp-secret")).replace(/\s/g, "");
  check(secret.length === 32, `unexpected secret ${secret.length} chars`);
  const qrLoaded = await page.evaluate(() => {
    const img = document.querySelector("img.qr");
    return img && img.complete && img.naturalWidth > 0;
  });
  check(qrLoaded, "the QR code image did not load (CSP?)");
  await shot(page, "enroll-totp");
  const enrolledAt = currentStep();
  await page.getByLabel("Code").fill(totp(secret, enrolledAt));
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.waitForSelector("ul.codes");
  const codes = await page.locator("ul.codes li").count();
  check(codes === 10, `expected 10 backup codes, saw ${codes}`);
  await shot(page, "backup-codes");
  await page.getByRole("link", { name: "I have saved them" }).click();
  await expectPath(page, "/account/security");
  check((await page.textContent("main")).includes("My phone"), "the new factor is not listed");
  await shot(page, "account-security");

  // Sign out, then in again with password and a TOTP code.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expectPath(page, "/login");
  check((await page.textContent("main")).includes("You have signed out."), "no signed-out notice");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectPath(page, "/login/mfa");
  await shot(page, "login-mfa");
  // A code is accepted once: wait for the next step after the one used to enroll.
  while (currentStep() <= enrolledAt) await new Promise((r) => setTimeout(r, 500));
  const codeField = page.locator("form[action='/login/mfa/verify'] input[autocomplete='one-time-code']").first();
  await codeField.fill(totp(secret, currentStep()));
  // Remember this browser: the next password sign-in skips the second step.
  await page.getByLabel(/Remember this device for 30 days/).check();
  await page.getByRole("button", { name: "Verify" }).first().click();
  await expectPath(page, "/account/security");
  check((await page.textContent("header")).includes(`Signed in as ${email}`), "not signed in after the second factor");
  check((await page.textContent("main")).includes("Remembered devices"), "the remembered device is not listed");
  await shot(page, "account-devices");

  // Signed out and in again: the password is enough on this remembered browser.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expectPath(page, "/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectPath(page, "/account/security");

  // Forgotten: the second step is asked again.
  await page.getByRole("button", { name: "Forget all devices" }).click();
  await page.waitForURL((url) => url.search.includes("notice=devices_forgotten"), { timeout: 10_000 });
  check((await page.textContent("main")).includes("will ask for the second step again"), "no forgotten notice");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expectPath(page, "/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectPath(page, "/login/mfa");
}, wrongPasswordNote);
