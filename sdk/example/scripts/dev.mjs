// `npm run example` (in sdk/): a Latchkey server and the example app's dev server together
// (scripts/stack.mjs). The codes the server would send by SMS or email are printed here.
// Stop with Ctrl-C; the server's data (a temporary folder) goes with it.
//
//   LATCHKEY_BIN=path/to/latchkey   the binary (default: cargo's build in this repository)
//   LATCHKEY_EXAMPLE_PORT=5173      the app's port
import { startStack } from './stack.mjs';

const port = Number(process.env.LATCHKEY_EXAMPLE_PORT || 5173);
const stack = await startStack({
  appPort: port,
  onMessage: (line) => {
    const to = line.match(/to=(\S+)/)?.[1] ?? '?';
    const code = line.match(/\b(\d{6})\b/)?.[1];
    console.log(code ? `message to ${to}: code ${code}` : `message to ${to}`);
  },
}).catch((e) => {
  console.error(e.message);
  process.exit(1);
});
console.log(`Latchkey:    ${stack.apiUrl} (SQLite in a temporary folder, console SMS and email)`);
console.log(`example app: ${stack.appUrl}`);
console.log('codes sent by SMS or email appear below; Ctrl-C stops both');
const quit = () =>
  stack.stop().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
process.on('SIGINT', quit);
process.on('SIGTERM', quit);
