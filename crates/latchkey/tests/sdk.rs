//! The client SDK (`sdk/`, npm workspaces) against the real server: `npm test` there checks
//! that the committed API types match `docs/openapi.json`, builds `@latchkey/js` with the
//! TypeScript compiler, and runs its tests (`sdk/js/test/*.test.mjs`, node's test runner)
//! and `@latchkey/react`'s (`sdk/react/test`, vitest with happy-dom and Testing Library),
//! which start this crate's `latchkey` binary (`LATCHKEY_BIN`) on a free loopback port.
//! Missing `sdk/node_modules` is a failure, not a skip: `bash .ci/sdk-deps.sh` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::Command;

fn sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk")
}

#[test]
fn npm_test_in_sdk_passes_against_the_server() {
    let hint = "run `bash .ci/sdk-deps.sh` (npm ci in sdk/)";
    assert!(
        sdk().join("node_modules/typescript/package.json").is_file(),
        "sdk/node_modules is missing: {hint}"
    );
    let out = Command::new("npm")
        .arg("test")
        .current_dir(sdk())
        .env("LATCHKEY_BIN", env!("CARGO_BIN_EXE_latchkey"))
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
