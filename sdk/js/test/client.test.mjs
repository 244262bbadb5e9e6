// @latchkey/js against a real Latchkey server (test/server.mjs): every call, the result and
// error shapes, the MFA flows (TOTP, SMS, backup codes, forced enrollment), refresh rotation
// with one refresh in flight, and the admin client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient, createAdminClient, memoryStorage } from '@latchkey/js';
import { startServer, totp } from './server.mjs';

const PASSWORD = 'correct horse battery staple';
let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

const email = () => `sdk-${randomUUID()}@example.com`;

test('sign-up, the user, sign-out and a wrong password', async () => {
  const lk = createClient({ baseUrl: server.baseUrl });
  const who = email();
  const up = await lk.auth.signUp({ email: who, password: PASSWORD, name: 'Ada' });
  assert.equal(up.error, null);
  assert.equal(up.data.user.email, who);
  assert.equal(up.user.email, who, "the data's fields are on the result too");
  assert.ok((await lk.auth.getTokens()).access_token);
  const me = await lk.auth.getUser();
  assert.equal(me.data.email, who);

  const out = await lk.auth.signOut();
  assert.equal(out.error, null);
  assert.equal(await lk.auth.getTokens(), null);
  const none = await lk.auth.getUser();
  assert.equal(none.error.code, 'not_signed_in');

  const bad = await lk.auth.signIn({ email: who, password: 'not the password' });
  assert.equal(bad.data, null);
  assert.equal(bad.error.code, 'invalid_credentials');
  assert.equal(bad.error.status, 401);
  assert.ok(bad.error.message);
  const taken = await lk.auth.signUp({ email: who, password: PASSWORD });
  assert.equal(taken.error.status, 409);
});

test('TOTP: enroll, confirm with backup codes, then the sign-in challenge', async () => {
  const lk = createClient({ baseUrl: server.baseUrl });
  const who = email();
  await lk.auth.signUp({ email: who, password: PASSWORD });
  const factor = await lk.user.mfa.enroll({ type: 'totp', name: 'Phone' });
  assert.equal(factor.error, null);
  assert.ok(factor.secret && factor.id === factor.factor_id);
  const confirmed = await lk.user.mfa.confirm(factor.id, totp(factor.secret));
  assert.equal(confirmed.error, null);
  assert.equal(confirmed.data.backup_codes.length, 10);
  const list = await lk.user.mfa.list();
  assert.deepEqual(list.data.factors.map((f) => f.type).sort(), ['backup_codes', 'totp']);
  await lk.auth.signOut();

  const result = await lk.auth.signIn({ email: who, password: PASSWORD });
  assert.equal(result.error?.code, 'mfa_required');
  const { challenge_id, available_factors } = result.error;
  const totpFactor = available_factors.find((f) => f.type === 'totp');
  const wrong = await lk.mfa.verify({ challenge_id, factor_id: totpFactor.id, code: '000000' === totp(factor.secret, 1) ? '111111' : '000000' });
  assert.equal(wrong.error.code, 'invalid_code');
  // camelCase works as well as the API's names.
  const { access_token, error } = await lk.mfa.verify({ challengeId: challenge_id, factorId: totpFactor.id, code: totp(factor.secret, 1) });
  assert.equal(error, null);
  assert.ok(access_token);
  assert.equal((await lk.auth.getUser()).data.email, who);

  // A backup code answers the next sign-in; then removing the authenticator app.
  await lk.auth.signOut();
  const again = await lk.auth.signIn({ email: who, password: PASSWORD });
  const backup = again.error.available_factors.find((f) => f.type === 'backup_codes');
  const v = await lk.mfa.verify({ challenge_id: again.error.challenge_id, factor_id: backup.id, code: confirmed.data.backup_codes[0] });
  assert.equal(v.error, null);
  const fresh = await lk.user.mfa.regenerateBackupCodes();
  assert.equal(fresh.data.backup_codes.length, 10);
  const removed = await lk.user.mfa.remove(factor.id);
  assert.equal(removed.error, null);
});

test('SMS: enroll with phoneNumber, confirm, and sign in with the code sent', async () => {
  const lk = createClient({ baseUrl: server.baseUrl });
  const who = email();
  await lk.auth.signUp({ email: who, password: PASSWORD });
  const phoneNumber = '+14155552671';
  // As the SMS document writes it (useUser's user.mfa), through the plain client.
  const user = lk.user;
  const factor = await user.mfa.enroll({ type: 'sms', phoneNumber });
  assert.equal(factor.error, null);
  // Every test signs up its own user, but they share this number.
  const sentBefore = server.log().split('\n').filter((l) => l.includes('DEVELOPMENT-ONLY') && l.includes(`to=${phoneNumber} `)).length;
  const code = await server.code(phoneNumber, sentBefore);
  const ok = await user.mfa.confirm(factor.id, code);
  assert.equal(ok.error, null);
  await lk.auth.signOut();

  const signInResult = await lk.auth.signIn({ email: who, password: PASSWORD });
  assert.equal(signInResult.error?.code, 'mfa_required');
  const { challenge_id, available_factors } = signInResult.error;
  const smsFactor = available_factors.find((f) => f.type === 'sms');
  assert.equal(smsFactor.destination, '+1***2671');
  const sent = await lk.mfa.challenge({ challenge_id, factor_id: smsFactor.id });
  assert.equal(sent.error, null);
  const userEnteredCode = await server.code(phoneNumber, sentBefore + 1);
  const { access_token } = await lk.mfa.verify({ challenge_id, factor_id: smsFactor.id, code: userEnteredCode });
  assert.ok(access_token);
  // Asking again at once is the resend cooldown: 429 with retry_after.
  await lk.auth.signOut();
  const third = await lk.auth.signIn({ email: who, password: PASSWORD });
  const ch = { challenge_id: third.error.challenge_id, factor_id: smsFactor.id };
  assert.equal((await lk.mfa.challenge(ch)).error, null);
  const cooldown = await lk.mfa.challenge(ch);
  assert.equal(cooldown.error.status, 429);
  assert.ok(cooldown.error.retry_after >= 1);
});

test('forced enrollment: mfa_setup_required, enroll on the challenge, verify', async () => {
  const lk = createClient({ baseUrl: server.baseUrl });
  const who = email();
  const up = await lk.auth.signUp({ email: who, password: PASSWORD });
  await server.admin('PUT', `/v1/admin/mfa-rules/user/${up.data.user.id}`, { mfa: 'required', allowed_factors: ['totp', 'backup_codes'] });
  await lk.auth.signOut();
  const r = await lk.auth.signIn({ email: who, password: PASSWORD });
  assert.equal(r.error.code, 'mfa_setup_required');
  assert.ok(r.error.allowed_factors.includes('totp'));
  const enrolled = await lk.mfa.enroll({ challengeId: r.error.challenge_id, type: 'totp' });
  assert.equal(enrolled.error, null);
  const v = await lk.mfa.verify({ challenge_id: r.error.challenge_id, code: totp(enrolled.secret) });
  assert.equal(v.error, null);
  assert.equal(v.data.backup_codes.length, 10);
});

test('refresh: an expired token is refreshed once for many calls, and a refused one is retried', async () => {
  const storage = memoryStorage();
  // A leeway longer than the token's life: every call finds the token due.
  const lk = createClient({ baseUrl: server.baseUrl, storage, refreshLeewaySecs: 10 ** 7 });
  let refreshes = 0;
  const counting = createClient({
    baseUrl: server.baseUrl,
    storage,
    refreshLeewaySecs: 10 ** 7,
    fetch: (url, init) => {
      if (String(url).endsWith('/v1/auth/refresh')) refreshes += 1;
      return fetch(url, init);
    },
  });
  const who = email();
  await lk.auth.signUp({ email: who, password: PASSWORD });
  const first = (await storage.get()).refresh_token;
  const results = await Promise.all(Array.from({ length: 8 }, () => counting.auth.getUser()));
  for (const r of results) assert.equal(r.data?.email, who, JSON.stringify(r.error));
  assert.equal(refreshes, 1, 'one refresh in flight for eight calls');
  assert.notEqual((await storage.get()).refresh_token, first, 'rotated');

  // A refused access token (401 invalid_token) is refreshed and the call made again.
  const relaxed = createClient({ baseUrl: server.baseUrl, storage });
  const held = await storage.get();
  await storage.set({ ...held, access_token: 'not-a-token', expires_at: Date.now() + 3_600_000 });
  const me = await relaxed.auth.getUser();
  assert.equal(me.data?.email, who, JSON.stringify(me.error));

  // The old refresh token is spent: presenting it ends the session (reuse detection), and
  // the client forgets tokens the server refused.
  await storage.set({ ...(await storage.get()), refresh_token: first, expires_at: 0 });
  const gone = await relaxed.auth.getUser();
  assert.equal(gone.error.code, 'not_signed_in');
  assert.equal(await storage.get(), null);
});

test('tenantId is sent as X-Tenant-ID; a network failure is an error, not a throw', async () => {
  const wrongTenant = createClient({ baseUrl: server.baseUrl, tenantId: 'not-a-tenant' });
  const r = await wrongTenant.auth.signIn({ email: email(), password: PASSWORD });
  assert.equal(r.error.code, 'invalid_tenant_id');
  const down = createClient({ baseUrl: 'http://127.0.0.1:9' });
  const d = await down.auth.signIn({ email: email(), password: PASSWORD });
  assert.equal(d.error.code, 'network_error');
  assert.equal(d.error.status, 0);
});

test('the admin client: config, users, their factors, the audit log', async () => {
  const admin = createAdminClient({ baseUrl: server.baseUrl, secretKey: server.adminKey });
  const cfg = await admin.config.get();
  assert.ok(cfg.data.mfa_allowed_factors.includes('sms'));
  const lk = createClient({ baseUrl: server.baseUrl });
  const who = email();
  const up = await lk.auth.signUp({ email: who, password: PASSWORD });
  const found = await admin.users.find(who);
  assert.equal(found.error, null);
  const id = up.data.user.id;
  assert.equal((await admin.users.get(id)).data.email, who);
  assert.deepEqual((await admin.users.mfa.list(id)).data.factors, []);
  const audit = await admin.audit.list({ limit: 5 });
  assert.ok(audit.data.events.length > 0);
  const bad = createAdminClient({ baseUrl: server.baseUrl, secretKey: 'sk_live_wrong' });
  assert.equal((await bad.config.get()).error.status, 401);
  // Never in a browser: it holds a secret key.
  globalThis.window = {};
  globalThis.document = {};
  try {
    assert.throws(() => createAdminClient({ baseUrl: server.baseUrl, secretKey: server.adminKey }), /never in a browser/);
  } finally {
    delete globalThis.window;
    delete globalThis.document;
  }
});
