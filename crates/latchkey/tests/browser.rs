//! The hosted pages in a real browser: the `latchkey` binary on a free loopback port, and
//! `tests/browser/login.mjs` driving Debian's headless Chromium through playwright-core
//! (sign up, sign in, add an authenticator app, backup codes, sign out, sign in with TOTP),
//! `tests/browser/passkeys.mjs` with Chromium's virtual authenticator (add a passkey,
//! use it as the second factor and alone, by its button and from the email field's autofill,
//! refused without user verification and once removed), and `tests/browser/securitykey.mjs`
//! with a virtual U2F key on USB (added on the account page, the second factor, never a
//! sign-in alone; forced enrollment with it), and `tests/browser/recovery.mjs` (sign-up on
//! the page, the emailed verification link, a forgotten password reset by its emailed link,
//! the emails read from a real SMTP server), and `tests/browser/oidc.mjs` (openid-client, a
//! certified relying-party library, signing users in through the OpenID Connect provider
//! with each factor, codes by email read from a real SMTP server and backup codes included,
//! in English and German, cancelling, enrolling by text message, and at a second tenant's
//! issuer made by `latchkey tenants create`), each once on SQLite and once
//! on PostgreSQL.
//! Every screenshot is also checked with axe-core (`common.mjs`). Missing Chromium or node_modules is a failure,
//! not a skip: `bash .ci/browser-deps.sh` installs both.
//!
//! Screenshots go to a scratch folder; `LATCHKEY_UPDATE_SCREENS=1` writes the SQLite run's
//! to `docs/screens/` instead (as `LATCHKEY_UPDATE_OPENAPI` does for the API document), so
//! an ordinary test run leaves the work tree alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chromium() -> PathBuf {
    std::env::var_os("LATCHKEY_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Chromium, node and playwright-core must be there: CI installs them, and a developer is
/// told how.
fn check_prerequisites() {
    let hint = "run `bash .ci/browser-deps.sh` (installs Debian's chromium and tests/browser/node_modules)";
    assert!(chromium().exists(), "{} not found: {hint}", chromium().display());
    assert!(
        repo().join("tests/browser/node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: {hint}"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node is not on PATH: {hint}"
    );
}

struct Server {
    child: Child,
    url: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bootstrap secret key the passkey journey uses to allow WebAuthn.
const BOOTSTRAP_KEY: &str = "sk_live_browsertestkey00000000000000000000000000";

/// `latchkey serve` on `listen` (port 0: one the OS picks), read back from its log, with
/// extra environment `env`.
fn start(dir: &Path, database_url: Option<&str>, listen: &str, env: &[(&str, &str)]) -> Server {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--listen", listen])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        c.env("DATABASE_URL", url);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let sink = log.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("latchkey is listening") {
                if let Some(addr) = line.split_whitespace().find_map(|w| w.strip_prefix("address=")) {
                    let _ = tx.send(addr.to_owned());
                }
            }
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(addr) => Server {
            child,
            url: format!("http://{addr}"),
            log,
        },
        Err(_) => {
            let _ = child.kill();
            panic!("server did not start: {}", log.lock().unwrap());
        }
    }
}

/// The longest a journey may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `script` with node against `url`; panics with the script's output (and the
/// server's log) if it fails.
fn run_script(script: &str, server: &Server, url: &str, screens: &Path) {
    run_script_with(script, server, url, screens, &[]);
}

/// [`run_script`] with more environment for the script.
fn run_script_with(
    script: &str,
    server: &Server,
    url: &str,
    screens: &Path,
    env: &[(&str, &std::ffi::OsStr)],
) {
    let mut node = Command::new("node");
    for (k, v) in env {
        node.env(k, v);
    }
    let mut child = node
        .arg(repo().join("tests/browser").join(script))
        .env("LATCHKEY_URL", url)
        .env("LATCHKEY_SCREENS_DIR", screens)
        .env("LATCHKEY_CHROMIUM", chromium())
        .env("LATCHKEY_BOOTSTRAP_KEY", BOOTSTRAP_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    use std::io::Read as _;
    let out_reader = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err_reader = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    // A journey stuck waiting (a page that never comes) fails rather than hold up CI.
    let deadline = std::time::Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "browser journey failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server\n{}",
        if status.is_none() {
            "timed out"
        } else {
            "exit status"
        },
        server.log.lock().unwrap()
    );
    assert!(stdout.contains("browser journey passed"), "{stdout}");
}

fn check_screens(screens: &Path, names: &[&str]) {
    for name in names {
        let png = screens.join(format!("{name}.png"));
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{name}.png is not a PNG");
    }
}

/// The password and TOTP journey (`login.mjs`) against a fresh server.
fn journey(database_url: Option<&str>, screens: &Path) {
    check_prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), database_url, "127.0.0.1:0", &[]);
    run_script("login.mjs", &server, &server.url, screens);
    check_screens(
        screens,
        &[
            "login",
            "login-error",
            "login-mfa",
            "enroll-totp",
            "backup-codes",
            "account-security",
            "account-devices",
        ],
    );
}

/// A loopback port free now (the OS picks it); the server takes it a moment later.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A WebAuthn journey (`passkeys.mjs`, `securitykey.mjs`): browsers refuse WebAuthn on an
/// IP origin, so the server's public URL (and with it the relying party: RP id `localhost`,
/// origin `http://localhost:PORT`, a secure context) names `localhost`, and the browser goes
/// there. `screens` must then hold each of `names`.
fn webauthn_journey(script: &str, database_url: Option<&str>, screens: &Path, names: &[&str]) {
    check_prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let public = format!("http://localhost:{port}");
    let server = start(
        dir.path(),
        database_url,
        &format!("127.0.0.1:{port}"),
        &[
            ("LATCHKEY_PUBLIC_URL", public.as_str()),
            ("LATCHKEY_BOOTSTRAP_SECRET_KEY", BOOTSTRAP_KEY),
        ],
    );
    run_script(script, &server, &public, screens);
    check_screens(screens, names);
}

/// Passkeys (a CTAP2 platform authenticator with resident keys and user verification).
fn passkey_journey(database_url: Option<&str>, screens: &Path) {
    webauthn_journey(
        "passkeys.mjs",
        database_url,
        screens,
        &[
            "account-passkey-added",
            "login-mfa-webauthn",
            "login-passkey",
            "login-passkey-refused",
        ],
    );
}

/// A U2F security key on USB.
fn security_key_journey(database_url: Option<&str>, screens: &Path) {
    webauthn_journey(
        "securitykey.mjs",
        database_url,
        screens,
        &[
            "account-security-key-added",
            "login-mfa-security-key",
            "login-security-key-passwordless-refused",
            "enroll-passkey",
        ],
    );
}

/// Sign-up, email verification and a forgotten password (`recovery.mjs`): the server's
/// email goes to a real SMTP server (aiosmtpd, from `latchkey_testkit`) whose Maildir the
/// journey reads for the links, which must be built from the public URL.
fn recovery_journey(database_url: Option<&str>, screens: &Path) {
    check_prerequisites();
    let smtpd = latchkey_testkit::smtpd::Smtpd::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let public = format!("http://localhost:{port}");
    let provider = format!(
        r#"{{"provider":"smtp","host":"127.0.0.1","port":{},"tls":"none","from":"Latchkey <no-reply@latchkey.test>"}}"#,
        smtpd.port
    );
    let server = start(
        dir.path(),
        database_url,
        &format!("127.0.0.1:{port}"),
        &[
            ("LATCHKEY_PUBLIC_URL", public.as_str()),
            ("LATCHKEY_EMAIL_PROVIDER", provider.as_str()),
            ("LATCHKEY_ALLOW_PRIVATE_DESTINATIONS", "true"),
            // The enrollment ticket at the end is made with the tenant's key.
            ("LATCHKEY_BOOTSTRAP_SECRET_KEY", BOOTSTRAP_KEY),
        ],
    );
    run_script_with(
        "recovery.mjs",
        &server,
        &public,
        screens,
        &[("LATCHKEY_MAILDIR", smtpd.maildir().as_os_str())],
    );
    check_screens(
        screens,
        &[
            "signup",
            "signup-error",
            "verify-email",
            "password-forgot",
            "password-forgot-sent",
            "password-reset-code",
            "password-reset",
            "login-password-reset",
            "link-invalid",
            "enroll-ticket",
            "enroll-ticket-error",
            "enroll-ticket-used",
        ],
    );
}

/// An application signing its users in through Latchkey (`oidc.mjs`): openid-client, a
/// certified relying-party library, against the provider while Chromium walks the screens
/// (password, TOTP, SMS through a webhook provider the script serves on loopback, forced
/// enrollment by authenticator app and by text message, German screens, cancelling, a
/// passkey, logout), and a second tenant, Globex, made first by the command line on the
/// same data and database, whose issuer is `/t/globex` (its id and secret key go to the
/// script). Codes by email go to a real SMTP server (aiosmtpd, as for `recovery.mjs`): the
/// script sets it as the tenant's email provider through the admin API (with a key the
/// command line made with `--scope mfa:admin`) and reads its Maildir. `localhost` for WebAuthn, as above.
fn oidc_journey(database_url: Option<&str>, screens: &Path) {
    check_prerequisites();
    let smtpd = latchkey_testkit::smtpd::Smtpd::start();
    let smtp_port = smtpd.port.to_string();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let public = format!("http://localhost:{port}");
    let env = [
        ("LATCHKEY_PUBLIC_URL", public.as_str()),
        ("LATCHKEY_BOOTSTRAP_SECRET_KEY", BOOTSTRAP_KEY),
        // The SMS webhook the script serves and the SMTP server are on loopback.
        ("LATCHKEY_ALLOW_PRIVATE_DESTINATIONS", "true"),
    ];
    // A second tenant with an issuer of its own, as an operator makes one: the command
    // line, on the data and database the server then serves.
    let globex = create_tenant(dir.path(), database_url, &env, "Globex", "globex");
    assert_eq!(globex.issuer, format!("{public}/t/globex"));
    // Setting the delivery providers needs a key given `mfa:admin` (the default tenant's).
    let mfa_admin_key = cli(
        dir.path(),
        database_url,
        &env,
        &["keys", "create", "--name", "ops", "--scope", "mfa:admin"],
    )("secret_key:");
    let server = start(dir.path(), database_url, &format!("127.0.0.1:{port}"), &env);
    run_script_with(
        "oidc.mjs",
        &server,
        &public,
        screens,
        &[
            ("LATCHKEY_SECOND_TENANT_ID", globex.id.as_ref()),
            ("LATCHKEY_SECOND_TENANT_KEY", globex.secret_key.as_ref()),
            ("LATCHKEY_MFA_ADMIN_KEY", mfa_admin_key.as_ref()),
            ("LATCHKEY_SMTP_PORT", smtp_port.as_ref()),
            ("LATCHKEY_MAILDIR", smtpd.maildir().as_os_str()),
        ],
    );
    check_screens(
        screens,
        &[
            "oidc-login",
            "oidc-logout",
            "oidc-mfa-totp",
            "oidc-mfa-sms",
            "oidc-enroll",
            "oidc-bad-request",
            "oidc-tenant-login",
            "oidc-login-de",
            "oidc-mfa-de",
            "oidc-enroll-phone",
            "oidc-enroll-sms",
            "oidc-mfa-phr",
            "oidc-mfa-email",
            "oidc-mfa-backup",
        ],
    );
}

/// What `latchkey tenants create` printed.
struct NewTenant {
    id: String,
    secret_key: String,
    issuer: String,
}

/// A `latchkey` command in `dir`, with the environment (and database) `serve` is then
/// given; a function reading the value of a `key:` line of what it printed.
fn cli(
    dir: &Path,
    database_url: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
) -> impl Fn(&str) -> String {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(args);
    if let Some(url) = database_url {
        c.env("DATABASE_URL", url);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    move |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no `{key}` in: {stdout}"))
    }
}

/// `latchkey tenants create --name NAME --slug SLUG`.
fn create_tenant(
    dir: &Path,
    database_url: Option<&str>,
    env: &[(&str, &str)],
    name: &str,
    slug: &str,
) -> NewTenant {
    let line = cli(
        dir,
        database_url,
        env,
        &["tenants", "create", "--name", name, "--slug", slug],
    );
    NewTenant {
        id: line("tenant_id:"),
        secret_key: line("secret_key:"),
        issuer: line("issuer:"),
    }
}

fn screens_dir(store: &str) -> PathBuf {
    if store == "sqlite" && std::env::var_os("LATCHKEY_UPDATE_SCREENS").is_some() {
        return repo().join("docs/screens");
    }
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("screens-{store}"))
}

#[test]
fn browser_sign_in_with_totp_sqlite() {
    journey(None, &screens_dir("sqlite"));
}

#[test]
fn browser_sign_in_with_totp_postgres() {
    let Some(url) = pg_database("lk_cli_browser") else {
        return;
    };
    journey(Some(&url), &screens_dir("postgres"));
}

#[test]
fn browser_passkeys_sqlite() {
    passkey_journey(None, &screens_dir("sqlite"));
}

#[test]
fn browser_passkeys_postgres() {
    let Some(url) = pg_database("lk_cli_browser_pk") else {
        return;
    };
    passkey_journey(Some(&url), &screens_dir("postgres-passkeys"));
}

#[test]
fn browser_security_key_sqlite() {
    security_key_journey(None, &screens_dir("sqlite"));
}

#[test]
fn browser_security_key_postgres() {
    let Some(url) = pg_database("lk_cli_browser_sk") else {
        return;
    };
    security_key_journey(Some(&url), &screens_dir("postgres-security-key"));
}

#[test]
fn browser_recovery_sqlite() {
    recovery_journey(None, &screens_dir("sqlite"));
}

#[test]
fn browser_recovery_postgres() {
    let Some(url) = pg_database("lk_cli_browser_rc") else {
        return;
    };
    recovery_journey(Some(&url), &screens_dir("postgres-recovery"));
}

#[test]
fn browser_oidc_sqlite() {
    oidc_journey(None, &screens_dir("sqlite"));
}

#[test]
fn browser_oidc_postgres() {
    let Some(url) = pg_database("lk_cli_browser_oidc") else {
        return;
    };
    oidc_journey(Some(&url), &screens_dir("postgres-oidc"));
}

/// A database URL naming a fresh schema of our own, or `None` without PostgreSQL (outside CI).
fn pg_database(prefix: &str) -> Option<String> {
    let Ok(url) = std::env::var("LATCHKEY_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set LATCHKEY_TEST_DATABASE_URL"
        );
        eprintln!("LATCHKEY_TEST_DATABASE_URL unset: PostgreSQL case skipped");
        return None;
    };
    let schema = format!("{prefix}_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut opts = latchkey_store::OpenOptions::new(url.clone());
        opts.pg_schema = Some(schema.clone());
        latchkey_store::open(&opts).await.unwrap().close().await;
    });
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"))
}
