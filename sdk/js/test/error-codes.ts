// Compiled (never run) by `npm test`: `error.code` is the union of the server's codes (the
// OpenAPI document's ErrorCode enum) and the SDK's own, so a code no one sends is a type error.
import { createClient, type ClientErrorCode, type ErrorCode, type ServerErrorCode } from '@latchkey/js';

const lk = createClient({ baseUrl: 'http://127.0.0.1:1' });

export async function narrowing(): Promise<string> {
  const r = await lk.auth.signIn({ email: 'ada@example.com', password: 'correct horse battery staple' });
  if (!r.error) return r.data.user.email;
  const code: ErrorCode = r.error.code;
  const server: ServerErrorCode = 'mfa_required';
  const client: ClientErrorCode = 'not_signed_in';
  // @ts-expect-error: not a code the server or the SDK sends
  const unknown: ErrorCode = 'no_such_code';
  // @ts-expect-error: the comparison can never be true
  if (r.error.code === 'mfa_requried') return 'typo';
  switch (code) {
    case 'mfa_required':
      return r.error.challenge_id ?? '';
    case 'invalid_credentials':
    case 'network_error':
      return code;
    default:
      return `${server} ${client} ${String(unknown)}`;
  }
}
