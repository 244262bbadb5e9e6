//! The client SDK (`sdk/`, npm workspaces) against the real server: `npm test` there checks
//! that the committed API types match `docs/openapi.json`, builds `@latchkey/js` with the
//! TypeScript compiler, and runs its tests (`sdk/js/test/*.test.mjs`, node's test runner)
//! and `@latchkey/react`'s (`sdk/react/test`, vitest with happy-dom and Testing Library),
//! which start this crate's `latchkey` binary (`LATCHKEY_BIN`) on a free loopback port, and
//! the example app's journey in Debian's headless Chromium (`sdk/example/test`, playwright-core
//! with `LATCHKEY_CHROMIUM`, the app's Vite dev server and the binary).
//! Missing `sdk/node_modules` or Chromium is a failure, not a skip: `bash .ci/sdk-deps.sh`
//! installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::Command;

fn sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk")
}

#[test]
fn npm_test_in_sdk_passes_against_the_server() {
    let hint = "run `bash .ci/sdk-deps.sh` (npm ci in sdk/, Debian's chromium)";
    assert!(
        sdk().join("node_modules/typescript/package.json").is_file(),
        "sdk/node_modules is missing: {hint}"
    );
    let chromium = std::env::var_os("LATCHKEY_CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{} not found (the example app's browser test needs it): {hint}",
        Path::new(&chromium).display()
    );
    let out = Command::new("npm")
        .arg("test")
        .current_dir(sdk())
        .env("LATCHKEY_BIN", env!("CARGO_BIN_EXE_latchkey"))
        .env("LATCHKEY_CHROMIUM", &chromium)
        .output()
        .unwrap_or_else(|e| panic!("npm could not run ({e}): {hint}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "npm test failed in sdk/:\n{text}");
    assert!(text.contains("# fail 0"), "no test report:\n{text}");
}
