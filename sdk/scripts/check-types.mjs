// The committed API types (js/src/openapi.ts) must be what openapi-typescript makes of the
// server's current document (docs/openapi.json, itself checked against the server by the
// API tests), so the client cannot drift from the API. `npm run types` regenerates them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'latchkey-types-'));
try {
  const fresh = join(dir, 'openapi.ts');
  execFileSync(join(root, 'node_modules/.bin/openapi-typescript'), [join(root, '../docs/openapi.json'), '-o', fresh], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const committed = readFileSync(join(root, 'js/src/openapi.ts'), 'utf8');
  if (readFileSync(fresh, 'utf8') !== committed) {
    console.error('sdk/js/src/openapi.ts does not match docs/openapi.json: run `npm run types` in sdk/ and commit the result');
    process.exit(1);
  }
  console.log('sdk types match docs/openapi.json');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
