// Auth0's own client for its Authentication API, @auth0/auth0-auth-js, unmodified, against
// Latchkey over HTTPS: the password grant (and password-realm), `isMfaRequiredError`, and its
// `mfa` client (enrollAuthenticator, listAuthenticators, challengeAuthenticator, verify with
// otp and recovery-code, deleteAuthenticator). The client discovers the issuer and checks
// the ID tokens itself (openid-client), so the issuer and signatures must be right too.
//
// Env (crates/latchkey/tests/compat.rs): LATCHKEY_DOMAIN (host:port, as Auth0 clients take
// it), LATCHKEY_SECRET_KEY (a tenant secret key, for the setup through /v1), and the test CA
// as NODE_EXTRA_CA_CERTS. It makes its own application and user.
import { AuthClient, isMfaRequiredError } from '@auth0/auth0-auth-js';
import { createHmac, randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';

const domain = process.env.LATCHKEY_DOMAIN;
const key = process.env.LATCHKEY_SECRET_KEY;
assert.ok(domain && key, 'LATCHKEY_DOMAIN and LATCHKEY_SECRET_KEY are required');
const base = `https://${domain}`;

async function api(method, path, body, token = key) {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  const json = text ? JSON.parse(text) : null;
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return json;
}

// RFC 6238 with SHA-1, 6 digits, 30-second steps, from a Base32 secret.
function totp(secret, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const bytes = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', bytes).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  const n = (h.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, '0');
}
const stepNow = () => Math.floor(Date.now() / 1000 / 30);

// Setup through the native API: an application allowed the password and MFA grants, and
// a user who must use a second factor (a user-level policy rule, so nothing else changes).
const grants = [
  'password',
  'http://auth0.com/oauth/grant-type/password-realm',
  'http://auth0.com/oauth/grant-type/mfa-otp',
  'http://auth0.com/oauth/grant-type/mfa-oob',
  'http://auth0.com/oauth/grant-type/mfa-recovery-code',
  'refresh_token',
];
const app = await api('POST', '/v1/admin/applications', {
  name: 'auth0-auth-js', type: 'confidential', grant_types: grants,
});
const email = `authjs-${randomUUID()}@example.com`;
const password = 'correct horse battery staple';
const signup = await api('POST', '/v1/auth/signup', { email, password }, undefined);
const userId = signup.user.id;

const auth = new AuthClient({ domain, clientId: app.client_id, clientSecret: app.client_secret });
const scope = 'openid profile email offline_access';

// 1. No second factor yet: tokens, with an ID token the client verified.
let t = await auth.getTokenByPassword({ username: email, password, scope });
assert.ok(t.accessToken && t.idToken && t.refreshToken, 'tokens');
assert.equal(t.claims.email, email);
// Latchkey's issuer is the public URL as configured (no trailing slash, where Auth0 has one);
// the client compares it with discovery's, as OpenID Connect asks.
assert.equal(t.claims.iss, base);
assert.equal(t.claims.aud, app.client_id);
const refreshed = await auth.getTokenByRefreshToken({ refreshToken: t.refreshToken });
assert.ok(refreshed.accessToken, 'refresh');

// A wrong password is the client's TokenByPasswordError, not mfa_required.
await assert.rejects(auth.getTokenByPassword({ username: email, password: 'wrong password!', scope }), (e) => {
  assert.ok(!isMfaRequiredError(e));
  assert.equal(e.cause?.error, 'invalid_grant');
  return true;
});

// 2. This user must now use a second factor: mfa_required with enroll requirements.
await api('PUT', `/v1/admin/mfa-rules/user/${userId}`, { mfa: 'required' });
let mfaToken;
await assert.rejects(auth.getTokenByPassword({ username: email, password, scope }), (e) => {
  assert.ok(isMfaRequiredError(e), `mfa_required expected: ${e}`);
  mfaToken = e.cause.mfa_token;
  assert.ok(e.cause.mfa_requirements.enroll.some((r) => r.type === 'otp'), JSON.stringify(e.cause));
  return true;
});

// 3. Enroll an authenticator app with the mfa_token; confirm it with the mfa-otp grant.
const enrolled = await auth.mfa.enrollAuthenticator({ authenticatorTypes: ['otp'], mfaToken });
assert.equal(enrolled.authenticatorType, 'otp');
assert.ok(enrolled.barcodeUri.startsWith('otpauth://totp/'), enrolled.barcodeUri);
const firstStep = stepNow();
t = await auth.mfa.verify({ mfaToken, factorType: 'otp', otp: totp(enrolled.secret, firstStep) });
assert.ok(t.accessToken && t.idToken, 'tokens after enrollment');
assert.equal(t.claims.acr, 'aal2');

// 4. The next sign-in is a challenge: list, challenge, verify (the next time step: each
// step is accepted once per factor).
await assert.rejects(
  auth.getTokenByPassword({ username: email, password, scope, realm: 'Username-Password-Authentication' }),
  (e) => {
    assert.ok(isMfaRequiredError(e));
    mfaToken = e.cause.mfa_token;
    assert.deepEqual(e.cause.mfa_requirements.challenge.map((r) => r.type), ['otp', 'recovery-code']);
    return true;
  },
);
const list = await auth.mfa.listAuthenticators({ mfaToken });
const otp = list.find((a) => a.authenticatorType === 'otp');
assert.ok(otp && otp.active, JSON.stringify(list));
assert.ok(list.some((a) => a.authenticatorType === 'recovery-code'), JSON.stringify(list));
const challenge = await auth.mfa.challengeAuthenticator({ mfaToken, challengeType: 'otp', authenticatorId: otp.id });
assert.equal(challenge.challengeType, 'otp');
await assert.rejects(auth.mfa.verify({ mfaToken, factorType: 'otp', otp: totp(enrolled.secret, firstStep) }), (e) => {
  // The step used at enrollment is spent.
  assert.match(String(e.cause?.error ?? e.code ?? e), /invalid_grant/);
  return true;
});
t = await auth.mfa.verify({ mfaToken, factorType: 'otp', otp: totp(enrolled.secret, firstStep + 1) });
assert.equal(t.claims.acr, 'aal2');

// 5. A recovery code (a fresh set made through /v1 with the access token just issued).
const codes = await api('POST', '/v1/users/me/mfa/backup-codes', {}, t.accessToken);
await assert.rejects(auth.getTokenByPassword({ username: email, password, scope }), (e) => {
  mfaToken = e.cause.mfa_token;
  return isMfaRequiredError(e);
});
t = await auth.mfa.verify({ mfaToken, factorType: 'recovery-code', recoveryCode: codes.backup_codes[0] });
assert.ok(t.accessToken, 'recovery code');

// 6. Remove the authenticator app with the user's access token.
await auth.mfa.deleteAuthenticator({ authenticatorId: otp.id, mfaToken: t.accessToken });
const after = await auth.mfa.listAuthenticators({ mfaToken: t.accessToken });
assert.ok(!after.some((a) => a.id === otp.id), JSON.stringify(after));
console.log('auth0-auth-js: password grant, mfa_required, enroll, challenge, verify (otp, recovery-code), delete: ok');
console.log('compat script passed');
