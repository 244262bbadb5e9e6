// A U2F security key on USB on the hosted pages, in a real browser (Debian's headless
// Chromium through playwright-core) with Chromium's virtual authenticator (DevTools
// protocol, WebAuthn domain): {protocol u2f, transport usb}, no resident keys and no user
// verification, like an older YubiKey. The tenant accepts keys without user verification
// as a second factor (webauthn.user_verification "preferred"). A new user signs in with a
// password and adds the key on /account/security; signs in with password and the key as
// second factor on /login/mfa; cannot sign in with the key alone (it keeps no passkey and
// cannot verify its user). Then the tenant requires MFA: another new user must set up a
// factor at sign-in (/login/enroll) and does so with the key, which completes the sign-in.
// A screenshot of every new screen goes to $LATCHKEY_SCREENS_DIR; any console error (a CSP
// violation included) fails the run.
//
// The server's public URL must name `localhost` (browsers refuse WebAuthn on IP origins;
// http://localhost is a secure context). Started by crates/latchkey/tests/browser.rs:
//
//   LATCHKEY_URL=http://localhost:8080 LATCHKEY_BOOTSTRAP_KEY=sk_live_… \
//     LATCHKEY_SCREENS_DIR=/tmp/screens node tests/browser/securitykey.mjs

import {
  adminKey,
  api,
  check,
  expectPath,
  journey,
  password,
  requireEnv,
  shot,
  signInWithPassword,
  signOut,
} from "./common.mjs";

const email = "carol@example.com";
const enrolling = "dave@example.com";
requireEnv(["LATCHKEY_URL", "LATCHKEY_BOOTSTRAP_KEY", "LATCHKEY_SCREENS_DIR"]);

async function signedInAs(page, who) {
  return (await page.textContent("header")).includes(`Signed in as ${who}`);
}

const allow = await api(
  "PATCH",
  "/v1/admin/config",
  { webauthn: { user_verification: "preferred" }, mfa_allowed_factors: ["totp", "webauthn", "backup_codes"] },
  adminKey,
);
check(allow.status === 200, `admin config answered ${allow.status}: ${allow.body}`);
check(JSON.parse(allow.body).webauthn.user_verification === "preferred", `not preferred: ${allow.body}`);
const signup = await api("POST", "/v1/auth/signup", { email, password });
check(signup.status === 201, `sign-up answered ${signup.status}: ${signup.body}`);

journey(async (page) => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "u2f",
      transport: "usb",
      hasResidentKey: false,
      hasUserVerification: false,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;

  // Password first (the email field's passkey autofill finds no passkey on this key, and
  // says nothing), then the security key on the account page.
  await signInWithPassword(page, email);
  await expectPath(page, "/account/security");
  await page.getByLabel("Name of the passkey (optional)").fill("YubiKey");
  await page.getByRole("button", { name: "Add a passkey or security key" }).click();
  // The account's first factor: its backup codes, once.
  await page.waitForSelector("ul.codes");
  const held = await credentials();
  check(held.length === 1, `the key holds ${held.length} credentials`);
  check(held[0].isResidentCredential === false, "a U2F key kept a resident credential");
  await page.getByRole("link", { name: "I have saved them" }).click();
  await expectPath(page, "/account/security");
  const table = await page.textContent("main table");
  check(table.includes("YubiKey") && table.includes("Kept on one device or security key"), `the key is not listed: ${table}`);
  await shot(page, "account-security-key-added");

  // Password, then the key as the second factor.
  await signOut(page);
  await signInWithPassword(page, email);
  await expectPath(page, "/login/mfa");
  check((await page.textContent("main")).includes("Passkey or security key · YubiKey"), "the key is not offered");
  await shot(page, "login-mfa-security-key");
  await page.getByRole("button", { name: "Use your security key or passkey" }).click();
  await expectPath(page, "/account/security");
  check(await signedInAs(page, email), "not signed in after the security key step");

  // The key alone signs nobody in: it keeps no passkey for the empty allow list and cannot
  // verify its user, so the browser finds nothing to offer and the page says so.
  await signOut(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.waitForSelector("#passkey-status.error", { timeout: 20_000 });
  check((await page.textContent("#passkey-status")).includes("Nothing was done"), "no refusal shown");
  check(new URL(page.url()).pathname === "/login", `moved on to ${page.url()}`);
  check(!(await page.textContent("body")).includes("Signed in as"), "signed in with a U2F key alone");
  await shot(page, "login-security-key-passwordless-refused");

  // The tenant requires MFA: a new user must set up a factor at sign-in, here the key.
  const require = await api(
    "PATCH",
    "/v1/admin/config",
    { mfa_required: true, mfa_allowed_factors: ["webauthn", "backup_codes"] },
    adminKey,
  );
  check(require.status === 200, `admin config answered ${require.status}: ${require.body}`);
  const second = await api("POST", "/v1/auth/signup", { email: enrolling, password });
  check(second.status === 201 || second.status === 401, `sign-up answered ${second.status}: ${second.body}`);
  await signInWithPassword(page, enrolling);
  await expectPath(page, "/login/enroll");
  check(!(await page.textContent("main")).includes("Set up an authenticator app"), "an authenticator app is offered");
  await shot(page, "enroll-passkey");
  await page.getByLabel("Name of the passkey (optional)").fill("Spare key");
  await page.getByRole("button", { name: "Add a passkey or security key" }).click();
  await page.waitForSelector("ul.codes");
  check((await credentials()).length === 2, "the key holds no second credential");
  check(await signedInAs(page, enrolling), "not signed in after enrolling the key");
  await page.getByRole("link", { name: "I have saved them" }).click();
  await expectPath(page, "/account/security");
  check((await page.textContent("main table")).includes("Spare key"), "the enrolled key is not listed");

  // And it is the second factor at the next sign-in.
  await signOut(page);
  await signInWithPassword(page, enrolling);
  await expectPath(page, "/login/mfa");
  await page.getByRole("button", { name: "Use your security key or passkey" }).click();
  await expectPath(page, "/account/security");
  check(await signedInAs(page, enrolling), "not signed in with the enrolled key");
});
