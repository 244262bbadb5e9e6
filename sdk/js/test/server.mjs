// A real Latchkey server for the SDK's tests: the `latchkey` binary (LATCHKEY_BIN, which
// `cargo test -p latchkey --test sdk` sets) on a free loopback port, SQLite in a temporary
// directory, a secret key with the `mfa:admin` scope made at the command line first, and
// the console SMS and email providers, whose messages (codes included) are read back from
// the server's log.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';

const BOOTSTRAP = 'sk_live_sdktestbootstrapkey0000000000000000000000';
/** Where the browser tests' app is served from: another origin than the API's. */
export const APP_ORIGIN = 'http://localhost:5173';

export async function startServer() {
  const bin = process.env.LATCHKEY_BIN;
  if (!bin) throw new Error('LATCHKEY_BIN is not set: run `cargo test -p latchkey --test sdk`, or set it to a built latchkey binary');
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-sdk-'));
  const env = {
    PATH: process.env.PATH ?? '',
    LATCHKEY_DATA_DIR: join(dir, 'data'),
    LATCHKEY_BOOTSTRAP_SECRET_KEY: BOOTSTRAP,
    LATCHKEY_LOG_LEVEL: 'info',
    // The browser tests' page origin (sdk/react/test): /v1 answers it cross-origin.
    LATCHKEY_CORS_ALLOWED_ORIGINS: APP_ORIGIN,
  };
  const out = execFileSync(bin, ['keys', 'create', '--name', 'sdk-tests', '--scope', 'mfa:admin'], {
    env,
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
  const adminKey = out.split('\n').find((l) => l.startsWith('secret_key:'))?.split(':')[1]?.trim();
  if (!adminKey) throw new Error(`no key in: ${out}`);
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0'], { env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const baseUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${log}`)), 30_000);
    child.stderr.on('data', (chunk) => {
      log += chunk.toString();
      const m = log.match(/latchkey is listening address=(\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${log}`)));
  });
  const server = {
    baseUrl,
    adminKey,
    log: () => log,
    /** The code in the `n`-th console message with a code (SMS or email) to `to`, waiting for it. */
    async code(to, n = 1) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        // Notices (a factor added, …) go to the same address without a code: skipped.
        const lines = log
          .split('\n')
          .filter((l) => l.includes('DEVELOPMENT-ONLY') && l.includes(`to=${to} `) && /\b\d{6}\b/.test(l));
        if (lines.length >= n) {
          const m = lines[n - 1].match(/\b(\d{6})\b/);
          if (m) return m[1];
        }
        if (Date.now() > deadline) throw new Error(`no message ${n} to ${to}:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    /** An admin call with the `mfa:admin` key, over node:http (whatever `fetch` the test
     * environment installs, a browser-like one included). */
    admin(method, path, body) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = request(
          baseUrl + path,
          {
            method,
            headers: {
              authorization: `Bearer ${adminKey}`,
              'content-type': 'application/json',
              ...(payload ? { 'content-length': Buffer.byteLength(payload) } : {}),
            },
          },
          (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => {
              if (res.statusCode >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
              else resolve(text ? JSON.parse(text) : null);
            });
          },
        );
        req.on('error', reject);
        if (payload) req.write(payload);
        req.end();
      });
    },
    stop() {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Every factor kind, and the console providers (development only; the codes are in the log).
  await server.admin('PATCH', '/v1/admin/config', { mfa_allowed_factors: ['totp', 'sms', 'email_otp', 'webauthn', 'backup_codes'] });
  await server.admin('PUT', '/v1/admin/sms-provider', { provider: 'console' });
  await server.admin('PUT', '/v1/admin/email-provider', { provider: 'console' });
  return server;
}

/** RFC 6238 (SHA-1, 6 digits, 30 s) from a Base32 secret, `offset` steps from now. */
export function totp(secret, offset = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return ((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).toString().padStart(6, '0');
}
