// @latchkey/react: React hooks over @latchkey/js, in the shapes the HelloJohn documents use:
// `useUser()` (`user.mfa.enroll({ type: "sms", phoneNumber })`, `user.mfa.confirm(id, code)`),
// `useSignIn()` (`signIn`, `verifyMFA({ challengeId, factorId, code })`) and `useMFA()`
// (`submitTOTP(challengeId, code)`). The provider holds one client, the signed-in user and
// the sign-in's pending challenge, so the challenge a sign-in answers `mfa_required` with is
// there for the MFA step without passing it by hand.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import {
  createClient,
  type AvailableFactor,
  type ClientOptions,
  type Enrollment,
  type Factor,
  type LatchkeyClient,
  type LatchkeyError,
  type Result,
  type User,
} from '@latchkey/js';

export type { LatchkeyError, Result, User, Factor, AvailableFactor, Enrollment } from '@latchkey/js';

/** A sign-in waiting for its second factor (or for one to be enrolled). */
export interface PendingChallenge {
  challengeId: string;
  /** `mfa_required` (prove a factor) or `mfa_setup_required` (enroll one first). */
  kind: 'mfa_required' | 'mfa_setup_required';
  availableFactors: AvailableFactor[];
  allowedFactors: string[];
  expiresAt?: string;
}

interface State {
  client: LatchkeyClient;
  user: User | null;
  /** The first look-up of the signed-in user is under way. */
  loading: boolean;
  challenge: PendingChallenge | null;
  setUser(u: User | null): void;
  setChallenge(c: PendingChallenge | null): void;
  reload(): Promise<void>;
}

const Ctx = createContext<State | null>(null);

export type LatchkeyProviderProps = { children?: ReactNode } & (
  | { client: LatchkeyClient }
  | (ClientOptions & { client?: undefined })
);

/** Makes a client (or uses the one given) and shares it with the hooks below. */
export function LatchkeyProvider(props: LatchkeyProviderProps) {
  const { children } = props;
  const given = props.client;
  const baseUrl = 'baseUrl' in props ? props.baseUrl : undefined;
  const tenantId = 'tenantId' in props ? props.tenantId : undefined;
  const client = useMemo(
    () => given ?? createClient({ ...(props as ClientOptions), baseUrl: baseUrl as string, tenantId }),
    // The options object is new at every render; the client follows what identifies it.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [given, baseUrl, tenantId],
  );
  const [user, setUser] = useState<User | null>(null);
  const [loading, setLoading] = useState(true);
  const [challenge, setChallenge] = useState<PendingChallenge | null>(null);
  const reload = useCallback(async () => {
    const tokens = await client.auth.getTokens();
    if (!tokens) {
      setUser(null);
      return;
    }
    const r = await client.auth.getUser();
    setUser(r.error ? null : r.data);
  }, [client]);
  useEffect(() => {
    let live = true;
    reload().finally(() => {
      if (live) setLoading(false);
    });
    return () => {
      live = false;
    };
  }, [reload]);
  const state = useMemo<State>(
    () => ({ client, user, loading, challenge, setUser, setChallenge, reload }),
    [client, user, loading, challenge, reload],
  );
  return <Ctx.Provider value={state}>{children}</Ctx.Provider>;
}

function useLatchkeyState(): State {
  const s = useContext(Ctx);
  if (!s) throw new Error('Latchkey hooks must be used inside <LatchkeyProvider>');
  return s;
}

/** The client itself, for calls the hooks do not wrap. */
export function useLatchkey(): LatchkeyClient {
  return useLatchkeyState().client;
}

/** Runs calls that answer `{ data, error }`, keeping the last error and whether one is running. */
function useCalls() {
  const [pending, setPending] = useState(0);
  const [error, setError] = useState<LatchkeyError | null>(null);
  const run = useCallback(async <T extends object>(call: () => Promise<Result<T>>): Promise<Result<T>> => {
    setPending((n) => n + 1);
    try {
      const r = await call();
      setError(r.error);
      return r;
    } finally {
      setPending((n) => n - 1);
    }
  }, []);
  return { isLoading: pending > 0, error, run, setError };
}

function pendingOf(error: LatchkeyError | null): PendingChallenge | null {
  if (!error || (error.code !== 'mfa_required' && error.code !== 'mfa_setup_required') || !error.challenge_id) {
    return null;
  }
  return {
    challengeId: error.challenge_id,
    kind: error.code,
    availableFactors: error.available_factors ?? [],
    allowedFactors: error.allowed_factors ?? [],
    expiresAt: error.expires_at,
  };
}

/** The user's own factors, as `user.mfa` carries them. */
export interface UserMfa {
  list(): Promise<Result<{ factors: Factor[] }>>;
  enroll(input: { type: string; phoneNumber?: string; phone_number?: string; name?: string }): Promise<Result<Enrollment>>;
  confirm(factorId: string, code: string): Promise<Result<object>>;
  remove(factorId: string): Promise<Result<object>>;
  regenerateBackupCodes(): Promise<Result<{ backup_codes: string[] }>>;
  /** Adds a passkey or security key (the browser's `navigator.credentials.create()`). */
  enrollWebAuthn(input?: { name?: string }): Promise<Result<{ factor_id: string; status: string; backup_codes?: string[] | null }>>;
}

export type SignedInUser = User & { mfa: UserMfa };

/** The signed-in user (`null` when signed out), with `user.mfa` for the user's own factors. */
export function useUser() {
  const s = useLatchkeyState();
  const { isLoading, error, run } = useCalls();
  const mfa = useMemo<UserMfa>(
    () => ({
      list: () => run(() => s.client.user.mfa.list()),
      enroll: (input) => run(() => s.client.user.mfa.enroll(input)),
      confirm: (factorId, code) => run(() => s.client.user.mfa.confirm(factorId, code)),
      remove: (factorId) => run(() => s.client.user.mfa.remove(factorId)),
      regenerateBackupCodes: () => run(() => s.client.user.mfa.regenerateBackupCodes()),
      enrollWebAuthn: (input) => run(() => s.client.user.mfa.enrollWebAuthn(input)),
    }),
    [s.client, run],
  );
  const user = useMemo<SignedInUser | null>(() => (s.user ? { ...s.user, mfa } : null), [s.user, mfa]);
  return {
    user,
    isSignedIn: s.user !== null,
    isLoaded: !s.loading,
    isLoading: isLoading || s.loading,
    error,
    reload: s.reload,
    signOut: async () => {
      const r = await s.client.auth.signOut();
      s.setUser(null);
      s.setChallenge(null);
      return r;
    },
  };
}

/** Signing in, with the challenge a second factor brings carried to the MFA step. */
export function useSignIn() {
  const s = useLatchkeyState();
  const { isLoading, error, run } = useCalls();
  const finish = useCallback(
    async <T extends object>(r: Result<T>): Promise<Result<T>> => {
      if (r.error) {
        const pending = pendingOf(r.error);
        if (pending) s.setChallenge(pending);
        return r;
      }
      s.setChallenge(null);
      await s.reload();
      return r;
    },
    [s],
  );
  return {
    /** `{ email, password }`; on `mfa_required` the `challenge` is set for the next step. */
    signIn: (input: { email: string; password: string; deviceToken?: string }) =>
      run(async () => finish(await s.client.auth.signIn(input))),
    signUp: (input: { email: string; password: string; phoneNumber?: string; name?: string }) =>
      run(async () => finish(await s.client.auth.signUp(input))),
    /** A passkey alone (the browser's `navigator.credentials.get()`), no password. */
    signInWithPasskey: () => run(async () => finish(await s.client.auth.signInWithPasskey())),
    /** Sends the code of an SMS or email factor (again, after the cooldown). */
    sendCode: ({ challengeId, factorId }: { challengeId?: string; factorId: string }) =>
      run(() => s.client.mfa.challenge({ challenge_id: challengeId ?? s.challenge?.challengeId, factor_id: factorId })),
    /** `{ challengeId, factorId, code }`: completes the sign-in. */
    verifyMFA: ({ challengeId, factorId, code, rememberDevice }: { challengeId?: string; factorId?: string; code: string; rememberDevice?: boolean }) =>
      run(async () =>
        finish(
          await s.client.mfa.verify({
            challenge_id: challengeId ?? s.challenge?.challengeId,
            factor_id: factorId,
            code,
            remember_device: rememberDevice,
          }),
        ),
      ),
    challenge: s.challenge,
    isLoading,
    error,
  };
}

/** The second-factor step: `submitTOTP(challengeId, code)` and friends. */
export function useMFA() {
  const s = useLatchkeyState();
  const { isLoading, error, run } = useCalls();
  const done = useCallback(
    async <T extends object>(r: Result<T>): Promise<Result<T>> => {
      if (r.error) {
        const pending = pendingOf(r.error);
        if (pending) s.setChallenge(pending);
      } else if ('access_token' in r.data) {
        s.setChallenge(null);
        await s.reload();
      }
      return r;
    },
    [s],
  );
  const challengeId = (given?: string) => given ?? s.challenge?.challengeId;
  return {
    challenge: s.challenge,
    /** The authenticator app's code for the challenge (the factor is found by its type). */
    submitTOTP: (id: string | undefined, code: string) =>
      run(async () => done(await s.client.mfa.verify({ challenge_id: challengeId(id), type: 'totp', code }))),
    /** A backup code. */
    submitBackupCode: (id: string | undefined, code: string) =>
      run(async () => done(await s.client.mfa.verify({ challenge_id: challengeId(id), type: 'backup_codes', code }))),
    /** Sends an SMS or email factor its code. */
    sendCode: (id: string | undefined, factorId: string) =>
      run(() => s.client.mfa.challenge({ challenge_id: challengeId(id), factor_id: factorId })),
    /** A sent code for that factor. */
    submitCode: (id: string | undefined, factorId: string, code: string) =>
      run(async () => done(await s.client.mfa.verify({ challenge_id: challengeId(id), factor_id: factorId, code }))),
    /** A passkey or security key answers the challenge (the browser's `navigator.credentials.get()`). */
    submitWebAuthn: (id: string | undefined, factorId?: string) =>
      run(async () => done(await s.client.mfa.verifyWebAuthn({ challenge_id: challengeId(id), factor_id: factorId }))),
    /** Forced enrollment (`mfa_setup_required`): starts a factor on the challenge. */
    enroll: (input: { challengeId?: string; type: string; phoneNumber?: string; name?: string }) =>
      run(() => s.client.mfa.enroll({ ...input, challenge_id: challengeId(input.challengeId) })),
    /** Forgets the pending challenge (the user cancelled). */
    cancel: () => s.setChallenge(null),
    isLoading,
    error,
  };
}
