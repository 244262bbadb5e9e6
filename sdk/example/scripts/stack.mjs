// What the example app runs against, started together: the `latchkey` binary on a free
// loopback port (SQLite in a temporary folder; every factor allowed; WebAuthn for the app's
// origin with RP id `localhost`; the console SMS and email providers, whose messages, codes
// included, go to the server's log; CORS for the app's origin) and Vite's dev server for the
// app, told the server's address. Used by `npm run example` (scripts/dev.mjs) and the
// browser test (test/app.test.mjs).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(exampleDir, '../..');

/** The `latchkey` binary: LATCHKEY_BIN, else cargo's debug build in this repository. */
export function latchkeyBin() {
  if (process.env.LATCHKEY_BIN) return process.env.LATCHKEY_BIN;
  const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, 'target');
  for (const profile of ['debug', 'release']) {
    const bin = join(target, profile, 'latchkey');
    if (existsSync(bin)) return bin;
  }
  throw new Error('no latchkey binary: run `cargo build -p latchkey` first, or set LATCHKEY_BIN');
}

/** A loopback port free now (the OS picks it). */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = netServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/**
 * Starts both. `appPort` defaults to a free port; `onMessage(line)` sees each console
 * message (SMS or email the server would have sent). Answers `{ appUrl, apiUrl, code(to, n),
 * log(), stop() }`.
 */
export async function startStack({ appPort, onMessage = () => {} } = {}) {
  const bin = latchkeyBin();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-example-'));
  appPort ??= await freePort();
  const apiPort = await freePort();
  // `localhost`, not 127.0.0.1: browsers run WebAuthn only on a secure context, and an IP
  // origin is not a valid RP id.
  const appOrigin = `http://localhost:${appPort}`;
  const apiUrl = `http://localhost:${apiPort}`;
  const bootstrap = `sk_live_${randomBytes(24).toString('hex')}`;
  const env = {
    PATH: process.env.PATH ?? '',
    LATCHKEY_DATA_DIR: join(dir, 'data'),
    LATCHKEY_PUBLIC_URL: apiUrl,
    LATCHKEY_BOOTSTRAP_SECRET_KEY: bootstrap,
    LATCHKEY_LOG_LEVEL: 'info',
    LATCHKEY_CORS_ALLOWED_ORIGINS: appOrigin,
  };
  // Setting the delivery providers needs a key with the `mfa:admin` scope.
  const made = execFileSync(bin, ['keys', 'create', '--name', 'example', '--scope', 'mfa:admin'], {
    env,
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
  const adminKey = made.split('\n').find((l) => l.startsWith('secret_key:'))?.split(':')[1]?.trim();
  if (!adminKey) throw new Error(`latchkey keys create printed no key: ${made}`);

  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${apiPort}`], { env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let vite = null;
  // The server first, so nothing the dev server does on closing can leave it running.
  const stop = async () => {
    child.kill();
    try {
      await vite?.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`latchkey did not start:\n${log}`)), 30_000);
      let pending = '';
      child.stderr.on('data', (chunk) => {
        log += chunk.toString();
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop();
        for (const l of lines) if (l.includes('DEVELOPMENT-ONLY')) onMessage(l);
        if (log.includes('latchkey is listening')) {
          clearTimeout(timer);
          ok();
        }
      });
      child.on('exit', (code) => fail(new Error(`latchkey exited (${code}):\n${log}`)));
    });
    const admin = async (method, path, body) => {
      const r = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    };
    await admin('PATCH', '/v1/admin/config', {
      mfa_allowed_factors: ['totp', 'sms', 'email_otp', 'webauthn', 'backup_codes'],
      webauthn: { rp_id: 'localhost', rp_name: 'Latchkey example', origins: [appOrigin] },
    });
    await admin('PUT', '/v1/admin/sms-provider', { provider: 'console' });
    await admin('PUT', '/v1/admin/email-provider', { provider: 'console' });

    const { createServer } = await import('vite');
    vite = await createServer({
      configFile: join(exampleDir, 'vite.config.mjs'),
      root: exampleDir,
      server: { port: appPort },
      define: { 'import.meta.env.VITE_LATCHKEY_URL': JSON.stringify(apiUrl) },
      logLevel: 'warn',
    });
    await vite.listen();
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    appUrl: appOrigin,
    apiUrl,
    log: () => log,
    /** The code in the `n`-th console message with a code to `to` (a phone number or an
     * email address), waiting for it. */
    async code(to, n = 1) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const lines = log.split('\n').filter((l) => l.includes('DEVELOPMENT-ONLY') && l.includes(`to=${to} `) && /\b\d{6}\b/.test(l));
        if (lines.length >= n) return lines[n - 1].match(/\b(\d{6})\b/)[1];
        if (Date.now() > deadline) throw new Error(`no message ${n} to ${to}:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop,
  };
}
