// Passkeys and security keys on the hosted pages, in a real browser (Debian's headless
// Chromium through playwright-core) with Chromium's virtual authenticator (DevTools
// protocol, WebAuthn domain): a CTAP2 platform authenticator that keeps resident keys and
// verifies its user. WebAuthn is allowed through the admin API; a new user signs in with a
// password and adds a passkey on /account/security; signs in with password and the passkey
// as second factor; signs in with the passkey alone, by the button while the email field's
// autofill request (conditional mediation) is pending, and from the autofill; is refused
// when the authenticator no longer verifies the user; removes the passkey and is refused
// with it afterwards.
// A screenshot of every new screen goes to $LATCHKEY_SCREENS_DIR; any console error (a CSP
// violation included) fails the run, but the statuses the refusals are expected to have.
//
// The server's public URL must name `localhost` (browsers refuse WebAuthn on IP origins;
// http://localhost is a secure context). Started by crates/latchkey/tests/browser.rs:
//
//   LATCHKEY_URL=http://localhost:8080 LATCHKEY_BOOTSTRAP_KEY=sk_live_… \
//     LATCHKEY_SCREENS_DIR=/tmp/screens node tests/browser/passkeys.mjs

import {
  adminKey,
  api,
  base,
  check,
  expectPath,
  journey,
  password,
  requireEnv,
  shot,
  signInWithPassword as signInAs,
  signOut,
} from "./common.mjs";

const email = process.env.LATCHKEY_TEST_EMAIL || "bob@example.com";
requireEnv(["LATCHKEY_URL", "LATCHKEY_BOOTSTRAP_KEY", "LATCHKEY_SCREENS_DIR"]);
const signInWithPassword = (page) => signInAs(page, email);

const allow = await api("PATCH", "/v1/admin/config", { mfa_allowed_factors: ["totp", "webauthn", "backup_codes"] }, adminKey);
check(allow.status === 200, `admin config answered ${allow.status}: ${allow.body}`);
const signup = await api("POST", "/v1/auth/signup", { email, password });
check(signup.status === 201, `sign-up answered ${signup.status}: ${signup.body}`);

// The refusals this journey provokes come with their status (a 401 page).
let expectRefusal = false;
const refusalNote = (text) => expectRefusal && /Failed to load resource: .* status of 401/.test(text);

journey(async (page) => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
  // Chromium's virtual environment answers a conditional request (passkeys in the email
  // field's autofill) at once with the authenticator's passkey, as if the user had picked
  // it: every visit to /login would sign in. With presence simulation off, requests wait
  // instead (a conditional one until it is aborted); it must be on before a button starts
  // a ceremony, as turning it on does not finish a request already waiting.
  const presence = async (enabled) => {
    await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled });
  };
  const conditionalPending = async () => {
    await page.waitForSelector("form[data-mediation='conditional'][data-conditional='pending']", { timeout: 10_000 });
  };

  // A new user with no factor: adding one needs no step-up. The email field offers
  // passkeys in its autofill; with none on the authenticator nothing happens.
  await page.goto(`${base}/login`);
  check(await page.getAttribute("#email", "autocomplete") === "username webauthn", "no webauthn autofill token");
  check(await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable()), "no conditional mediation");
  await signInWithPassword(page);
  await expectPath(page, "/account/security");
  check(await page.evaluate(() => typeof window.PublicKeyCredential === "function"), "no WebAuthn in this browser");
  await page.getByLabel("Name of the passkey (optional)").fill("Laptop");
  await page.getByRole("button", { name: "Add a passkey or security key" }).click();
  // The account's first factor: its backup codes, once.
  await page.waitForSelector("ul.codes");
  check((await credentials()).length === 1, "the authenticator holds no credential");
  await page.getByRole("link", { name: "I have saved them" }).click();
  await expectPath(page, "/account/security");
  const added = await page.textContent("main");
  check(added.includes("Your passkey or security key was added."), "no added notice");
  const table = await page.textContent("main table");
  check(table.includes("Laptop") && table.includes("Passkey or security key"), "the passkey is not listed");
  await shot(page, "account-passkey-added");

  // Password, then the passkey as the second factor (the autofill's request waits).
  await presence(false);
  await signOut(page);
  await signInWithPassword(page);
  await expectPath(page, "/login/mfa");
  check((await page.textContent("main")).includes("Passkey or security key · Laptop"), "no WebAuthn factor offered");
  await shot(page, "login-mfa-webauthn");
  await presence(true);
  await page.getByRole("button", { name: "Use your security key or passkey" }).click();
  await expectPath(page, "/account/security");
  check((await page.textContent("header")).includes(`Signed in as ${email}`), "not signed in after the passkey step");

  // The passkey alone by its button (discoverable credential, user verified), while the
  // autofill's conditional request is pending: the button aborts it and runs its own.
  await presence(false);
  await signOut(page);
  await conditionalPending();
  await shot(page, "login-passkey");
  await presence(true);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expectPath(page, "/account/security");
  check((await page.textContent("header")).includes(`Signed in as ${email}`), "not signed in with the passkey");

  // The passkey picked from the autofill (the virtual environment picks it): the page
  // signs in through the same form, without a click.
  await signOut(page);
  await expectPath(page, "/account/security");
  check((await page.textContent("header")).includes(`Signed in as ${email}`), "not signed in from the autofill");

  // The authenticator no longer verifies its user: passwordless sign-in is refused (the
  // browser refuses a ceremony that requires it, or the server refuses the answer), by
  // the button and by the autofill.
  await presence(false);
  await signOut(page);
  await conditionalPending();
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: false });
  await presence(true);
  expectRefusal = true;
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForFunction(() => {
    const status = document.querySelector("#passkey-status.error, #passkey-error");
    return status && status.textContent.trim().length > 0;
  }, null, { timeout: 20_000 });
  check(new URL(page.url()).pathname === "/login" || new URL(page.url()).pathname === "/login/passkey", `moved on to ${page.url()}`);
  check(!(await page.textContent("body")).includes("Signed in as"), "signed in without user verification");
  await shot(page, "login-passkey-refused");
  await page.goto(`${base}/login`);
  await page.waitForTimeout(1_000);
  check(new URL(page.url()).pathname === "/login", `the autofill moved on to ${page.url()}`);
  check(!(await page.textContent("body")).includes("Signed in as"), "signed in from the autofill without user verification");
  expectRefusal = false;
  await presence(false);
  await page.goto(`${base}/login`);
  await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: true });

  // Remove the passkey (a fresh sign-in with it as second factor allows the change).
  await signInWithPassword(page);
  await expectPath(page, "/login/mfa");
  await presence(true);
  await page.getByRole("button", { name: "Use your security key or passkey" }).click();
  await expectPath(page, "/account/security");
  await page.getByRole("button", { name: "Remove Laptop" }).click();
  await page.waitForURL((url) => url.search.includes("notice=removed"), { timeout: 10_000 });
  const listed = await page.evaluate(() => document.querySelector("main table")?.textContent ?? "");
  check(!listed.includes("Laptop"), "the passkey is still listed");

  // The authenticator still holds the credential, but it signs nobody in any more: not
  // by the button, not from the autofill.
  await presence(false);
  await signOut(page);
  await conditionalPending();
  check((await credentials()).length === 1, "the credential left the authenticator");
  await presence(true);
  expectRefusal = true;
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForSelector("#passkey-error", { timeout: 10_000 });
  check((await page.textContent("#passkey-error")).includes("That passkey was not accepted"), "no refusal shown");
  check(!(await page.textContent("body")).includes("Signed in as"), "signed in with a removed passkey");
  // A refused page starts no autofill request of its own; a fresh one does, and is refused.
  check(await page.$("form[data-mediation]") === null, "the refusal page offers the autofill again");
  await page.goto(`${base}/login`);
  await page.waitForURL((url) => url.pathname === "/login/passkey", { timeout: 10_000 });
  await page.waitForSelector("#passkey-error", { timeout: 10_000 });
  check(!(await page.textContent("body")).includes("Signed in as"), "signed in from the autofill with a removed passkey");
  expectRefusal = false;
}, refusalNote);
