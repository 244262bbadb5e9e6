// @latchkey/js's WebAuthn conversions (no server, no browser): base64url both ways, the
// server's options as navigator.credentials takes them, a credential back to the JSON the
// server reads, the browser's refusals as error codes, and a refused ceremony against a
// real server. The ceremonies themselves run in
// Chromium with a virtual authenticator (example/test/app.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  toBase64url,
  fromBase64url,
  creationOptionsFromJSON,
  requestOptionsFromJSON,
  credentialToJSON,
  webauthnFailure,
  createClient,
} from '@latchkey/js';
import { startServer } from './server.mjs';

const bytes = (buf) => Buffer.from(new Uint8Array(buf));

test('base64url both ways, as RFC 4648 §5 without padding', () => {
  for (let n = 0; n <= 70; n++) {
    const b = randomBytes(n);
    const text = toBase64url(b);
    assert.equal(text, b.toString('base64url'), `length ${n}`);
    assert.ok(!/[+/=]/.test(text));
    assert.deepEqual(bytes(fromBase64url(text)), b);
    // A typed view on part of a larger buffer encodes only its own bytes.
    const view = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    assert.equal(toBase64url(view), text);
  }
  assert.equal(toBase64url(new Uint8Array([0xfb, 0xff]).buffer), '-_8');
  // Padding is accepted; anything outside the alphabet is refused.
  assert.deepEqual(bytes(fromBase64url('-_8=')), Buffer.from([0xfb, 0xff]));
  for (const bad of ['+/8', 'ab cd', 'a', 'abcde', 'ab=c', 'ab===', 42, null]) {
    assert.throws(() => fromBase64url(bad), TypeError, String(bad));
  }
});

const creation = {
  publicKey: {
    rp: { name: 'Latchkey', id: 'localhost' },
    user: { id: 'AAEC', name: 'ada@example.com', displayName: 'Ada' },
    challenge: 'q83v',
    pubKeyCredParams: [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -8 }],
    timeout: 300000,
    excludeCredentials: [{ type: 'public-key', id: '_-8', transports: ['usb'] }],
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    attestation: 'none',
  },
};

test("creation options: the challenge, user id and excluded ids as bytes, the rest as sent", () => {
  const { publicKey } = creationOptionsFromJSON(creation);
  assert.ok(publicKey.challenge instanceof ArrayBuffer);
  assert.deepEqual(bytes(publicKey.challenge), Buffer.from([0xab, 0xcd, 0xef]));
  assert.deepEqual(bytes(publicKey.user.id), Buffer.from([0, 1, 2]));
  assert.equal(publicKey.user.name, 'ada@example.com');
  assert.deepEqual(bytes(publicKey.excludeCredentials[0].id), Buffer.from([0xff, 0xef]));
  assert.deepEqual(publicKey.excludeCredentials[0].transports, ['usb']);
  assert.deepEqual(publicKey.pubKeyCredParams, creation.publicKey.pubKeyCredParams);
  assert.deepEqual(publicKey.authenticatorSelection, creation.publicKey.authenticatorSelection);
  assert.equal(publicKey.rp.id, 'localhost');
  // The bare publicKey works too; the input is not changed.
  assert.deepEqual(bytes(creationOptionsFromJSON(creation.publicKey).publicKey.challenge), Buffer.from([0xab, 0xcd, 0xef]));
  assert.equal(creation.publicKey.challenge, 'q83v');
  assert.throws(() => creationOptionsFromJSON({ publicKey: { ...creation.publicKey, user: undefined } }), TypeError);
  assert.throws(() => creationOptionsFromJSON({ publicKey: { ...creation.publicKey, challenge: 'a+b' } }), TypeError);
});

test('request options: the challenge and allowed ids as bytes; mediation only when asked', () => {
  const json = {
    publicKey: { challenge: 'AQID', rpId: 'localhost', allowCredentials: [{ type: 'public-key', id: 'BAU' }], userVerification: 'required' },
    mediation: 'conditional',
  };
  const o = requestOptionsFromJSON(json);
  assert.deepEqual(bytes(o.publicKey.challenge), Buffer.from([1, 2, 3]));
  assert.deepEqual(bytes(o.publicKey.allowCredentials[0].id), Buffer.from([4, 5]));
  assert.equal(o.publicKey.rpId, 'localhost');
  assert.equal(o.mediation, undefined, 'a button-started ceremony drops mediation');
  assert.equal(requestOptionsFromJSON(json, { conditional: true }).mediation, 'conditional');
  // Passkey options allow any credential: no allowCredentials at all stays so.
  assert.equal(requestOptionsFromJSON({ publicKey: { challenge: 'AQID' } }).publicKey.allowCredentials, undefined);
  assert.throws(() => requestOptionsFromJSON({ publicKey: {} }), TypeError);
});

/** A PublicKeyCredential's shape, as the browser hands it over. */
function fakeCredential(response, extra = {}) {
  const raw = new Uint8Array([9, 8, 7, 250]).buffer;
  return {
    id: toBase64url(raw),
    rawId: raw,
    type: 'public-key',
    response,
    authenticatorAttachment: 'platform',
    getClientExtensionResults: () => ({ credProps: { rk: true } }),
    ...extra,
  };
}

test('a registration as RegistrationResponseJSON', () => {
  const cred = fakeCredential({
    clientDataJSON: new TextEncoder().encode('{"type":"webauthn.create"}').buffer,
    attestationObject: new Uint8Array([0xa3, 1, 2]).buffer,
    getTransports: () => ['internal', 'hybrid'],
  });
  const json = credentialToJSON(cred);
  assert.deepEqual(json, {
    id: 'CQgH-g',
    rawId: 'CQgH-g',
    type: 'public-key',
    response: {
      clientDataJSON: Buffer.from('{"type":"webauthn.create"}').toString('base64url'),
      attestationObject: 'owEC',
      transports: ['internal', 'hybrid'],
    },
    authenticatorAttachment: 'platform',
    clientExtensionResults: { credProps: { rk: true } },
  });
  // It survives JSON (what goes to the server).
  assert.deepEqual(JSON.parse(JSON.stringify(json)), json);
});

test('an assertion as AuthenticationResponseJSON, with and without a user handle', () => {
  const response = {
    clientDataJSON: new Uint8Array([1]).buffer,
    authenticatorData: new Uint8Array([2, 3]).buffer,
    signature: new Uint8Array([4, 5, 6]).buffer,
    userHandle: new Uint8Array([7]).buffer,
  };
  const json = credentialToJSON(fakeCredential(response, { authenticatorAttachment: null }));
  assert.deepEqual(json.response, { clientDataJSON: 'AQ', authenticatorData: 'AgM', signature: 'BAUG', userHandle: 'Bw' });
  assert.equal('authenticatorAttachment' in json, false);
  const second = credentialToJSON(fakeCredential({ ...response, userHandle: null }));
  assert.equal('userHandle' in second.response, false);
  assert.throws(() => credentialToJSON(fakeCredential({ clientDataJSON: new ArrayBuffer(1) })), TypeError);
});

test("the browser's refusals as error codes", () => {
  const named = (name) => Object.assign(new Error(name), { name });
  assert.equal(webauthnFailure(named('NotAllowedError')).code, 'webauthn_cancelled');
  assert.equal(webauthnFailure(named('AbortError')).code, 'webauthn_cancelled');
  assert.equal(webauthnFailure(named('NotSupportedError')).code, 'webauthn_unsupported');
  assert.equal(webauthnFailure(named('InvalidStateError')).code, 'webauthn_failed');
  assert.equal(webauthnFailure('boom').code, 'webauthn_failed');
});

test('against the server: a refused ceremony is an error, not a throw, and changes nothing', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const refusing = {
    create: async () => {
      throw Object.assign(new Error('The operation either timed out or was not allowed.'), { name: 'NotAllowedError' });
    },
    get: async () => {
      throw Object.assign(new Error('The operation either timed out or was not allowed.'), { name: 'NotAllowedError' });
    },
  };
  const lk = createClient({ baseUrl: server.baseUrl });
  // The server's passkey options, then a browser that refuses.
  const r = await lk.auth.signInWithPasskey({ credentials: refusing });
  assert.equal(r.data, null);
  assert.equal(r.error.code, 'webauthn_cancelled');
  assert.equal(await lk.auth.getTokens(), null);
  // No credentials container at all (node has none): unsupported.
  assert.equal((await lk.auth.signInWithPasskey()).error.code, 'webauthn_unsupported');

  // Enrolling: the server's creation options reach the browser, which refuses; the pending
  // factor is inert (never active, not offered at sign-in).
  await lk.auth.signUp({ email: `wa-${randomUUID()}@example.com`, password: 'correct horse battery staple' });
  let seen = null;
  const watching = { create: async (o) => ((seen = o), refusing.create()) };
  const e = await lk.user.mfa.enrollWebAuthn({ name: 'Laptop', credentials: watching });
  assert.equal(e.error.code, 'webauthn_cancelled');
  assert.ok(seen.publicKey.challenge instanceof ArrayBuffer && seen.publicKey.challenge.byteLength >= 16);
  assert.ok(seen.publicKey.user.id instanceof ArrayBuffer);
  const list = await lk.user.mfa.list();
  assert.deepEqual(list.data.factors.filter((f) => f.status === 'active'), []);
});
