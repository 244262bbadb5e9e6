// Latchkey as an OpenID Provider, driven by a certified relying-party library
// (openid-client, OpenID Certified for the Basic, Config and Form Post RP profiles) while
// Debian's headless Chromium (playwright-core) walks the screens a person sees. The
// application's redirect URIs live on an origin the browser never reaches: Playwright
// intercepts the redirect (or the form post) and hands the URL or body to openid-client,
// which validates state, nonce, PKCE, the ID token (its signature against the JWKS, with
// non-repudiation checks on) and calls userinfo.
//
// Journeys: a user without MFA (discovery, code flow with PKCE, userinfo, refresh, revoke,
// RP-initiated logout); with TOTP; with SMS (codes through a webhook SMS provider this
// script serves); with a passkey (Chromium's virtual authenticator) asked for by
// acr_values=aal2_phr; forced enrollment by acr_values=aal2; prompt=none signed in and
// out; max_age; a confidential client (client_secret_basic, ES256 ID tokens, form_post,
// client_credentials); the screens in German (ui_locales, and the browser's
// Accept-Language); forced enrollment by text message (/u2/mfa/phone, /u2/mfa/sms);
// "Cancel and go back" from the second-factor step (access_denied at the application);
// acr_values=aal2_phr offering only the passkey of a user who also has TOTP; a code by
// email as the second factor (sent by the server to a real SMTP server, aiosmtpd on
// LATCHKEY_SMTP_PORT, which the tenant's email provider is set to through the admin API;
// the script reads its Maildir, LATCHKEY_MAILDIR, as recovery.mjs does); a backup code
// chosen under "Try another method" (and refused the second time); and a second tenant as
// an issuer of its own under /t/globex (made by the operator's command line: its id and
// secret key come in LATCHKEY_SECOND_TENANT_ID and _KEY). A screenshot of each new screen
// goes to $LATCHKEY_SCREENS_DIR.
//
//   latchkey tenants create --name Globex --slug globex     # tenant_id:, secret_key:
//   latchkey keys create --scope mfa:admin                   # secret_key: (the default tenant's)
//   python3 -m aiosmtpd -n -l 127.0.0.1:2525 …               # or any SMTP server with a Maildir
//   LATCHKEY_URL=http://localhost:8080 LATCHKEY_BOOTSTRAP_KEY=sk_live_… \
//     LATCHKEY_SECOND_TENANT_ID=tnt_… LATCHKEY_SECOND_TENANT_KEY=sk_live_… \
//     LATCHKEY_MFA_ADMIN_KEY=sk_live_… LATCHKEY_SMTP_PORT=2525 LATCHKEY_MAILDIR=/tmp/maildir \
//     LATCHKEY_SCREENS_DIR=/tmp/screens node tests/browser/oidc.mjs
// (the server needs LATCHKEY_PUBLIC_URL=$LATCHKEY_URL and
// LATCHKEY_ALLOW_PRIVATE_DESTINATIONS=true for the loopback SMS webhook and SMTP server.)

import * as oidc from "openid-client";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { readdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { adminKey, api, base, check, expectPath, journey, password, requireEnv, shot } from "./common.mjs";

requireEnv([
  "LATCHKEY_URL",
  "LATCHKEY_BOOTSTRAP_KEY",
  "LATCHKEY_SCREENS_DIR",
  "LATCHKEY_SECOND_TENANT_ID",
  "LATCHKEY_SECOND_TENANT_KEY",
  "LATCHKEY_MFA_ADMIN_KEY",
  "LATCHKEY_SMTP_PORT",
  "LATCHKEY_MAILDIR",
]);
const globexId = process.env.LATCHKEY_SECOND_TENANT_ID;
const mfaAdminKey = process.env.LATCHKEY_MFA_ADMIN_KEY;
const globexKey = process.env.LATCHKEY_SECOND_TENANT_KEY;
const globexIssuer = `${base}/t/globex`;

// --- the application's own server: where the browser comes back to (its redirect URIs) ---
let arrived = null;
const rpServer = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const url = `http://127.0.0.1:${rpServer.address().port}${req.url}`;
    const hit = req.method === "POST"
      ? new Request(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body })
      : new URL(url);
    // Only the redirect URIs count (the browser also asks for /favicon.ico, whenever).
    const path = req.url.split("?")[0];
    if (path !== "/callback" && path !== "/signed-out") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><html lang=en><title>Back at the application</title><main><h1>Back at the application</h1></main></html>");
    if (arrived) arrived(hit);
  });
});
await new Promise((ok) => rpServer.listen(0, "127.0.0.1", ok));
const rp = `http://127.0.0.1:${rpServer.address().port}`;
const redirectUri = `${rp}/callback`;
const postLogout = `${rp}/signed-out`;

// --- the SMS provider: a webhook on loopback that keeps the last message per number ---
const sms = new Map();
const smsServer = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const msg = JSON.parse(body);
    sms.set(msg.to, msg.body);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: `msg-${sms.size}` }));
  });
});
await new Promise((ok) => smsServer.listen(0, "127.0.0.1", ok));
const smsUrl = `http://127.0.0.1:${smsServer.address().port}/sms`;

// --- the email provider: a real SMTP server (aiosmtpd, started by the test) with a Maildir ---
const maildir = join(process.env.LATCHKEY_MAILDIR, "new");
/** Prints a stored message's headers and text part as JSON (a MIME parser that is not ours). */
const READ_MAIL = `
import email, email.policy, json, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
body = msg.get_body(preferencelist=("plain",)).get_content()
print(json.dumps({"to": str(msg["To"]), "subject": str(msg["Subject"]), "text": body}))
`;
const mailRead = new Set();

async function admin(method, path, body) {
  const r = await api(method, path, body, adminKey);
  check(r.status >= 200 && r.status < 300, `${method} ${path} answered ${r.status}: ${r.body}`);
  return r.body ? JSON.parse(r.body) : null;
}

// The tenant's branding shows on every screen (and axe checks its colour's contrast).
await admin("PATCH", "/v1/admin/config", {
  mfa_allowed_factors: ["totp", "sms", "email_otp", "webauthn", "backup_codes"],
  branding: { display_name: "Acme", primary_color: "#1f6f43" },
});
// Provider changes need a key with the `mfa:admin` scope; the bootstrap key has none.
for (const [path, body] of [
  ["/v1/admin/sms-provider", { provider: "webhook", url: smsUrl, secret: "s".repeat(40) }],
  [
    "/v1/admin/email-provider",
    {
      provider: "smtp",
      host: "127.0.0.1",
      port: Number(process.env.LATCHKEY_SMTP_PORT),
      tls: "none",
      from: "Acme <no-reply@acme.test>",
    },
  ],
]) {
  const refused = await api("PUT", path, body, adminKey);
  check(refused.status === 403, `PUT ${path} with the bootstrap key answered ${refused.status}: ${refused.body}`);
  const r = await api("PUT", path, body, mfaAdminKey);
  check(r.status === 200, `PUT ${path} answered ${r.status}: ${r.body}`);
}
const spa = await admin("POST", "/v1/admin/applications", {
  name: "Acme Notes",
  type: "public",
  redirect_uris: [redirectUri],
  post_logout_redirect_uris: [postLogout],
  grant_types: ["authorization_code", "refresh_token"],
});
const server = await admin("POST", "/v1/admin/applications", {
  name: "Acme Reports",
  type: "confidential",
  redirect_uris: [redirectUri],
  grant_types: ["authorization_code", "client_credentials"],
  id_token_signed_response_alg: "ES256",
  scopes: ["read:reports"],
});

// openid-client insists on HTTPS unless told; the server here is plain HTTP on loopback.
const insecure = { execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] };
const spaConfig = await oidc.discovery(new URL(base), spa.client_id, undefined, oidc.None(), insecure);
const serverConfig = await oidc.discovery(
  new URL(base),
  server.client_id,
  { id_token_signed_response_alg: "ES256" },
  oidc.ClientSecretBasic(server.client_secret),
  insecure,
);
check(spaConfig.serverMetadata().issuer === base, `issuer ${spaConfig.serverMetadata().issuer}`);

// --- helpers ---

/** RFC 4648 base32 -> bytes; TOTP (RFC 6238, SHA-1, 30 s, 6 digits). */
function totp(secret, offset = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of secret.replace(/[\s=]/g, "").toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const mac = createHmac("sha1", Buffer.from(out)).update(counter).digest();
  const o = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

async function signUp(email) {
  const r = await api("POST", "/v1/auth/signup", { email, password });
  check(r.status === 201, `sign-up ${email}: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

/** A new user with an authenticator app (enrolled through the API): its secret. */
async function userWithTotp(email, name = "Phone") {
  const who = await signUp(email);
  let r = await api("POST", `/v1/users/${who.user.id}/mfa/factors`, { type: "totp", name }, who.access_token);
  check(r.status === 201, `enroll totp: ${r.body}`);
  const enrolled = JSON.parse(r.body);
  r = await api("POST", `/v1/users/${who.user.id}/mfa/factors/${enrolled.factor_id}/confirm`, { code: totp(enrolled.secret) }, who.access_token);
  check(r.status === 200, `confirm totp: ${r.body}`);
  return enrolled.secret;
}

/** The six-digit code of the last text message to `number` (waits up to 10 s for it). */
async function smsCodeTo(number) {
  for (let i = 0; i < 100 && !sms.get(number); i++) await new Promise((ok) => setTimeout(ok, 100));
  const text = sms.get(number);
  check(text, `no SMS arrived for ${number}`);
  sms.delete(number);
  return text.match(/\d{6}/)[0];
}

/**
 * The six-digit code of the next verification-code email to `address` to arrive at the
 * SMTP server (waits up to 15 s; Maildir names do not sort by arrival, so each message is
 * read once, and the caller asks for the next only after it has caused it). Other mail to
 * the address (security notices) is passed over.
 */
async function emailCodeTo(address) {
  for (let i = 0; i < 300; i++) {
    let names = [];
    try {
      names = readdirSync(maildir);
    } catch {
      // Not created until the first message.
    }
    for (const name of names.filter((n) => !mailRead.has(n))) {
      mailRead.add(name);
      const mail = JSON.parse(execFileSync("python3", ["-c", READ_MAIL, join(maildir, name)], { encoding: "utf8" }));
      if (mail.to !== address) continue;
      // Security notices (a sign-in method added, …) go to the same address: not a code.
      if (!/verification code/.test(mail.subject)) continue;
      const code = mail.text.match(/\b\d{6}\b/)?.[0];
      check(code, `no code in the email to ${address}: ${mail.text}`);
      return code;
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`no email arrived for ${address}`);
}

/** The page's language: `<html lang>`. */
async function lang(page) {
  return page.getAttribute("html", "lang");
}

/** A fresh authorization request: the URL and what the callback must match. */
function request(config, extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  return oidc.calculatePKCECodeChallenge(verifier).then((challenge) => ({
    url: oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: "openid email profile offline_access",
      code_challenge: challenge,
      code_challenge_method: "S256",
      state,
      nonce,
      ...extra,
    }),
    checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
  }));
}

/**
 * The browser's next arrival at the application (a redirect, or a form post), as
 * openid-client takes it: a URL, or a Request with the posted body. Fails after 15 s.
 */
function arrival() {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the browser did not come back to the application")), 15_000);
    arrived = (hit) => {
      clearTimeout(timer);
      arrived = null;
      resolve(hit);
    };
  });
}

/** Waits for `back`, and for the browser to have arrived (its navigation committed), so
 * the next step's navigation cannot race it. */
async function backAt(page, back) {
  const hit = await back;
  await page.waitForURL((u) => u.origin === rp, { timeout: 10_000 });
  return hit;
}

async function signInOnPage(page, email) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

function claims(tokens) {
  const c = tokens.claims();
  check(c, "no ID token claims");
  return c;
}

// --- the journeys ---

journey(async (page) => {
  const context = page.context();

  // 1. No MFA: the whole code flow, then refresh, revoke and logout.
  const alice = await signUp("alice@example.com");
  let req = await request(spaConfig);
  let back = arrival();
  await page.goto(req.url.href);
  await expectPath(page, "/login");
  check((await page.textContent("main")).includes("Sign in to continue to Acme Notes"), "the page names the application");
  check((await page.textContent("header.site")).trim() === "Acme", "the tenant's name in the header");
  const accent = await page.evaluate(() => getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor);
  check(accent === "rgb(31, 111, 67)", `the tenant's colour on buttons: ${accent}`);
  await shot(page, "oidc-login");
  await signInOnPage(page, "alice@example.com");
  let tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  let id = claims(tokens);
  check(id.sub === alice.user.id, `sub ${id.sub}`);
  check(id.acr === "aal1" && id.amr.includes("pwd"), `acr ${id.acr} amr ${id.amr}`);
  check(id.email === "alice@example.com", "email claim");
  const info = await oidc.fetchUserInfo(spaConfig, tokens.access_token, id.sub);
  check(info.email === "alice@example.com", `userinfo ${JSON.stringify(info)}`);
  const refreshed = await oidc.refreshTokenGrant(spaConfig, tokens.refresh_token);
  check(refreshed.claims().sub === id.sub && refreshed.claims().auth_time === id.auth_time, "refresh keeps the sign-in");
  let reused = false;
  await oidc.refreshTokenGrant(spaConfig, tokens.refresh_token).catch(() => (reused = true));
  check(reused, "a used refresh token is refused");
  // Signed in already: prompt=none answers with a code and no page.
  req = await request(spaConfig, { prompt: "none" });
  back = arrival();
  await page.goto(req.url.href);
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  await oidc.tokenRevocation(spaConfig, tokens.refresh_token);
  let revoked = false;
  await oidc.fetchUserInfo(spaConfig, tokens.access_token, id.sub).catch(() => (revoked = true));
  check(revoked, "revoked: userinfo refuses the access token");
  // max_age: an older sign-in must happen again.
  await new Promise((ok) => setTimeout(ok, 2100));
  req = await request(spaConfig, { max_age: "1" });
  back = arrival();
  await page.goto(req.url.href);
  await expectPath(page, "/login");
  await signInOnPage(page, "alice@example.com");
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), { ...req.checks, maxAge: 1 });
  check(claims(tokens).auth_time > id.auth_time, "a new sign-in for max_age");
  // RP-initiated logout: a page asks, then back to the application with its state.
  back = arrival();
  await page.goto(
    oidc.buildEndSessionUrl(spaConfig, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: postLogout,
      state: "bye",
    }).href,
  );
  check((await page.textContent("main")).includes("Acme Notes asks you to sign out"), "logout names the application");
  await shot(page, "oidc-logout");
  await page.getByRole("button", { name: "Sign out" }).click();
  const after = await backAt(page, back);
  check(after.href === `${postLogout}?state=bye`, `after logout: ${after.href}`);
  // Signed out: prompt=none fails with login_required, back at the application.
  req = await request(spaConfig, { prompt: "none" });
  back = arrival();
  await page.goto(req.url.href);
  let loginRequired = false;
  await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks).catch((e) => (loginRequired = e.error === "login_required"));
  check(loginRequired, "prompt=none when signed out gives login_required");

  // 2. TOTP as the second factor.
  const bob = await signUp("bob@example.com");
  const bobToken = bob.access_token;
  let r = await api("POST", `/v1/users/${bob.user.id}/mfa/factors`, { type: "totp", name: "Phone" }, bobToken);
  check(r.status === 201, `enroll totp: ${r.body}`);
  const enrolled = JSON.parse(r.body);
  r = await api("POST", `/v1/users/${bob.user.id}/mfa/factors/${enrolled.factor_id}/confirm`, { code: totp(enrolled.secret) }, bobToken);
  check(r.status === 200, `confirm totp: ${r.body}`);
  req = await request(spaConfig);
  back = arrival();
  await page.goto(req.url.href);
  await signInOnPage(page, "bob@example.com");
  await expectPath(page, "/login/mfa");
  await shot(page, "oidc-mfa-totp");
  await page.locator("form:has(input[name=code])").first().locator("input[name=code]").fill(totp(enrolled.secret, 1));
  await page.locator("form:has(input[name=code])").first().locator("button[type=submit]").click();
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  id = claims(tokens);
  check(id.acr === "aal2" && id.amr.includes("otp"), `totp: acr ${id.acr} amr ${id.amr}`);
  await context.clearCookies();

  // 3. SMS as the second factor: the code comes through the webhook provider.
  const carol = await signUp("carol@example.com");
  r = await api("POST", `/v1/users/${carol.user.id}/mfa/factors`, { type: "sms", phone_number: "+14155552671" }, carol.access_token);
  check(r.status === 201, `enroll sms: ${r.body}`);
  const smsFactor = JSON.parse(r.body);
  const smsCode = () => smsCodeTo("+14155552671");
  r = await api("POST", `/v1/users/${carol.user.id}/mfa/factors/${smsFactor.factor_id}/confirm`, { code: await smsCode() }, carol.access_token);
  check(r.status === 200, `confirm sms: ${r.body}`);
  req = await request(spaConfig);
  back = arrival();
  await page.goto(req.url.href);
  await signInOnPage(page, "carol@example.com");
  await expectPath(page, "/login/mfa");
  if (await page.getByRole("button", { name: "Send a code" }).count()) {
    await page.getByRole("button", { name: "Send a code" }).first().click();
  }
  const code = await smsCode();
  await shot(page, "oidc-mfa-sms");
  await page.locator("input[name=code]").first().fill(code);
  await page.locator("form:has(input[name=code]) button[type=submit]").first().click();
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  id = claims(tokens);
  check(id.acr === "aal2" && id.amr.includes("sms"), `sms: acr ${id.acr} amr ${id.amr}`);
  await context.clearCookies();

  // 3a. In German, as the application asks (ui_locales=de) of an English browser: the
  //     sign-in and the second factor, found by their German names.
  const frankSecret = await userWithTotp("frank@example.com", "Diensthandy");
  req = await request(spaConfig, { ui_locales: "de" });
  back = arrival();
  await page.goto(req.url.href);
  await expectPath(page, "/login");
  check((await lang(page)) === "de", `ui_locales=de: <html lang=${await lang(page)}>`);
  check((await page.textContent("main")).includes("Melden Sie sich an, um mit Acme Notes fortzufahren."), "the German page names the application");
  await page.getByRole("button", { name: "Abbrechen und zurückkehren" }).waitFor();
  await shot(page, "oidc-login-de");
  await page.getByLabel("E-Mail-Adresse").fill("frank@example.com");
  await page.getByLabel("Passwort", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Anmelden", exact: true }).click();
  await expectPath(page, "/login/mfa");
  check((await lang(page)) === "de", "the second factor in German too");
  check((await page.textContent("h1")).includes("Zwei-Schritt-Verifizierung"), "the German MFA title");
  check((await page.textContent("main")).includes("Melden Sie sich an, um mit Acme Notes fortzufahren."), "the German MFA step names the application");
  await page.getByRole("button", { name: "Abbrechen und zurückkehren" }).waitFor();
  await shot(page, "oidc-mfa-de");
  await page.getByLabel("Code", { exact: true }).fill(totp(frankSecret, 1));
  await page.getByRole("button", { name: "Bestätigen" }).click();
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  id = claims(tokens);
  check(id.acr === "aal2" && id.amr.includes("otp"), `German TOTP: acr ${id.acr} amr ${id.amr}`);
  await context.clearCookies();

  // 3b. A German browser (Accept-Language from Chromium's de-DE locale), no ui_locales:
  //     German screens; the user cancels at the second factor, and the application hears
  //     access_denied with its state (openid-client raises it).
  {
    const deContext = await context.browser().newContext({ viewport: { width: 900, height: 760 }, locale: "de-DE" });
    const dePage = await deContext.newPage();
    const deProblems = [];
    dePage.on("console", (msg) => {
      if (msg.type() === "error" && !dePage.url().startsWith(rp)) deProblems.push(`console: ${msg.text()} (${dePage.url()})`);
    });
    dePage.on("pageerror", (err) => deProblems.push(`page error: ${err.message}`));
    req = await request(spaConfig);
    back = arrival();
    await dePage.goto(req.url.href);
    await expectPath(dePage, "/login");
    check((await lang(dePage)) === "de", `Accept-Language de-DE: <html lang=${await lang(dePage)}>`);
    await dePage.getByLabel("E-Mail-Adresse").fill("frank@example.com");
    await dePage.getByLabel("Passwort", { exact: true }).fill(password);
    await dePage.getByRole("button", { name: "Anmelden", exact: true }).click();
    await expectPath(dePage, "/login/mfa");
    check((await lang(dePage)) === "de", "the second factor in the browser's language");
    await dePage.getByRole("button", { name: "Abbrechen und zurückkehren" }).click();
    const denied = await backAt(dePage, back);
    check(denied.searchParams.get("error") === "access_denied", `cancel: ${denied.href}`);
    check(denied.searchParams.get("state") === req.checks.expectedState, "cancel: the state comes back");
    check(denied.searchParams.get("iss") === base, "cancel: iss (RFC 9207)");
    let cancelled = null;
    await oidc.authorizationCodeGrant(spaConfig, denied, req.checks).catch((e) => (cancelled = e));
    check(cancelled?.error === "access_denied", `openid-client on cancel: ${cancelled}`);
    await deContext.close();
    check(deProblems.length === 0, deProblems.join("\n"));
  }

  // 4. Forced enrollment: the application asks for MFA (acr_values=aal2) of a user who
  //    has none; they set up an authenticator app on the way.
  await signUp("dana@example.com");
  req = await request(spaConfig, { acr_values: "aal2" });
  back = arrival();
  await page.goto(req.url.href);
  await signInOnPage(page, "dana@example.com");
  await expectPath(page, "/login/enroll");
  await shot(page, "oidc-enroll");
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  const secret = (await page.textContent("#totp-secret")).replace(/\s/g, "");
  await page.locator("input[name=code]").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.getByRole("link", { name: "I have saved them" }).click();
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  check(claims(tokens).acr === "aal2", `forced enrollment: acr ${claims(tokens).acr}`);
  await context.clearCookies();

  // 4a. Forced enrollment by text message (AuthHero's screens): the number at
  //     /u2/mfa/phone, the code from the webhook at /u2/mfa/sms, the backup codes once.
  await signUp("gina@example.com");
  const ginaPhone = "+14155552673";
  req = await request(spaConfig, { acr_values: "aal2" });
  back = arrival();
  await page.goto(req.url.href);
  await signInOnPage(page, "gina@example.com");
  await expectPath(page, "/login/enroll");
  await page.getByRole("link", { name: "Set up text messages" }).click();
  await expectPath(page, "/u2/mfa/phone");
  check((await page.textContent("main")).includes("Sign in to continue to Acme Notes"), "the phone step names the application");
  await page.getByRole("button", { name: "Cancel and go back" }).waitFor();
  await page.getByLabel("Mobile number").fill(ginaPhone);
  await shot(page, "oidc-enroll-phone");
  await page.getByRole("button", { name: "Send a code" }).click();
  await expectPath(page, "/u2/mfa/sms");
  check((await page.textContent("main")).includes("Sign in to continue to Acme Notes"), "the code step names the application");
  await page.getByRole("button", { name: "Cancel and go back" }).waitFor();
  const enrollCode = await smsCodeTo(ginaPhone);
  await shot(page, "oidc-enroll-sms");
  await page.getByLabel("Code", { exact: true }).fill(enrollCode);
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.getByRole("heading", { name: "Save your backup codes" }).waitFor({ timeout: 10_000 });
  await page.getByRole("link", { name: "I have saved them" }).click();
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  id = claims(tokens);
  check(id.acr === "aal2" && id.amr.includes("sms"), `SMS enrollment: acr ${id.acr} amr ${id.amr}`);
  await context.clearCookies();

  // 4b. A code by email as the second factor: the factor enrolled through the API (its
  //     confirmation code read from the SMTP server), then a sign-in whose second-factor
  //     step sends the code on arrival. Email is not an out-of-band authenticator: the ID
  //     token says aal1 (a password and an email code), with email in amr.
  const ivy = await signUp("ivy@example.com");
  r = await api("POST", `/v1/users/${ivy.user.id}/mfa/factors`, { type: "email_otp" }, ivy.access_token);
  check(r.status === 201, `enroll email_otp: ${r.body}`);
  const emailFactor = JSON.parse(r.body);
  check(emailFactor.email === "i***@example.com", `the enrollment names the masked address: ${emailFactor.email}`);
  r = await api("POST", `/v1/users/${ivy.user.id}/mfa/factors/${emailFactor.factor_id}/confirm`, { code: await emailCodeTo("ivy@example.com") }, ivy.access_token);
  check(r.status === 200, `confirm email_otp: ${r.body}`);
  req = await request(spaConfig);
  back = arrival();
  await page.goto(req.url.href);
  await signInOnPage(page, "ivy@example.com");
  await expectPath(page, "/login/mfa");
  check((await page.textContent("main")).includes("Sign in to continue to Acme Notes"), "the email step names the application");
  check((await page.getByRole("heading", { name: "Email", exact: true }).count()) === 1, "the email factor is shown");
  check((await page.textContent("main")).includes("i***@example.com"), "the step names the masked address the code went to");
  const emailCode = await emailCodeTo("ivy@example.com");
  await shot(page, "oidc-mfa-email");
  await page.getByLabel("Code", { exact: true }).fill(emailCode);
  await page.getByRole("button", { name: "Verify" }).click();
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  id = claims(tokens);
  check(id.sub === ivy.user.id, `email: sub ${id.sub}`);
  check(id.acr === "aal1", `email: acr ${id.acr} (an email code is not aal2)`);
  check(JSON.stringify(id.amr) === JSON.stringify(["pwd", "email", "mfa"]), `email: amr ${id.amr}`);
  await context.clearCookies();

  // 4c. A backup code: a user with an authenticator app (its backup codes shown once, in
  //     the confirmation's answer) picks "Backup codes" under "Try another method"; the
  //     same code is refused on the page the next time, and another of the set works.
  const jack = await signUp("jack@example.com");
  r = await api("POST", `/v1/users/${jack.user.id}/mfa/factors`, { type: "totp", name: "Phone" }, jack.access_token);
  check(r.status === 201, `enroll totp: ${r.body}`);
  const jackTotp = JSON.parse(r.body);
  r = await api("POST", `/v1/users/${jack.user.id}/mfa/factors/${jackTotp.factor_id}/confirm`, { code: totp(jackTotp.secret) }, jack.access_token);
  check(r.status === 200, `confirm totp: ${r.body}`);
  const backupCodes = JSON.parse(r.body).backup_codes;
  check(Array.isArray(backupCodes) && backupCodes.length >= 2, `backup codes at confirmation: ${r.body}`);
  /** Signs Jack in as far as the backup-code form of the second-factor step. */
  const toBackupForm = async (url) => {
    await page.goto(url);
    await signInOnPage(page, "jack@example.com");
    await expectPath(page, "/login/mfa");
    check((await page.getByRole("heading", { name: "Authenticator app · Phone", exact: true }).count()) === 1, "the authenticator app comes first");
    await page.getByRole("heading", { name: "Try another method" }).waitFor();
    await page.getByRole("link", { name: "Backup codes", exact: true }).click();
    await page.getByRole("heading", { name: "Backup codes", exact: true }).waitFor();
    check((await page.textContent("main")).includes("Each works once."), "the backup-code hint");
  };
  req = await request(spaConfig);
  back = arrival();
  await toBackupForm(req.url.href);
  await page.getByLabel("Code", { exact: true }).fill(backupCodes[0]);
  await shot(page, "oidc-mfa-backup");
  await page.getByRole("button", { name: "Verify" }).click();
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  id = claims(tokens);
  check(id.sub === jack.user.id, `backup code: sub ${id.sub}`);
  check(id.acr === "aal2", `backup code: acr ${id.acr}`);
  check(JSON.stringify(id.amr) === JSON.stringify(["pwd", "backup_code", "mfa"]), `backup code: amr ${id.amr}`);
  await context.clearCookies();
  // The same code again: refused on the page (no redirect), which stays on the step.
  req = await request(spaConfig);
  await toBackupForm(req.url.href);
  await page.getByLabel("Code", { exact: true }).fill(backupCodes[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await page.getByText("That code is not right. Check it and try again.").waitFor({ timeout: 10_000 });
  check(new URL(page.url()).pathname === "/login/mfa/verify", `a used backup code: at ${page.url()}`);
  check((await page.getByLabel("Code", { exact: true }).getAttribute("aria-invalid")) === "true", "the refusal is on the code field");
  // Another code of the set still works.
  back = arrival();
  await page.getByLabel("Code", { exact: true }).fill(backupCodes[1]);
  await page.getByRole("button", { name: "Verify" }).click();
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  check(claims(tokens).amr.includes("backup_code"), `the second backup code: amr ${claims(tokens).amr}`);
  await context.clearCookies();

  // 5. A passkey, asked for as phishing-resistant (acr_values=aal2_phr): the user adds one
  //    on the account page, then signs in with it alone.
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  // Chromium answers the sign-in page's conditional (autofill) request at once when
  // presence is simulated; off while a page loads, on before the button is pressed.
  const presence = (enabled) => cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled });
  // Erin has an authenticator app too (her first factor).
  const erinSecret = await userWithTotp("erin@example.com");
  await presence(false);
  await page.goto(`${base}/login`);
  await signInOnPage(page, "erin@example.com");
  await expectPath(page, "/login/mfa");
  await page.getByLabel("Code", { exact: true }).fill(totp(erinSecret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await expectPath(page, "/account/security");
  await presence(true);
  await page.getByLabel("Name of the passkey (optional)").fill("Laptop");
  await page.getByRole("button", { name: /Add a passkey/ }).click();
  await page.getByText("Your passkey or security key was added.").waitFor({ timeout: 10_000 });
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  check(credentials.length === 1, `passkeys on the authenticator: ${credentials.length}`);
  await context.clearCookies();
  // A password sign-in for aal2_phr: the second-factor step offers the passkey alone (no
  // code form, no other method), and the passkey reaches aal2_phr.
  await presence(false);
  req = await request(spaConfig, { acr_values: "aal2_phr" });
  back = arrival();
  await page.goto(req.url.href);
  await expectPath(page, "/login");
  await signInOnPage(page, "erin@example.com");
  await expectPath(page, "/login/mfa");
  check((await page.locator("input[name=code]").count()) === 0, "aal2_phr: no code form beside the passkey");
  check((await page.getByRole("heading", { name: "Try another method" }).count()) === 0, "aal2_phr: no other method");
  check(!(await page.textContent("main")).includes("Authenticator app"), "aal2_phr: the authenticator app is not offered");
  check((await page.textContent("main")).includes("Sign in to continue to Acme Notes"), "the MFA step names the application");
  await shot(page, "oidc-mfa-phr");
  await presence(true);
  await page.getByRole("button", { name: "Use your security key or passkey" }).click();
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  id = claims(tokens);
  check(id.acr === "aal2_phr" && id.amr.includes("pwd"), `password + passkey: acr ${id.acr} amr ${id.amr}`);
  await context.clearCookies();
  // With presence simulated, Chromium answers the sign-in page's autofill request at once,
  // as if the user had picked the passkey there: one ceremony, no race with the button
  // (passkeys.mjs drives the button).
  req = await request(spaConfig, { acr_values: "aal2_phr" });
  back = arrival();
  await page.goto(req.url.href, { waitUntil: "commit" });
  tokens = await oidc.authorizationCodeGrant(spaConfig, await backAt(page, back), req.checks);
  id = claims(tokens);
  check(id.acr === "aal2_phr", `passkey: acr ${id.acr} amr ${id.amr}`);
  await context.clearCookies();
  // The authenticator would answer the next sign-in page's autofill by itself.
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });

  // 6. A confidential client: client_secret_basic, ES256 ID tokens, form_post.
  req = await request(serverConfig, { response_mode: "form_post", scope: "openid email" });
  back = arrival();
  await page.goto(req.url.href, { waitUntil: "commit" });
  await expectPath(page, "/login");
  await signInOnPage(page, "alice@example.com");
  tokens = await oidc.authorizationCodeGrant(serverConfig, await backAt(page, back), req.checks);
  const header = JSON.parse(Buffer.from(tokens.id_token.split(".")[0], "base64url"));
  check(header.alg === "ES256", `ES256 ID token: ${header.alg}`);
  const machine = await oidc.clientCredentialsGrant(serverConfig, { scope: "read:reports" });
  check(machine.access_token && machine.scope === "read:reports", `client credentials: ${JSON.stringify(machine)}`);

  // 7. A request with a redirect URI the application never registered: a page, no redirect.
  await page.goto(`${base}/authorize?response_type=code&client_id=${spa.client_id}&redirect_uri=${encodeURIComponent("https://evil.example/cb")}&scope=openid`);
  check((await page.textContent("h1")).includes("This sign-in link does not work"), "bad redirect: an error page");
  check(new URL(page.url()).origin === new URL(base).origin, "never redirected");
  await shot(page, "oidc-bad-request");

  // 8. A second tenant, Globex, made by the operator with its own issuer under /t/globex:
  //    its application and user, discovered at its issuer, the code flow with PKCE through
  //    its screens, tokens naming it; the default issuer does not know its client.
  const globexApp = await api("POST", "/v1/admin/applications", {
    name: "Globex Portal",
    type: "public",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code", "refresh_token"],
  }, globexKey);
  check(globexApp.status === 201, `Globex application: ${globexApp.status} ${globexApp.body}`);
  // Its own look, set with its own key.
  const globexBrand = await api("PATCH", "/v1/admin/config", { branding: { display_name: "Globex", primary_color: "#5b2a86" } }, globexKey);
  check(globexBrand.status === 200, `Globex branding: ${globexBrand.status} ${globexBrand.body}`);
  const globexClient = JSON.parse(globexApp.body).client_id;
  const hank = await fetch(`${base}/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-tenant-id": globexId },
    body: JSON.stringify({ email: "hank@globex.example", password }),
  });
  const hankBody = await hank.text();
  check(hank.status === 201, `Globex sign-up: ${hank.status} ${hankBody}`);
  const hankId = JSON.parse(hankBody).user.id;
  const globexConfig = await oidc.discovery(new URL(globexIssuer), globexClient, undefined, oidc.None(), insecure);
  check(globexConfig.serverMetadata().issuer === globexIssuer, `Globex issuer ${globexConfig.serverMetadata().issuer}`);
  check(globexConfig.serverMetadata().authorization_endpoint === `${globexIssuer}/authorize`, "Globex's endpoints under its issuer");
  req = await request(globexConfig);
  check(req.url.href.startsWith(`${globexIssuer}/authorize?`), `Globex authorize: ${req.url.href}`);
  back = arrival();
  await page.goto(req.url.href);
  await expectPath(page, "/t/globex/login");
  check((await page.textContent("main")).includes("Sign in to continue to Globex Portal"), "Globex's page names its application");
  check((await page.textContent("header.site")).trim() === "Globex", "Globex's name in the header");
  const globexAccent = await page.evaluate(() => getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor);
  check(globexAccent === "rgb(91, 42, 134)", `Globex's colour on buttons: ${globexAccent}`);
  // Every link and form of the tenant's page stays under its issuer.
  const targets = await page.$$eval("main a[href], form[action]", (els) => els.map((e) => e.getAttribute("href") ?? e.getAttribute("action")));
  const astray = targets.filter((t) => !t.startsWith("/t/globex/"));
  check(targets.length > 0 && astray.length === 0, `links and forms off Globex's issuer: ${astray.join(", ")}`);
  await shot(page, "oidc-tenant-login");
  await signInOnPage(page, "hank@globex.example");
  const globexTokens = await oidc.authorizationCodeGrant(globexConfig, await backAt(page, back), req.checks);
  id = claims(globexTokens);
  check(id.iss === globexIssuer, `Globex ID token iss ${id.iss}`);
  check(id.sub === hankId && id.aud === globexClient, `Globex sub ${id.sub} aud ${id.aud}`);
  const access = JSON.parse(Buffer.from(globexTokens.access_token.split(".")[1], "base64url"));
  check(access.iss === globexIssuer, `Globex access token iss ${access.iss}`);
  const hankInfo = await oidc.fetchUserInfo(globexConfig, globexTokens.access_token, id.sub);
  check(hankInfo.email === "hank@globex.example", `Globex userinfo ${JSON.stringify(hankInfo)}`);
  // Nothing crosses: the default issuer's userinfo knows no Globex token, its token
  // endpoint no Globex client, and its /authorize shows the invalid-request page.
  let crossed = true;
  await oidc.fetchUserInfo(spaConfig, globexTokens.access_token, id.sub).catch(() => (crossed = false));
  check(!crossed, "the default issuer's userinfo took Globex's access token");
  const atRoot = await oidc.discovery(new URL(base), globexClient, undefined, oidc.None(), insecure);
  let unknown = null;
  await oidc.refreshTokenGrant(atRoot, globexTokens.refresh_token).catch((e) => (unknown = e));
  check(unknown?.error === "invalid_client", `Globex's client at the default issuer's token endpoint: ${unknown}`);
  req = await request(atRoot);
  await page.goto(req.url.href);
  check((await page.textContent("h1")).includes("This sign-in link does not work"), "Globex's client at the default issuer: an error page");
  check(new URL(page.url()).origin === new URL(base).origin, "never redirected");
  // Its refresh token still works at its own issuer (the refusal above spent nothing).
  const globexRefreshed = await oidc.refreshTokenGrant(globexConfig, globexTokens.refresh_token);
  check(globexRefreshed.claims().iss === globexIssuer, "Globex refresh");

  smsServer.close();
  rpServer.close();
}, (text, page) =>
  // Refusals answered with their status (the bad request's page), and the application's
  // stand-in server having no favicon.
  /Failed to load resource: .* status of (400|401)/.test(text) ||
  (/Failed to load resource: .* status of 404/.test(text) && page.url().startsWith(rp)));
