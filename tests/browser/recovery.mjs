// Sign-up, email verification and a forgotten password in a real browser (Debian's headless
// Chromium through playwright-core), with the emails read from the real SMTP server the
// test runs (aiosmtpd's Maildir, $LATCHKEY_MAILDIR, parsed with Python's email package):
// create an account on /signup (from the sign-in page's link), confirm the address with
// the emailed link, sign out, ask for a reset on /password/forgot, open the emailed link,
// choose a new password, sign in with it (the old one refused); then an administrator's
// enrollment ticket, emailed, opened, a wrong and a right password, spent. Each screen is
// photographed and checked with axe-core. Started by crates/latchkey/tests/browser.rs.
//
//   LATCHKEY_URL=http://localhost:8080 LATCHKEY_SCREENS_DIR=/tmp/screens LATCHKEY_MAILDIR=/tmp/maildir \
//     node tests/browser/recovery.mjs

import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { adminKey, api, base, check, expectPath, journey, password, requireEnv, shot, signInWithPassword, signOut } from "./common.mjs";

requireEnv(["LATCHKEY_URL", "LATCHKEY_SCREENS_DIR", "LATCHKEY_MAILDIR"]);
const maildir = join(process.env.LATCHKEY_MAILDIR, "new");
const email = "carol@example.com";
const newPassword = "a brand new passphrase";

/** Prints a stored message's headers and text part as JSON (a MIME parser that is not ours). */
const READ = `
import email, email.policy, json, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
body = msg.get_body(preferencelist=("plain",)).get_content()
print(json.dumps({"to": str(msg["To"]), "subject": str(msg["Subject"]), "text": body}))
`;

const seen = new Set();

/** The next message to arrive in the Maildir (waits up to 10 s). */
async function nextMail() {
  for (let i = 0; i < 200; i++) {
    let names = [];
    try {
      names = readdirSync(maildir);
    } catch {
      // Not created until the first message.
    }
    const fresh = names.find((n) => !seen.has(n));
    if (fresh) {
      seen.add(fresh);
      return JSON.parse(execFileSync("python3", ["-c", READ, join(maildir, fresh)], { encoding: "utf8" }));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no email arrived");
}

/** The link in a message's text: it must be built from the public URL (ours). */
function linkIn(mail) {
  const link = mail.text.match(/https?:\/\/\S+/)?.[0];
  check(link && link.startsWith(`${base}/`), `the link is on the public URL: ${link}`);
  return link;
}

// The browser's notes that a page came with an intended error status are not failures.
const intended = (text) => /Failed to load resource: .* status of 40[013]/.test(text);

journey(async (page) => {
  // Sign-up, from the sign-in page's link.
  await page.goto(`${base}/login`);
  await page.getByRole("link", { name: "Create an account" }).click();
  await expectPath(page, "/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  const error = page.locator("#password-error");
  await error.waitFor();
  check((await page.getByLabel("Password").getAttribute("aria-invalid")) === "true", "the error is on the field");
  await shot(page, "signup-error");
  await page.getByLabel("Password").fill(password);
  await shot(page, "signup");
  await page.getByRole("button", { name: "Create account" }).click();
  await expectPath(page, "/account/security");

  // The verification email: its link opens a page that spends nothing until confirmed.
  const verify = await nextMail();
  check(verify.to === email, `sent to ${verify.to}`);
  check(/Confirm your email address/.test(verify.subject), verify.subject);
  await page.goto(linkIn(verify));
  await expectPath(page, "/verify-email");
  await shot(page, "verify-email");
  await page.getByRole("button", { name: "Confirm my email address" }).click();
  await expectPath(page, "/account/security");
  check(
    (await page.getByText("Your email address is confirmed.").count()) === 1,
    "the account page says the address is confirmed"
  );
  await signOut(page);

  // A forgotten password, from the sign-in page's link.
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await expectPath(page, "/password/forgot");
  await shot(page, "password-forgot");
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Send reset link" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  await shot(page, "password-forgot-sent");
  const reset = await nextMail();
  check(/Reset your .* password/.test(reset.subject), reset.subject);
  check(/\b\d{6}\b/.test(reset.text), "the email carries a code too");

  // The code form, as someone without the link would use it (nothing sent from here).
  await page.goto(`${base}/password/reset`);
  await shot(page, "password-reset-code");

  await page.goto(linkIn(reset));
  await expectPath(page, "/password/reset");
  await shot(page, "password-reset");
  await page.getByLabel("New password").fill(newPassword);
  await page.getByRole("button", { name: "Set new password" }).click();
  await expectPath(page, "/login");
  check(
    (await page.getByText("Your password was changed").count()) === 1,
    "the sign-in page says the password changed"
  );
  await shot(page, "login-password-reset");

  // The link works once.
  await page.goto(linkIn(reset));
  await page.getByRole("heading", { name: "This link does not work" }).waitFor();
  await shot(page, "link-invalid");

  // The old password is refused, the new one signs in.
  await signInWithPassword(page, email);
  await page.locator("#password-error").waitFor();
  await page.goto(`${base}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(newPassword);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectPath(page, "/account/security");

  // An administrator's enrollment ticket, emailed: its link opens the sign-in for the
  // account, whose password leads into setting up a second step; then the link is spent.
  const found = await api("GET", `/v1/admin/users?email=${encodeURIComponent(email)}`, undefined, adminKey);
  check(found.status === 200, `user lookup: ${found.body}`);
  const userId = JSON.parse(found.body).users[0].id;
  const made = await api("POST", `/v1/admin/users/${userId}/mfa/enrollment-tickets`, { send_email: true }, adminKey);
  check(made.status === 201, `ticket: ${made.body}`);
  const invitation = await nextMail();
  check(invitation.to === email, `sent to ${invitation.to}`);
  check(/Set up two-step verification/.test(invitation.subject), invitation.subject);
  const ticketLink = linkIn(invitation);
  check(ticketLink === JSON.parse(made.body).url, "the email carries the ticket's link");
  await page.goto(ticketLink);
  await expectPath(page, "/enroll");
  check((await page.getByLabel("Email").inputValue()) === email, "the ticket's account is shown");
  await shot(page, "enroll-ticket");
  await page.getByLabel("Password").fill("not my password");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.locator("#password-error").waitFor();
  await shot(page, "enroll-ticket-error");
  await page.getByLabel("Password").fill(newPassword);
  await page.getByRole("button", { name: "Continue" }).click();
  await expectPath(page, "/login/enroll");
  await page.goto(ticketLink);
  await page.getByRole("heading", { name: "This link does not work" }).waitFor();
  await shot(page, "enroll-ticket-used");
}, intended);
