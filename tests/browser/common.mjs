// What the browser journeys share: their settings from the environment, small assertions,
// screenshots (each screen also checked with axe-core: no serious or critical accessibility
// violation), the JSON API, the password sign-in form, and the run itself (Debian's
// headless Chromium through playwright-core; any console error, a CSP violation included,
// fails the run unless the journey expects it; a failure keeps a screenshot and the page).

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

// axe-core's own build, pinned in package-lock.json.
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export const base = process.env.LATCHKEY_URL;
export const screens = process.env.LATCHKEY_SCREENS_DIR;
export const adminKey = process.env.LATCHKEY_BOOTSTRAP_KEY;
export const password = "correct horse battery staple";
const executablePath = process.env.LATCHKEY_CHROMIUM || "/usr/bin/chromium";

/** Exits (2) unless the named settings (`LATCHKEY_…`) are set; makes the screenshot folder. */
export function requireEnv(names) {
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length > 0) {
    console.error(`set ${names.join(", ")}`);
    process.exit(2);
  }
  mkdirSync(screens, { recursive: true });
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** A screenshot of the screen, which is also checked for accessibility (`checkAccessibility`). */
export async function shot(page, name) {
  await page.screenshot({ path: join(screens, `${name}.png`), fullPage: true });
  console.log(`screenshot ${name}.png (${page.url()})`);
  await checkAccessibility(page, name);
}

/**
 * Runs axe-core on the page as it is and fails on any `serious` or `critical` violation
 * (the rest are printed). The pages' CSP allows no inline script, so axe is not added as a
 * script tag: its source is evaluated through DevTools (`page.evaluate`, Runtime.evaluate),
 * which the page's CSP does not govern. The check therefore runs under the real CSP, and
 * the console-error watch still catches any violation the page itself causes.
 */
export async function checkAccessibility(page, name) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  for (const v of violations) console.log(`axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.join(", ")})`);
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(serious.length === 0, `accessibility on ${name}: ${serious.map((v) => `${v.id} (${v.help})`).join("; ")}`);
  console.log(`axe ${name}: no serious or critical violation (${violations.length} other)`);
}

export async function expectPath(page, path) {
  await page.waitForURL((url) => url.pathname === path, { timeout: 10_000 });
}

/** A JSON call to the API: `{status, body}` with the body as text. */
export async function api(method, path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const resp = await fetch(`${base}${path}`, { method, headers, body: JSON.stringify(body) });
  return { status: resp.status, body: await resp.text() };
}

export async function signInWithPassword(page, who) {
  await page.goto(`${base}/login`);
  await page.getByLabel("Email").fill(who);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

export async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expectPath(page, "/login");
}

/**
 * Runs `body(page)` in a fresh headless Chromium page and exits non-zero if it throws or the
 * page logged an error that `expected(text, page)` does not excuse.
 */
export function journey(body, expected = () => false) {
  run(body, expected).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

async function run(body, expected) {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // Root in CI and containers: Chromium's sandbox needs user namespaces we may not have.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const problems = [];
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 900, height: 760 }, locale: "en-GB" });
    page = await context.newPage();
    page.on("console", (msg) => {
      const text = msg.text();
      if (msg.type() === "error" && !expected(text, page)) problems.push(`console: ${text} (${page.url()})`);
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    await body(page);
  } catch (err) {
    // What the browser showed when it went wrong.
    if (page) {
      await page.screenshot({ path: join(screens, "failure.png"), fullPage: true }).catch(() => {});
      console.error(`failed at ${page.url()}:\n${await page.content().catch(() => "")}`);
    }
    throw err;
  } finally {
    await browser.close();
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  console.log("browser journey passed");
}
