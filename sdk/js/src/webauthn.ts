// WebAuthn in the browser for @latchkey/js: the server sends its ceremony options as JSON
// (`{"publicKey": {…}}`, binary fields base64url without padding, as WebAuthn Level 3's
// `PublicKeyCredentialCreationOptionsJSON` / `…RequestOptionsJSON`), the browser wants
// ArrayBuffers; the browser answers with a `PublicKeyCredential`, the server wants its JSON
// (`RegistrationResponseJSON` / `AuthenticationResponseJSON`). These functions convert both
// ways by hand (not with the browser's `parse…FromJSON` / `toJSON`, which not every browser
// has), so the same code runs everywhere and is what the tests check.

/** JSON options as the server sends them: `{ publicKey, mediation? }` or `publicKey` alone. */
export type WebAuthnOptionsJSON = { publicKey: Record<string, unknown>; mediation?: string } | Record<string, unknown>;

/** The browser's answer as JSON, what `/confirm`, `/v1/mfa/verify` and `/v1/auth/passkey/signin` take. */
export interface CredentialJSON {
  id: string;
  rawId: string;
  type: string;
  response: Record<string, unknown>;
  authenticatorAttachment?: string;
  clientExtensionResults: Record<string, unknown>;
}

/** Bytes (an ArrayBuffer or a view on one) as base64url without padding (RFC 4648 §5). */
export function toBase64url(bytes: ArrayBuffer | ArrayBufferView): string {
  const view =
    bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let binary = '';
  for (let i = 0; i < view.length; i++) binary += String.fromCharCode(view[i]);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** base64url (with or without padding) as an ArrayBuffer; throws on anything else. */
export function fromBase64url(text: string): ArrayBuffer {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(text) || text.replace(/=+$/, '').length % 4 === 1) {
    throw new TypeError('not base64url');
  }
  const b64 = text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '==='.slice((b64.length + 3) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function publicKeyOf(options: WebAuthnOptionsJSON): Record<string, unknown> {
  const pk = (options as { publicKey?: unknown }).publicKey;
  const inner = pk && typeof pk === 'object' ? (pk as Record<string, unknown>) : (options as Record<string, unknown>);
  if (typeof inner.challenge !== 'string') throw new TypeError('the WebAuthn options have no challenge');
  return inner;
}

function descriptors(list: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return list.map((c: { id: string; type?: string; transports?: string[] }) => ({
    ...c,
    type: (c.type ?? 'public-key') as PublicKeyCredentialType,
    id: fromBase64url(c.id),
    transports: c.transports as AuthenticatorTransport[] | undefined,
  }));
}

/** The server's creation options (an enrollment's `webauthn`) as `navigator.credentials.create()` takes them. */
export function creationOptionsFromJSON(options: WebAuthnOptionsJSON): CredentialCreationOptions {
  const pk = publicKeyOf(options);
  const user = pk.user as { id: string; name: string; displayName: string };
  if (!user || typeof user.id !== 'string') throw new TypeError('the WebAuthn creation options have no user id');
  const publicKey = {
    ...pk,
    challenge: fromBase64url(pk.challenge as string),
    user: { ...user, id: fromBase64url(user.id) },
  } as unknown as PublicKeyCredentialCreationOptions;
  const exclude = descriptors(pk.excludeCredentials);
  if (exclude) publicKey.excludeCredentials = exclude;
  return { publicKey };
}

/** The server's request options (a challenge's `webauthn`, or `/v1/auth/passkey/options`) as
 * `navigator.credentials.get()` takes them. `mediation` is kept only when asked for
 * (`conditional`: the passkey offered in the username field's autofill). */
export function requestOptionsFromJSON(options: WebAuthnOptionsJSON, opts: { conditional?: boolean } = {}): CredentialRequestOptions {
  const pk = publicKeyOf(options);
  const publicKey = { ...pk, challenge: fromBase64url(pk.challenge as string) } as unknown as PublicKeyCredentialRequestOptions;
  const allow = descriptors(pk.allowCredentials);
  if (allow) publicKey.allowCredentials = allow;
  const out: CredentialRequestOptions = { publicKey };
  if (opts.conditional) out.mediation = 'conditional' as CredentialMediationRequirement;
  return out;
}

/** A `PublicKeyCredential` from `create()` or `get()` as the JSON the server takes. */
export function credentialToJSON(credential: PublicKeyCredential): CredentialJSON {
  const r = credential.response as AuthenticatorResponse & Partial<AuthenticatorAttestationResponse & AuthenticatorAssertionResponse>;
  const response: Record<string, unknown> = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    if (typeof r.getTransports === 'function') response.transports = r.getTransports();
  } else {
    if (!r.authenticatorData || !r.signature) throw new TypeError('the credential is neither an attestation nor an assertion');
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
  }
  const json: CredentialJSON = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: typeof credential.getClientExtensionResults === 'function' ? { ...credential.getClientExtensionResults() } : {},
  };
  if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
  return json;
}

/** Where the ceremonies run: `navigator.credentials` unless given (another frame's, a test's). */
export interface CeremonyOptions {
  credentials?: CredentialsContainer;
  signal?: AbortSignal;
}

/** Why a ceremony did not give a credential, as an SDK error code. */
export type WebAuthnFailure = 'webauthn_unsupported' | 'webauthn_cancelled' | 'webauthn_failed';

/** A browser refusal mapped to a code: `NotAllowedError` (the user cancelled, or it timed
 * out: browsers do not say which) and `AbortError` are `webauthn_cancelled`. */
export function webauthnFailure(e: unknown): { code: WebAuthnFailure; message: string } {
  const name = (e as { name?: string } | null)?.name;
  const message = (e as { message?: string } | null)?.message ?? String(e);
  if (name === 'NotAllowedError' || name === 'AbortError') return { code: 'webauthn_cancelled', message };
  if (name === 'NotSupportedError') return { code: 'webauthn_unsupported', message };
  return { code: 'webauthn_failed', message };
}

function container(opts: CeremonyOptions): CredentialsContainer {
  const c = opts.credentials ?? (typeof navigator !== 'undefined' ? navigator.credentials : undefined);
  if (!c) throw Object.assign(new Error('WebAuthn is not available here (no navigator.credentials)'), { name: 'NotSupportedError' });
  return c;
}

/** Registers a credential for the server's creation options; its JSON. Throws the browser's error. */
export async function createCredential(options: WebAuthnOptionsJSON, opts: CeremonyOptions = {}): Promise<CredentialJSON> {
  const o = creationOptionsFromJSON(options);
  if (opts.signal) o.signal = opts.signal;
  const cred = (await container(opts).create(o)) as PublicKeyCredential | null;
  if (!cred) throw Object.assign(new Error('no credential was created'), { name: 'NotAllowedError' });
  return credentialToJSON(cred);
}

/** Asserts a credential for the server's request options; its JSON. Throws the browser's error. */
export async function getCredential(
  options: WebAuthnOptionsJSON,
  opts: CeremonyOptions & { conditional?: boolean } = {},
): Promise<CredentialJSON> {
  const o = requestOptionsFromJSON(options, { conditional: opts.conditional });
  if (opts.signal) o.signal = opts.signal;
  const cred = (await container(opts).get(o)) as PublicKeyCredential | null;
  if (!cred) throw Object.assign(new Error('no credential was chosen'), { name: 'NotAllowedError' });
  return credentialToJSON(cred);
}
