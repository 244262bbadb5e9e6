// @latchkey/react with Testing Library (happy-dom), against a real Latchkey server: a sign-in that goes
// through the TOTP step (the challenge carried from useSignIn to useMFA's submitTOTP), and
// the HelloJohn documents' components, adapted only in the package name (useUser's
// user.mfa.enroll/confirm for SMS; useSignIn's verifyMFA for an emailed code).
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { useState } from 'react';
import { randomUUID } from 'node:crypto';
import { createClient } from '@latchkey/js';
import { LatchkeyProvider, useMFA, useSignIn, useUser } from '@latchkey/react';
import { APP_ORIGIN, startServer, totp } from '../../js/test/server.mjs';

const PASSWORD = 'correct horse battery staple';
let server;
beforeAll(async () => {
  server = await startServer();
  // The app is served from another origin than the API (the server lists it in
  // `cors_allowed_origins`); happy-dom, as a browser, sends the preflights and enforces
  // the answers.
  window.happyDOM.setURL(`${APP_ORIGIN}/`);
});
afterAll(() => {
  cleanup();
  server?.stop();
});
const email = () => `react-${randomUUID()}@example.com`;

// The MFA overview document's component, verbatim but for the package name.
function MFAChallenge({ challengeId }) {
  const { submitTOTP } = useMFA();

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        submitTOTP(challengeId, e.target.code.value);
      }}
    >
      <input name="code" placeholder="000000" maxLength={6} />
      <button type="submit">Verify</button>
    </form>
  );
}

function SignInPage() {
  const { user, isLoaded } = useUser();
  const { signIn, challenge, error } = useSignIn();
  if (!isLoaded) return <p>Loading</p>;
  if (user) return <p>Signed in as {user.email}</p>;
  if (challenge) return <MFAChallenge challengeId={challenge.challengeId} />;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        signIn({ email: e.target.email.value, password: e.target.password.value });
      }}
    >
      <input name="email" aria-label="Email" />
      <input name="password" aria-label="Password" type="password" />
      <button type="submit">Sign in</button>
      {error && <p role="alert">{error.code}</p>}
    </form>
  );
}

test('sign in, the TOTP step carried by the provider, signed in', async () => {
  const setup = createClient({ baseUrl: server.baseUrl });
  const who = email();
  await setup.auth.signUp({ email: who, password: PASSWORD });
  const factor = await setup.user.mfa.enroll({ type: 'totp' });
  await setup.user.mfa.confirm(factor.id, totp(factor.secret));

  render(
    <LatchkeyProvider baseUrl={server.baseUrl}>
      <SignInPage />
    </LatchkeyProvider>,
  );
  await screen.findByRole('button', { name: 'Sign in' });
  fireEvent.change(screen.getByLabelText('Email'), { target: { value: who } });
  fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong password!' } });
  fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
  expect((await screen.findByRole('alert')).textContent).toBe('invalid_credentials');

  fireEvent.change(screen.getByLabelText('Password'), { target: { value: PASSWORD } });
  fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
  await screen.findByRole('button', { name: 'Verify' });
  fireEvent.change(screen.getByPlaceholderText('000000'), { target: { value: totp(factor.secret, 1) } });
  fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
  await screen.findByText(`Signed in as ${who}`);
  cleanup();
});

// The SMS document's component, verbatim but for the package name.
function EnrollSMS() {
  const { user } = useUser();
  const [factorId, setFactorId] = useState(null);
  const [step, setStep] = useState('phone');
  const startEnrollment = async (phoneNumber) => {
    const factor = await user.mfa.enroll({ type: 'sms', phoneNumber });
    setFactorId(factor.id);
    setStep('code');
  };
  const confirmEnrollment = async (code) => {
    await user.mfa.confirm(factorId, code);
    alert('SMS MFA enabled!');
  };
  if (step === 'phone') {
    return (
      <form
        onSubmit={(e) => {
          e.preventDefault();
          startEnrollment(new FormData(e.currentTarget).get('phone'));
        }}
      >
        <input name="phone" type="tel" placeholder="+14155552671" />
        <button type="submit">Send code</button>
      </form>
    );
  }
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        confirmEnrollment(new FormData(e.currentTarget).get('code'));
      }}
    >
      <input name="code" type="text" maxLength={6} placeholder="123456" />
      <button type="submit">Verify</button>
    </form>
  );
}

function WhenSignedIn({ children }) {
  const { user } = useUser();
  return user ? children : <p>Loading</p>;
}

test("the SMS document's EnrollSMS component enrolls and confirms a phone", async () => {
  const client = createClient({ baseUrl: server.baseUrl });
  await client.auth.signUp({ email: email(), password: PASSWORD });
  const phone = '+14155550123';
  window.alert = vi.fn();
  render(
    <LatchkeyProvider client={client}>
      <WhenSignedIn>
        <EnrollSMS />
      </WhenSignedIn>
    </LatchkeyProvider>,
  );
  await screen.findByRole('button', { name: 'Send code' });
  fireEvent.change(screen.getByPlaceholderText('+14155552671'), { target: { value: phone } });
  fireEvent.click(screen.getByRole('button', { name: 'Send code' }));
  await screen.findByRole('button', { name: 'Verify' });
  const code = await server.code(phone, 1);
  fireEvent.change(screen.getByPlaceholderText('123456'), { target: { value: code } });
  fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
  await waitFor(() => expect(window.alert).toHaveBeenCalledWith('SMS MFA enabled!'));
  const factors = await client.user.mfa.list();
  expect(factors.data.factors.find((f) => f.type === 'sms').status).toBe('active');
  cleanup();
});

test("the email document's EmailOTPStep: hj.mfa.challenge, then useSignIn's verifyMFA", async () => {
  const hj = createClient({ baseUrl: server.baseUrl });
  const who = email();
  await hj.auth.signUp({ email: who, password: PASSWORD });
  const factor = await hj.user.mfa.enroll({ type: 'email_otp' });
  const confirmed = await hj.user.mfa.confirm(factor.id, await server.code(who, 1));
  expect(confirmed.error, server.log().split('\n').filter((l) => l.includes(who)).join('\n')).toBe(null);
  await hj.auth.signOut();
  const result = await hj.auth.signIn({ email: who, password: PASSWORD });
  expect(result.error?.code).toBe('mfa_required');
  const { challenge_id, available_factors } = result.error;
  const emailFactor = available_factors.find((f) => f.type === 'email_otp');

  // The email document's component, verbatim but for the package name.
  function EmailOTPStep({ challengeId, factorId }) {
    const { verifyMFA } = useSignIn();
    const [sent, setSent] = useState(false);

    const sendCode = async () => {
      await hj.mfa.challenge({ challenge_id: challengeId, factor_id: factorId });
      setSent(true);
    };

    const verify = async (code) => {
      await verifyMFA({ challengeId, factorId, code });
    };

    return (
      <div>
        {!sent ? (
          <button onClick={sendCode}>Send code to my email</button>
        ) : (
          <>
            <input id="code" placeholder="Enter code" />
            <button onClick={() => verify(document.getElementById('code').value)}>Verify</button>
          </>
        )}
      </div>
    );
  }
  function Done() {
    const { user } = useUser();
    return user ? <p>Welcome {user.email}</p> : null;
  }
  render(
    <LatchkeyProvider client={hj}>
      <EmailOTPStep challengeId={challenge_id} factorId={emailFactor.id} />
      <Done />
    </LatchkeyProvider>,
  );
  fireEvent.click(await screen.findByRole('button', { name: 'Send code to my email' }));
  await screen.findByRole('button', { name: 'Verify' });
  fireEvent.change(screen.getByPlaceholderText('Enter code'), { target: { value: await server.code(who, 2) } });
  fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
  await screen.findByText(`Welcome ${who}`);
  cleanup();
});
