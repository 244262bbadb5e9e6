// The example app: every screen of a sign-in with a second factor, on @latchkey/react.
//
//   signed out       -> SignIn (password, or a passkey alone; or create an account)
//   mfa_required     -> MfaStep (authenticator app, text message, email, passkey, backup code)
//   signed in        -> Account (the factors; add an authenticator app, a phone, email
//                       codes or a passkey; new backup codes) and BackupCodes
//
// Each screen has one <h1>, which takes the focus when the screen appears (so a screen
// reader reads where the user is); errors are role="alert", notices role="status".

import { useCallback, useEffect, useRef, useState } from 'react';
import { useMFA, useSignIn, useUser } from '@latchkey/react';

export function App() {
  const { user, isLoaded, signOut } = useUser();
  const { challenge } = useSignIn();
  let screen;
  if (!isLoaded) screen = <p>Loading…</p>;
  else if (user) screen = <Account />;
  else if (challenge?.kind === 'mfa_required') screen = <MfaStep />;
  else if (challenge?.kind === 'mfa_setup_required') screen = <SetupRequired />;
  else screen = <SignIn />;
  return (
    <>
      <header>
        <p className="brand">Latchkey example</p>
        {user && (
          <p className="who">
            Signed in as <strong>{user.email}</strong>{' '}
            <button type="button" className="secondary" onClick={signOut}>
              Sign out
            </button>
          </p>
        )}
      </header>
      <main>{screen}</main>
    </>
  );
}

/** The screen's heading, focused when the screen appears. */
function Title({ children }) {
  const ref = useRef(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

/** What to tell the user for an SDK error; `error.code` is typed from the server's OpenAPI
 * document (see @latchkey/js's `ErrorCode`), unknown codes fall back to the server's message. */
function describe(error) {
  switch (error.code) {
    case 'invalid_credentials':
      return 'That email and password do not match an account.';
    case 'invalid_code':
      return 'That code is not right. Check it and try again.';
    case 'invalid_credential':
      return 'That passkey was not accepted.';
    case 'webauthn_cancelled':
      return 'The passkey request was cancelled or timed out.';
    case 'webauthn_unsupported':
      return 'This browser cannot use passkeys.';
    case 'email_taken':
      return 'An account with this email exists already. Sign in instead.';
    case 'challenge_expired':
    case 'invalid_challenge':
      return 'This sign-in has expired. Start again.';
    case 'too_many_attempts':
    case 'rate_limited':
      return `Too many attempts. Try again${error.retry_after ? ` in ${error.retry_after} seconds` : ' later'}.`;
    case 'mfa_verification_required':
      return 'To change your sign-in methods, sign out and sign in again with your second step first.';
    case 'network_error':
      return 'Latchkey could not be reached. Is the server running?';
    default:
      return error.message;
  }
}

function ErrorText({ error }) {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {describe(error)}
    </p>
  );
}

function field(form, name) {
  return new FormData(form).get(name)?.toString().trim() ?? '';
}

// --- signing in ---

function SignIn() {
  const { signIn, signUp, signInWithPasskey, isLoading, error } = useSignIn();
  const [creating, setCreating] = useState(false);
  const submit = (e) => {
    e.preventDefault();
    const input = { email: field(e.currentTarget, 'email'), password: field(e.currentTarget, 'password') };
    if (creating) signUp(input);
    else signIn(input);
  };
  return (
    <section>
      <Title key={creating ? 'up' : 'in'}>{creating ? 'Create an account' : 'Sign in'}</Title>
      <form onSubmit={submit}>
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username webauthn" required />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete={creating ? 'new-password' : 'current-password'}
          minLength={8}
          required
          aria-describedby={creating ? 'password-hint' : undefined}
        />
        {creating && (
          <p id="password-hint" className="hint">
            At least 8 characters; a few words are easy to remember.
          </p>
        )}
        <ErrorText error={error} />
        <button type="submit" disabled={isLoading}>
          {creating ? 'Create account' : 'Sign in'}
        </button>
      </form>
      {!creating && (
        <p>
          <button type="button" className="secondary" onClick={() => signInWithPasskey()} disabled={isLoading}>
            Sign in with a passkey
          </button>
        </p>
      )}
      <p>
        <button type="button" className="link" onClick={() => setCreating(!creating)}>
          {creating ? 'I have an account: sign in' : 'No account yet? Create one'}
        </button>
      </p>
    </section>
  );
}

const FACTOR_LABELS = {
  totp: 'Authenticator app',
  sms: 'Text message',
  email_otp: 'Email',
  webauthn: 'Passkey or security key',
  backup_codes: 'Backup code',
};

function factorLabel(f) {
  const base = FACTOR_LABELS[f.type] ?? f.type;
  return f.destination ? `${base} (${f.destination})` : base;
}

function MfaStep() {
  const mfa = useMFA();
  const factors = mfa.challenge?.availableFactors ?? [];
  const [chosenId, setChosenId] = useState(() => (factors.find((f) => f.type !== 'backup_codes') ?? factors[0])?.id);
  const chosen = factors.find((f) => f.id === chosenId) ?? factors[0];
  return (
    <section>
      <Title>Two-step verification</Title>
      <p>Your password was right. Now confirm it is you with your second step.</p>
      {factors.length > 1 && (
        <fieldset>
          <legend>Verify with</legend>
          {factors.map((f) => (
            <div className="choice" key={f.id}>
              <input
                type="radio"
                id={`factor-${f.id}`}
                name="factor"
                value={f.id}
                checked={f.id === chosen?.id}
                onChange={() => setChosenId(f.id)}
              />
              <label htmlFor={`factor-${f.id}`}>{factorLabel(f)}</label>
            </div>
          ))}
        </fieldset>
      )}
      {chosen && <FactorAnswer key={chosen.id} factor={chosen} mfa={mfa} />}
      <p>
        <button type="button" className="link" onClick={mfa.cancel}>
          Cancel and start over
        </button>
      </p>
    </section>
  );
}

function CodeForm({ label, onCode, busy, error, button = 'Verify', autoComplete = 'one-time-code', numeric = true }) {
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onCode(field(e.currentTarget, 'code'));
      }}
    >
      <label htmlFor="code">{label}</label>
      <input
        id="code"
        name="code"
        autoComplete={autoComplete}
        inputMode={numeric ? 'numeric' : 'text'}
        spellCheck={false}
        autoCapitalize="none"
        required
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'code-error' : undefined}
      />
      {error && (
        <p role="alert" className="error" id="code-error">
          {describe(error)}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {button}
      </button>
    </form>
  );
}

function FactorAnswer({ factor, mfa }) {
  const [sentTo, setSentTo] = useState(null);
  switch (factor.type) {
    case 'totp':
      return (
        <CodeForm
          label="6-digit code from your authenticator app"
          onCode={(code) => mfa.submitCode(undefined, factor.id, code)}
          busy={mfa.isLoading}
          error={mfa.error}
        />
      );
    case 'sms':
    case 'email_otp': {
      const send = async () => {
        const r = await mfa.sendCode(undefined, factor.id);
        if (!r.error) setSentTo(r.data.destination ?? factor.destination ?? 'you');
      };
      if (!sentTo) {
        return (
          <div>
            <p>We will send a code to {factor.destination ?? 'you'}.</p>
            <ErrorText error={mfa.error} />
            <button type="button" onClick={send} disabled={mfa.isLoading}>
              Send the code
            </button>
          </div>
        );
      }
      return (
        <>
          <p role="status">We sent a code to {sentTo}.</p>
          <CodeForm
            label={factor.type === 'sms' ? 'Code from the text message' : 'Code from the email'}
            onCode={(code) => mfa.submitCode(undefined, factor.id, code)}
            busy={mfa.isLoading}
            error={mfa.error}
          />
          <p>
            <button type="button" className="link" onClick={send} disabled={mfa.isLoading}>
              Send a new code
            </button>
          </p>
        </>
      );
    }
    case 'webauthn':
      return (
        <div>
          <p>Use the passkey or security key you added to this account.</p>
          <ErrorText error={mfa.error} />
          <button type="button" onClick={() => mfa.submitWebAuthn(undefined, factor.id)} disabled={mfa.isLoading}>
            Use your passkey
          </button>
        </div>
      );
    case 'backup_codes':
      return (
        <CodeForm
          label="One of your backup codes"
          onCode={(code) => mfa.submitBackupCode(undefined, code)}
          busy={mfa.isLoading}
          error={mfa.error}
          numeric={false}
          autoComplete="off"
        />
      );
    default:
      return <p>This app cannot answer with a factor of type {factor.type}.</p>;
  }
}

function SetupRequired() {
  const mfa = useMFA();
  return (
    <section>
      <Title>Set up two-step verification</Title>
      <p>
        This account must add a second step before it can sign in (allowed:{' '}
        {mfa.challenge.allowedFactors.map((t) => FACTOR_LABELS[t] ?? t).join(', ')}). This example adds
        factors from the account page; use the hosted pages for forced enrollment.
      </p>
      <button type="button" className="link" onClick={mfa.cancel}>
        Back to sign-in
      </button>
    </section>
  );
}

// --- the signed-in account ---

function Account() {
  const { user } = useUser();
  const [view, setView] = useState({ name: 'home' });
  const [factors, setFactors] = useState(null);
  const load = useCallback(async () => {
    const r = await user.mfa.list();
    if (!r.error) setFactors(r.data.factors);
  }, [user.mfa]);
  useEffect(() => {
    load();
  }, [load]);
  const home = (notice) => {
    setView({ name: 'home', notice });
    load();
  };
  const added = (what) => (r) => {
    if (r.data.backup_codes?.length) setView({ name: 'codes', codes: r.data.backup_codes, first: true, notice: `${what} was added.` });
    else home(`${what} was added.`);
  };
  switch (view.name) {
    case 'confirm':
      return <ConfirmEnrollment enrollment={view.enrollment} onAdded={added(view.what)} onCancel={() => home()} />;
    case 'phone':
      return <AddPhone onStarted={(enrollment) => setView({ name: 'confirm', enrollment, what: 'Your phone' })} onCancel={() => home()} />;
    case 'passkey':
      return <AddPasskey onAdded={added('Your passkey')} onCancel={() => home()} />;
    case 'codes':
      return <BackupCodes codes={view.codes} first={view.first} notice={view.notice} onDone={() => home()} />;
    default:
      return <AccountHome factors={factors} notice={view.notice} setView={setView} />;
  }
}

function AccountHome({ factors, notice, setView }) {
  const { user, isLoading, error } = useUser();
  const start = async (type, what) => {
    const r = await user.mfa.enroll({ type, name: what });
    if (!r.error) setView({ name: 'confirm', enrollment: r.data, what });
  };
  const newCodes = async () => {
    const r = await user.mfa.regenerateBackupCodes();
    if (!r.error) setView({ name: 'codes', codes: r.data.backup_codes, first: false });
  };
  const active = (factors ?? []).filter((f) => f.status === 'active');
  const has = (type) => active.some((f) => f.type === type);
  return (
    <section>
      <Title>Your account</Title>
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      <h2>Two-step verification</h2>
      {factors === null ? (
        <p>Loading your sign-in methods…</p>
      ) : active.length === 0 ? (
        <p>You sign in with your password alone. Add a second step to protect your account.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Your second steps</caption>
          <thead>
            <tr>
              <th scope="col">Method</th>
              <th scope="col">Details</th>
              <th scope="col">Added</th>
            </tr>
          </thead>
          <tbody>
            {active.map((f) => (
              <tr key={f.factor_id}>
                <td>{FACTOR_LABELS[f.type] ?? f.type}</td>
                <td>{f.type === 'backup_codes' ? `${f.remaining_codes} left` : f.destination ?? f.name ?? ''}</td>
                <td>{f.created_at ? new Date(f.created_at).toLocaleDateString('en-GB') : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorText error={error} />
      <h2>Add a second step</h2>
      <ul className="actions">
        <li>
          <button type="button" onClick={() => start('totp', 'Authenticator app')} disabled={isLoading}>
            Add an authenticator app
          </button>
        </li>
        <li>
          <button type="button" onClick={() => setView({ name: 'phone' })} disabled={isLoading}>
            Add a phone for text messages
          </button>
        </li>
        <li>
          <button type="button" onClick={() => start('email_otp', 'Email')} disabled={isLoading || has('email_otp')}>
            Add codes by email
          </button>
        </li>
        <li>
          <button type="button" onClick={() => setView({ name: 'passkey' })} disabled={isLoading}>
            Add a passkey
          </button>
        </li>
      </ul>
      {has('backup_codes') && (
        <>
          <h2>Backup codes</h2>
          <p>Lost your phone or key? A backup code gets you in once.</p>
          <button type="button" className="secondary" onClick={newCodes} disabled={isLoading}>
            Get new backup codes
          </button>
        </>
      )}
    </section>
  );
}

function svgDataUrl(svg) {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

function ConfirmEnrollment({ enrollment, onAdded, onCancel }) {
  const { user, isLoading, error } = useUser();
  const confirm = async (code) => {
    const r = await user.mfa.confirm(enrollment.factor_id, code);
    if (!r.error) onAdded(r);
  };
  let title;
  let intro;
  let label;
  if (enrollment.type === 'totp') {
    title = 'Add an authenticator app';
    label = '6-digit code from the app';
    intro = (
      <>
        <ol>
          <li>
            <p>Scan this QR code with your authenticator app:</p>
            {enrollment.qr_code_svg && (
              <img className="qr" src={svgDataUrl(enrollment.qr_code_svg)} alt="QR code to add this account to an authenticator app" width="200" height="200" />
            )}
          </li>
          <li>
            <p>
              Or type this key into the app: <code id="totp-secret">{enrollment.secret}</code>
            </p>
          </li>
          <li>
            <p>Enter the code the app shows.</p>
          </li>
        </ol>
      </>
    );
  } else if (enrollment.type === 'sms') {
    title = 'Confirm your phone';
    label = 'Code from the text message';
    intro = <p role="status">We sent a code to {enrollment.phone_number}.</p>;
  } else {
    title = 'Confirm codes by email';
    label = 'Code from the email';
    intro = <p role="status">We sent a code to {enrollment.email}.</p>;
  }
  return (
    <section>
      <Title>{title}</Title>
      {intro}
      <CodeForm label={label} onCode={confirm} busy={isLoading} error={error} button="Confirm" />
      <p>
        <button type="button" className="link" onClick={onCancel}>
          Cancel
        </button>
      </p>
    </section>
  );
}

function AddPhone({ onStarted, onCancel }) {
  const { user, isLoading, error } = useUser();
  const submit = async (e) => {
    e.preventDefault();
    const r = await user.mfa.enroll({ type: 'sms', phoneNumber: field(e.currentTarget, 'phone'), name: 'Phone' });
    if (!r.error) onStarted(r.data);
  };
  return (
    <section>
      <Title>Add a phone for text messages</Title>
      <form onSubmit={submit}>
        <label htmlFor="phone">Phone number</label>
        <input id="phone" name="phone" type="tel" autoComplete="tel" required aria-describedby="phone-hint" />
        <p id="phone-hint" className="hint">
          With the country code, for example +14155552671.
        </p>
        <ErrorText error={error} />
        <button type="submit" disabled={isLoading}>
          Send a code
        </button>
      </form>
      <p>
        <button type="button" className="link" onClick={onCancel}>
          Cancel
        </button>
      </p>
    </section>
  );
}

function AddPasskey({ onAdded, onCancel }) {
  const { user, isLoading, error } = useUser();
  const submit = async (e) => {
    e.preventDefault();
    const name = field(e.currentTarget, 'name');
    const r = await user.mfa.enrollWebAuthn(name ? { name } : {});
    if (!r.error) onAdded(r);
  };
  return (
    <section>
      <Title>Add a passkey</Title>
      <p>Your browser will ask you to create a passkey with this device, or to touch your security key.</p>
      <form onSubmit={submit}>
        <label htmlFor="passkey-name">Name of the passkey (optional)</label>
        <input id="passkey-name" name="name" autoComplete="off" />
        <ErrorText error={error} />
        <button type="submit" disabled={isLoading}>
          Create the passkey
        </button>
      </form>
      <p>
        <button type="button" className="link" onClick={onCancel}>
          Cancel
        </button>
      </p>
    </section>
  );
}

function BackupCodes({ codes, first, notice, onDone }) {
  return (
    <section>
      <Title>Save your backup codes</Title>
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      <p>
        {first ? 'Your account now has a second step. ' : 'Your old backup codes no longer work. '}
        If you lose your phone or key, each of these codes signs you in once. Keep them somewhere safe:
        they are shown only now.
      </p>
      <ul className="codes" aria-label="Backup codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <button type="button" onClick={onDone}>
        I have saved them
      </button>
    </section>
  );
}
