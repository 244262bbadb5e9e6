// @latchkey/js: a typed client for Latchkey's native API (`/v1`).
//
// Every call answers `{ data, error }` as the HelloJohn documents show them: on success `data`
// holds the answer (its fields are also on the result itself, so `const { access_token } =
// await lk.mfa.verify(…)` reads as the documents write it) and `error` is `null`; on failure
// `data` is `null` and `error` is the server's error (`code`, `message`, and for
// `mfa_required` / `mfa_setup_required` the `challenge_id`, `available_factors` or
// `allowed_factors`). Nothing throws for an answer from the server; a network failure is the
// error `network_error`.
//
// Tokens live in a `TokenStorage` (memory by default; never `localStorage` unless you pass
// one). An expired access token is refreshed before a call, a `401 invalid_token` answer is
// refreshed and retried once, and one refresh is in flight at a time (refresh tokens rotate:
// two refreshes with one token would end the session).

import type { components } from './openapi.js';
import { createCredential, getCredential, webauthnFailure, type CeremonyOptions, type CredentialJSON, type WebAuthnFailure } from './webauthn.js';

export * from './webauthn.js';

export type Schemas = components['schemas'];
export type User = Schemas['UserView'];
export type Factor = Schemas['FactorView'];
export type TokenResponse = Schemas['TokenResponse'];
export type AuthResponse = Schemas['AuthResponse'];
export type VerifyResponse = Schemas['VerifyResponse'];

/** A factor offered at a sign-in challenge (`available_factors`). */
export interface AvailableFactor {
  id: string;
  type: string;
  name?: string | null;
  destination?: string | null;
}

/** Every code the server's error envelope can carry (the OpenAPI document's `ErrorCode` enum,
 * made from the server's own list of codes). */
export type ServerErrorCode = Schemas['ErrorCode'];

/** Codes the SDK itself answers with, for what never reached (or came back from) the server. */
export type ClientErrorCode =
  /** `fetch` failed: the server could not be reached. */
  | 'network_error'
  /** The server answered with something other than JSON. */
  | 'invalid_response'
  /** An error status without Latchkey's error envelope (a proxy's page, …). */
  | 'http_error'
  /** A call that needs the user's tokens, with none stored (or a refused refresh). */
  | 'not_signed_in'
  /** The server answered without the WebAuthn options the ceremony needs. */
  | 'webauthn_options_missing'
  | WebAuthnFailure;

/** What `error.code` can be. A newer server may send a code this version does not list: it
 * is passed on as it came (never replaced), so compare with `===` and keep a default case. */
export type ErrorCode = ServerErrorCode | ClientErrorCode;

/** The server's error, with the fields its code brings. */
export interface LatchkeyError {
  /** Stable, machine-readable: `invalid_credentials`, `mfa_required`, `invalid_code`, … */
  code: ErrorCode;
  message: string;
  /** The HTTP status (0 when the server could not be reached). */
  status: number;
  request_id?: string | null;
  /** `mfa_required`, `mfa_setup_required`: the challenge to answer. */
  challenge_id?: string;
  /** `mfa_required`: the factors the user can answer with. */
  available_factors?: AvailableFactor[];
  /** `mfa_setup_required`: the factor types the user may enroll. */
  allowed_factors?: string[];
  expires_at?: string;
  /** Seconds to wait (`429`). */
  retry_after?: number;
  [field: string]: unknown;
}

export type Result<T extends object> =
  | ({ data: T; error: null } & T)
  | { data: null; error: LatchkeyError };

/** The tokens a client holds. */
export interface Tokens {
  access_token: string;
  refresh_token: string;
  /** When the access token lapses, ms since the epoch. */
  expires_at: number;
}

/** Where a client keeps its tokens. Memory by default; give another to persist them. */
export interface TokenStorage {
  get(): Tokens | null | Promise<Tokens | null>;
  set(tokens: Tokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

/** The default: tokens in memory, gone with the page or process. */
export function memoryStorage(): TokenStorage {
  let held: Tokens | null = null;
  return {
    get: () => held,
    set: (t) => {
      held = t;
    },
    clear: () => {
      held = null;
    },
  };
}

export interface ClientOptions {
  /** Latchkey's address, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** The tenant (`tnt_…`), sent as `X-Tenant-ID`; the server's default tenant without it. */
  tenantId?: string;
  storage?: TokenStorage;
  fetch?: typeof fetch;
  /** Refresh this many seconds before the access token lapses (default 30). */
  refreshLeewaySecs?: number;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

interface Call {
  method: Method;
  path: string;
  body?: unknown;
  /** `user`: the stored access token (refreshed as needed); a string: that bearer. */
  auth?: 'user' | string;
}

// Both spellings the documents use: `phoneNumber` (camelCase, the SDK snippets) and
// `phone_number` (the API).
function pick<T>(o: object, ...names: string[]): T | undefined {
  const rec = o as Record<string, unknown>;
  for (const n of names) {
    if (rec[n] !== undefined) return rec[n] as T;
  }
  return undefined;
}

function strip<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

function ok<T extends object>(data: T): Result<T> {
  return { ...data, data, error: null } as Result<T>;
}

/** An enrollment's answer names its factor `factor_id` (the API) and `id` (the documents'
 * `factor.id`). */
export type Enrollment = Schemas['EnrollmentResponse'] & { id: string };

function withId(r: Result<Schemas['EnrollmentResponse']>): Result<Enrollment> {
  if (r.error) return r;
  return ok({ ...r.data, id: r.data.factor_id });
}

function fail<T extends object>(error: LatchkeyError): Result<T> {
  return { data: null, error };
}

/** The low-level transport: JSON in, `{ data, error }` out. */
class Transport {
  readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly tenantId: string | undefined;

  constructor(opts: { baseUrl: string; tenantId?: string; fetch?: typeof fetch }) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.tenantId = opts.tenantId;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async send<T extends object>(method: Method, path: string, body: unknown, bearer?: string): Promise<Result<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (this.tenantId) headers['x-tenant-id'] = this.tenantId;
    let res: Response;
    try {
      res = await this.fetchFn(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      return fail({ code: 'network_error', message: String(e), status: 0 });
    }
    const text = await res.text();
    let json: unknown = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        return fail({ code: 'invalid_response', message: 'the server answered with something other than JSON', status: res.status });
      }
    }
    if (res.ok) return ok((json ?? {}) as T);
    const detail = (json as { error?: Record<string, unknown> } | null)?.error;
    const retry = res.headers.get('retry-after');
    const error: LatchkeyError = {
      ...(typeof detail === 'object' && detail ? detail : {}),
      // Unknown codes (a newer server's) pass through unchanged.
      code: typeof detail?.code === 'string' ? (detail.code as ErrorCode) : 'http_error',
      message: typeof detail?.message === 'string' ? detail.message : `HTTP ${res.status}`,
      status: res.status,
    };
    if (retry && !Number.isNaN(Number(retry))) error.retry_after = Number(retry);
    return fail(error);
  }
}

/** A client for a user's side of the API (browser or server). */
export class LatchkeyClient {
  private readonly t: Transport;
  private readonly storage: TokenStorage;
  private readonly leewayMs: number;
  private refreshing: Promise<Result<TokenResponse>> | null = null;

  readonly auth: {
    signUp(input: { email: string; password: string; phoneNumber?: string; phone_number?: string; name?: string }): Promise<Result<AuthResponse>>;
    signIn(input: { email: string; password: string; deviceToken?: string; device_token?: string }): Promise<Result<AuthResponse>>;
    signOut(): Promise<Result<object>>;
    refresh(): Promise<Result<TokenResponse>>;
    /** A passkey alone (a discoverable credential with user verification): the server's
     * options, `navigator.credentials.get()`, and the sign-in. Browser only. */
    signInWithPasskey(opts?: CeremonyOptions): Promise<Result<AuthResponse>>;
    getUser(): Promise<Result<User>>;
    getTokens(): Promise<Tokens | null>;
  };

  /** The sign-in challenge: after `mfa_required` or `mfa_setup_required`. */
  readonly mfa: {
    challenge(input: ChallengeInput): Promise<Result<Schemas['ChallengeResponse']>>;
    verify(input: VerifyInput): Promise<Result<VerifyResponse>>;
    enroll(input: ChallengeEnrollInput): Promise<Result<Enrollment>>;
    /** The WebAuthn factor (passkey or security key) answers the challenge: the challenge's
     * options, `navigator.credentials.get()`, and the verification. Browser only. */
    verifyWebAuthn(input: ChallengeInput & { remember_device?: boolean; rememberDevice?: boolean } & CeremonyOptions): Promise<Result<VerifyResponse>>;
  };

  /** The signed-in user's own account. */
  readonly user: {
    mfa: {
      list(): Promise<Result<Schemas['FactorList']>>;
      enroll(input: EnrollInput): Promise<Result<Enrollment>>;
      confirm(factorId: string, code: string | { code?: string; credential?: unknown }): Promise<Result<Schemas['ConfirmResponse']>>;
      remove(factorId: string): Promise<Result<object>>;
      regenerateBackupCodes(): Promise<Result<Schemas['BackupCodes']>>;
      /** Adds a passkey or security key: the enrollment's creation options,
       * `navigator.credentials.create()`, and the confirmation. Browser only. A ceremony the
       * user cancels leaves a pending factor that is never used and lapses. */
      enrollWebAuthn(input?: { name?: string } & CeremonyOptions): Promise<Result<Schemas['ConfirmResponse']>>;
    };
  };

  constructor(opts: ClientOptions) {
    this.t = new Transport(opts);
    this.storage = opts.storage ?? memoryStorage();
    this.leewayMs = (opts.refreshLeewaySecs ?? 30) * 1000;

    this.auth = {
      signUp: async (input) => {
        const r = await this.call<AuthResponse>({
          method: 'POST',
          path: '/v1/auth/signup',
          body: strip({
            email: input.email,
            password: input.password,
            phone_number: pick<string>(input, 'phoneNumber', 'phone_number'),
            name: input.name,
          }),
        });
        await this.keep(r);
        return r;
      },
      signIn: async (input) => {
        const r = await this.call<AuthResponse>({
          method: 'POST',
          path: '/v1/auth/signin',
          body: strip({
            email: input.email,
            password: input.password,
            device_token: pick<string>(input, 'deviceToken', 'device_token'),
          }),
        });
        await this.keep(r);
        return r;
      },
      signOut: async () => {
        const tokens = await this.storage.get();
        await this.storage.clear();
        if (!tokens) return ok({});
        return this.t.send<object>('POST', '/v1/auth/signout', { refresh_token: tokens.refresh_token });
      },
      refresh: () => this.refresh(),
      signInWithPasskey: async (opts = {}) => {
        const options = await this.t.send<Record<string, unknown>>('POST', '/v1/auth/passkey/options', undefined);
        if (options.error) return options;
        const credential = await ceremony(() => getCredential(options.data as never, opts));
        if ('error' in credential) return fail(credential.error);
        const r = await this.t.send<AuthResponse>('POST', '/v1/auth/passkey/signin', { credential: credential.json });
        await this.keep(r);
        return r;
      },
      getUser: () => this.call<User>({ method: 'GET', path: '/v1/users/me', auth: 'user' }),
      getTokens: async () => this.storage.get(),
    };

    this.mfa = {
      challenge: (input) =>
        this.call({
          method: 'POST',
          path: '/v1/mfa/challenge',
          body: strip({
            challenge_id: pick<string>(input, 'challenge_id', 'challengeId'),
            factor_id: pick<string>(input, 'factor_id', 'factorId'),
            type: input.type,
          }),
        }),
      verify: async (input) => {
        const r = await this.call<VerifyResponse>({
          method: 'POST',
          path: '/v1/mfa/verify',
          body: strip({
            challenge_id: pick<string>(input, 'challenge_id', 'challengeId'),
            factor_id: pick<string>(input, 'factor_id', 'factorId'),
            type: input.type,
            code: input.code,
            credential: input.credential,
            remember_device: pick<boolean>(input, 'remember_device', 'rememberDevice'),
          }),
        });
        await this.keep(r);
        return r;
      },
      enroll: async (input) =>
        withId(await this.call({
          method: 'POST',
          path: '/v1/mfa/enroll',
          body: strip({
            challenge_id: pick<string>(input, 'challenge_id', 'challengeId'),
            type: input.type,
            name: input.name,
            phone_number: pick<string>(input, 'phoneNumber', 'phone_number'),
          }),
        })),
      verifyWebAuthn: async (input) => {
        const challenge_id = pick<string>(input, 'challenge_id', 'challengeId');
        const factor_id = pick<string>(input, 'factor_id', 'factorId');
        const started = await this.mfa.challenge({ challenge_id, ...(factor_id ? { factor_id } : { type: 'webauthn' }) });
        if (started.error) return started;
        if (!started.data.webauthn) return fail(optionsMissing(started.data.type));
        const credential = await ceremony(() => getCredential(started.data.webauthn as never, input));
        if ('error' in credential) return fail(credential.error);
        return this.mfa.verify({
          challenge_id,
          factor_id: started.data.factor_id,
          credential: credential.json,
          remember_device: pick<boolean>(input, 'remember_device', 'rememberDevice'),
        });
      },
    };

    this.user = {
      mfa: {
        list: () => this.call({ method: 'GET', path: '/v1/users/me/mfa/factors', auth: 'user' }),
        enroll: async (input) =>
          withId(await this.call({
            method: 'POST',
            path: '/v1/users/me/mfa/factors',
            auth: 'user',
            body: strip({ type: input.type, name: input.name, phone_number: pick<string>(input, 'phoneNumber', 'phone_number') }),
          })),
        confirm: (factorId, code) =>
          this.call({
            method: 'POST',
            path: `/v1/users/me/mfa/factors/${encodeURIComponent(factorId)}/confirm`,
            auth: 'user',
            body: typeof code === 'string' ? { code } : strip(code),
          }),
        remove: (factorId) =>
          this.call({ method: 'DELETE', path: `/v1/users/me/mfa/factors/${encodeURIComponent(factorId)}`, auth: 'user' }),
        regenerateBackupCodes: () =>
          this.call({ method: 'POST', path: '/v1/users/me/mfa/backup-codes', auth: 'user', body: {} }),
        enrollWebAuthn: async (input = {}) => {
          const started = await this.user.mfa.enroll({ type: 'webauthn', name: input.name });
          if (started.error) return started;
          if (!started.data.webauthn) return fail(optionsMissing(started.data.type));
          const credential = await ceremony(() => createCredential(started.data.webauthn as never, input));
          if ('error' in credential) return fail(credential.error);
          return this.user.mfa.confirm(started.data.factor_id, { credential: credential.json });
        },
      },
    };
  }

  /** Stores the tokens of a successful sign-in, sign-up, verify or refresh. */
  private async keep(r: Result<object>): Promise<void> {
    if (r.error) return;
    const d = r.data as Partial<TokenResponse>;
    if (typeof d.access_token === 'string' && typeof d.refresh_token === 'string') {
      await this.storage.set({
        access_token: d.access_token,
        refresh_token: d.refresh_token,
        expires_at: Date.now() + (d.expires_in ?? 0) * 1000,
      });
    }
  }

  /** One refresh at a time: concurrent callers share the one in flight. */
  refresh(): Promise<Result<TokenResponse>> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const tokens = await this.storage.get();
        if (!tokens) {
          return fail<TokenResponse>({ code: 'not_signed_in', message: 'no refresh token is stored', status: 0 });
        }
        const r = await this.t.send<TokenResponse>('POST', '/v1/auth/refresh', { refresh_token: tokens.refresh_token });
        if (r.error) {
          // A refused refresh token will not work again (rotation, reuse detection).
          if (r.error.status === 401 || r.error.status === 400) await this.storage.clear();
          return r;
        }
        await this.keep(r);
        return r;
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async bearer(): Promise<string | null> {
    let tokens = await this.storage.get();
    if (!tokens) return null;
    if (Date.now() >= tokens.expires_at - this.leewayMs) {
      const r = await this.refresh();
      if (r.error) return null;
      tokens = await this.storage.get();
    }
    return tokens?.access_token ?? null;
  }

  private async call<T extends object>(c: Call): Promise<Result<T>> {
    if (c.auth !== 'user') return this.t.send<T>(c.method, c.path, c.body, c.auth);
    const token = await this.bearer();
    if (!token) return fail({ code: 'not_signed_in', message: 'sign in first', status: 401 });
    const r = await this.t.send<T>(c.method, c.path, c.body, token);
    if (r.error?.status === 401 && r.error.code === 'invalid_token') {
      const again = await this.refresh();
      if (again.error) return r;
      const next = await this.storage.get();
      if (next) return this.t.send<T>(c.method, c.path, c.body, next.access_token);
    }
    return r;
  }
}

/** Runs a browser ceremony; its refusal as an SDK error (nothing throws out of the client). */
async function ceremony(run: () => Promise<CredentialJSON>): Promise<{ json: CredentialJSON } | { error: LatchkeyError }> {
  try {
    return { json: await run() };
  } catch (e) {
    return { error: { ...webauthnFailure(e), status: 0 } };
  }
}

function optionsMissing(type: string): LatchkeyError {
  return { code: 'webauthn_options_missing', message: `the server sent no WebAuthn options (factor type ${type})`, status: 0 };
}

export interface ChallengeInput {
  challenge_id?: string;
  challengeId?: string;
  factor_id?: string;
  factorId?: string;
  type?: string;
}

export interface VerifyInput extends ChallengeInput {
  code?: string;
  /** A WebAuthn answer (`AuthenticationResponseJSON`), for a passkey or security key. */
  credential?: unknown;
  remember_device?: boolean;
  rememberDevice?: boolean;
}

export interface EnrollInput {
  type: 'totp' | 'sms' | 'email_otp' | 'webauthn' | (string & {});
  name?: string;
  phoneNumber?: string;
  phone_number?: string;
}

export interface ChallengeEnrollInput extends EnrollInput {
  challenge_id?: string;
  challengeId?: string;
}

export function createClient(opts: ClientOptions): LatchkeyClient {
  return new LatchkeyClient(opts);
}

export interface AdminOptions {
  baseUrl: string;
  /** A tenant secret key (`sk_live_…`). Server-side only: never ship it to a browser. */
  secretKey: string;
  fetch?: typeof fetch;
}

/** An administrator's client, with a tenant secret key. */
export function createAdminClient(opts: AdminOptions) {
  if (typeof window !== 'undefined' && typeof document !== 'undefined') {
    throw new Error('createAdminClient holds a secret key: use it on a server, never in a browser');
  }
  const t = new Transport(opts);
  const key = opts.secretKey;
  const q = (params: Record<string, string | number | undefined>) => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) s.set(k, String(v));
    const text = s.toString();
    return text ? `?${text}` : '';
  };
  return {
    config: {
      get: () => t.send<Schemas['SettingsView']>('GET', '/v1/admin/config', undefined, key),
      update: (patch: Schemas['SettingsPatchRequest']) => t.send<Schemas['SettingsView']>('PATCH', '/v1/admin/config', patch, key),
    },
    users: {
      get: (userId: string) => t.send<User>('GET', `/v1/admin/users/${encodeURIComponent(userId)}`, undefined, key),
      find: (email: string) => t.send<User>('GET', `/v1/admin/users${q({ email })}`, undefined, key),
      list: (page: { limit?: number; after?: string } = {}) =>
        t.send<Schemas['UserList']>('GET', `/v1/admin/users${q(page)}`, undefined, key),
      mfa: {
        list: (userId: string) =>
          t.send<Schemas['FactorList']>('GET', `/v1/users/${encodeURIComponent(userId)}/mfa/factors`, undefined, key),
        /** Every factor removed; needs a key with the `mfa:admin` scope. */
        reset: (userId: string) => t.send<object>('DELETE', `/v2/admin/users/${encodeURIComponent(userId)}/mfa`, undefined, key),
      },
    },
    audit: {
      list: (page: { limit?: number; after?: string } = {}) =>
        t.send<Schemas['AuditList']>('GET', `/v1/admin/audit-events${q(page)}`, undefined, key),
    },
  };
}

export type AdminClient = ReturnType<typeof createAdminClient>;
