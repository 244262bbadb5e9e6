// Auth0's Node SDK (npm `auth0`, its ManagementClient, unmodified) against Latchkey's
// Management API v2: Guardian factors, policies, the SMS provider and templates, and a
// user's authentication methods with paging and an Auth0-style (percent-encoded) user id.
// Env: LATCHKEY_DOMAIN (host:port), LATCHKEY_CLIENT_ID, LATCHKEY_CLIENT_SECRET,
// LATCHKEY_USER_ID; NODE_EXTRA_CA_CERTS trusts the test CA.

import { ManagementClient } from "auth0";
import assert from "node:assert/strict";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const client = new ManagementClient({
  domain: env("LATCHKEY_DOMAIN"),
  clientId: env("LATCHKEY_CLIENT_ID"),
  clientSecret: env("LATCHKEY_CLIENT_SECRET"),
});
const userId = `auth0|${env("LATCHKEY_USER_ID")}`;
const step = (name) => console.log(`- ${name}`);

step("guardian factors");
const factors = await client.guardian.factors.list();
assert.deepEqual(
  factors.map((f) => f.name).sort(),
  ["duo", "email", "otp", "push-notification", "recovery-code", "sms", "webauthn-platform", "webauthn-roaming"],
);
assert.ok(factors.every((f) => typeof f.enabled === "boolean" && f.trial_expired === false));
assert.deepEqual(await client.guardian.factors.set("sms", { enabled: true }), { enabled: true });
assert.equal((await client.guardian.factors.list()).find((f) => f.name === "sms").enabled, true);
await assert.rejects(client.guardian.factors.set("push-notification", { enabled: true }), (e) => {
  assert.equal(e.statusCode, 400);
  assert.equal(e.body.errorCode, "unsupported_factor");
  return true;
});

step("guardian policies");
assert.deepEqual(await client.guardian.policies.set(["all-applications"]), ["all-applications"]);
assert.deepEqual(await client.guardian.policies.list(), ["all-applications"]);
assert.deepEqual(await client.guardian.policies.set([]), []);

step("sms provider: selected, twilio");
assert.deepEqual(await client.guardian.factors.sms.setProvider({ provider: "twilio" }), { provider: "twilio" });
const sid = "AC0123456789abcdef0123456789abcdef";
const twilio = await client.guardian.factors.sms.setTwilioProvider({
  sid,
  auth_token: "sdk-auth-token",
  from: "+15551234567",
});
assert.equal(twilio.sid, sid);
assert.equal(twilio.from, "+15551234567");
assert.ok(!JSON.stringify(twilio).includes("sdk-auth-token"));
assert.equal((await client.guardian.factors.sms.getTwilioProvider()).from, "+15551234567");
assert.equal((await client.guardian.factors.sms.getSelectedProvider()).provider, "twilio");
assert.equal((await client.guardian.factors.phone.getSelectedProvider()).provider, "twilio");
assert.equal((await client.guardian.factors.phone.getTwilioProvider()).sid, sid);
assert.deepEqual((await client.guardian.factors.phone.getMessageTypes()).message_types, ["sms"]);

step("sms templates");
const templates = {
  enrollment_message: "{{code}} is your enrollment code for {{tenant.friendly_name}}",
  verification_message: "{{code}} is your sign-in code",
};
assert.deepEqual(await client.guardian.factors.sms.setTemplates(templates), templates);
assert.deepEqual(await client.guardian.factors.sms.getTemplates(), templates);
// Back to the server's provider, so the user's enrollment below is sent to the console.
await client.guardian.factors.sms.setProvider({ provider: "auth0" });

step("authentication methods: create, page, get, delete");
const phone = await client.users.authenticationMethods.create(userId, {
  type: "phone",
  phone_number: "+14155552671",
});
assert.equal(phone.type, "phone");
const email = await client.users.authenticationMethods.create(userId, { type: "email" });
assert.equal(email.type, "email");
const first = await client.users.authenticationMethods.list(userId, { page: 0, per_page: 1, include_totals: true });
assert.equal(first.data.length, 1);
const seen = [];
for await (const m of first) seen.push(m);
assert.deepEqual(seen.map((m) => m.id).sort(), [phone.id, email.id].sort());
for (const m of seen) {
  assert.match(m.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(m.confirmed, false);
}
const one = await client.users.authenticationMethods.get(userId, phone.id);
assert.equal(one.phone_number, "+1***2671");
const enrollments = await client.users.enrollments.get(userId);
assert.equal(enrollments.length, 2);
await client.users.authenticationMethods.delete(userId, phone.id);
await assert.rejects(client.users.authenticationMethods.get(userId, phone.id), (e) => e.statusCode === 404);
await client.users.authenticationMethods.deleteAll(userId);
assert.equal((await client.users.authenticationMethods.list(userId, { include_totals: true })).data.length, 0);

step("errors");
await assert.rejects(client.users.authenticationMethods.list("auth0|nobody"), (e) => {
  assert.equal(e.statusCode, 404);
  assert.equal(e.body.errorCode, "inexistent_user");
  return true;
});

console.log("compat script passed");
