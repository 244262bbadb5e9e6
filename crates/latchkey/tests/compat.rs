//! Other vendors' own SDKs, unmodified, against Latchkey: the `latchkey` binary serving
//! native HTTPS on a free loopback port (the SDKs build `https://{domain}` only) with a
//! certificate made here (a test CA and a leaf for 127.0.0.1 and `localhost`), once on
//! SQLite and once on PostgreSQL, and the scripts of `tests/compat/`:
//!
//! - `management.mjs`: npm `auth0` (its ManagementClient) on Auth0's Management API v2;
//! - `management.py`: PyPI `auth0-python` (its ManagementClient, which validates responses);
//! - `mfa-api.mjs`: `@auth0/auth0-auth-js` on Auth0's MFA API (the password grant,
//!   `isMfaRequiredError`, its `mfa` client: enroll, list, challenge, verify, delete);
//! - `mfa_api.py`: `auth0-python`'s `GetToken` on the same (login with a realm,
//!   `mfa_required`, the mfa-otp grant) and its `TokenVerifier` on the ID tokens.
//!
//! Every script first gets a fresh application and user from `tests/compat/setup.mjs`, then
//! runs with: `LATCHKEY_DOMAIN` (`127.0.0.1:PORT`), `LATCHKEY_ISSUER`, `LATCHKEY_SECRET_KEY`
//! (a key with `mfa:admin`), `LATCHKEY_CLIENT_ID` / `LATCHKEY_CLIENT_SECRET` (a confidential
//! application granted the management scopes), `LATCHKEY_USER_ID`, `LATCHKEY_USER_EMAIL`,
//! and the CA as `NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE` and `REQUESTS_CA_BUNDLE`. A script
//! passes when it exits 0 and prints `compat script passed`. To add a surface's script, add
//! a `#[test]` calling [`run`] with it.
//!
//! Missing Node modules or Python packages fail with a hint, never skip:
//! `bash .ci/compat-deps.sh` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509Name, X509};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
const BOOTSTRAP_KEY: &str = "sk_live_compattestkey000000000000000000000000000000";
const HINT: &str = "run `bash .ci/compat-deps.sh` (npm ci in tests/compat, and the pinned auth0-python)";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compat_dir() -> PathBuf {
    repo().join("tests/compat")
}

/// Node with the locked packages, and Python with the pinned SDK, must be there.
fn check_prerequisites(script: &str) {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node is not on PATH: {HINT}"
    );
    assert!(
        compat_dir().join("node_modules/auth0/package.json").is_file(),
        "tests/compat/node_modules is missing: {HINT}"
    );
    if script.ends_with(".py") {
        let pinned = std::fs::read_to_string(compat_dir().join("requirements.txt")).unwrap();
        let want = pinned
            .lines()
            .find_map(|l| l.trim().strip_prefix("auth0-python=="))
            .unwrap()
            .to_owned();
        let got = Command::new("python3")
            .args([
                "-c",
                "import importlib.metadata as m; print(m.version('auth0-python'))",
            ])
            .output();
        let got = got
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        assert_eq!(
            got.as_deref(),
            Some(want.as_str()),
            "auth0-python {want} is not installed: {HINT}"
        );
    }
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut n = X509Name::builder().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    n.build()
}

fn certificate(
    subject: &PKey<Private>,
    cn: &str,
    issuer: Option<(&X509, &PKey<Private>)>,
    serial: u32,
) -> X509 {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name(cn)).unwrap();
    b.set_issuer_name(issuer.map_or(&name(cn), |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(subject).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    match issuer {
        None => b
            .append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap(),
        Some((ca, _)) => {
            let san = SubjectAlternativeName::new()
                .dns("localhost")
                .ip("127.0.0.1")
                .build(&b.x509v3_context(Some(ca.as_ref()), None))
                .unwrap();
            b.append_extension(san).unwrap();
        }
    }
    b.sign(issuer.map_or(subject, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

/// Writes `ca.pem`, `cert.pem` (leaf, then CA) and `key.pem` (PKCS#8) into `dir`.
fn pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = ec_key();
    let ca = certificate(&ca_key, "Latchkey compat test CA", None, 1);
    let leaf_key = ec_key();
    let leaf = certificate(&leaf_key, "127.0.0.1", Some((&ca, &ca_key)), 2);
    let (ca_pem, cert, key) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&ca_pem, ca.to_pem().unwrap()).unwrap();
    let mut chain = leaf.to_pem().unwrap();
    chain.extend(ca.to_pem().unwrap());
    std::fs::write(&cert, chain).unwrap();
    std::fs::write(&key, leaf_key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (ca_pem, cert, key)
}

struct Server {
    child: Child,
    domain: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(dir: &Path, database_url: Option<&str>) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LATCHKEY_DATA_DIR", dir.join("data"))
        .env("LATCHKEY_BOOTSTRAP_SECRET_KEY", BOOTSTRAP_KEY);
    if let Some(url) = database_url {
        c.env("DATABASE_URL", url);
    }
    c
}

/// A secret key with `mfa:admin`, made at the command line before the server starts.
fn mfa_admin_key(dir: &Path, database_url: Option<&str>) -> String {
    let out = command(dir, database_url)
        .args(["keys", "create", "--name", "compat", "--scope", "mfa:admin"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("secret_key:").map(|k| k.trim().to_owned()))
        .unwrap()
}

/// A loopback port free now (the OS picks it); the server takes it a moment later.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `latchkey serve` with TLS on a free port, named in the listen address so the issuer (and
/// with it the management audience, `https://127.0.0.1:PORT/api/v2/`) names it too.
fn start(dir: &Path, database_url: Option<&str>, cert: &Path, key: &Path) -> Server {
    let mut c = command(dir, database_url);
    c.args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
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
            domain: addr,
            log,
        },
        Err(_) => {
            let _ = child.kill();
            panic!("server did not start: {}", log.lock().unwrap());
        }
    }
}

/// Runs `program args…` in tests/compat with `env`; its output, or a panic with it (and the
/// server's log) when it fails or hangs.
fn run_program(program: &str, args: &[&str], env: &[(String, String)], server: &Server) -> String {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(compat_dir())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}; {HINT}"));
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let deadline = std::time::Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.is_some_and(|s| s.success()),
        "{program} {args:?} failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server\n{}",
        if status.is_none() {
            "timed out"
        } else {
            "exit status"
        },
        server.log.lock().unwrap()
    );
    stdout
}

use std::io::Read as _;

/// Starts a server (SQLite, or PostgreSQL at `database_url`), prepares it with `setup.mjs`
/// and runs `script` (`.mjs` with node, `.py` with python3) against it.
pub fn run(script: &str, database_url: Option<&str>) {
    check_prerequisites(script);
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pki(dir.path());
    let secret_key = mfa_admin_key(dir.path(), database_url);
    let server = start(dir.path(), database_url, &cert, &key);
    let ca = ca.display().to_string();
    let mut env: Vec<(String, String)> = vec![
        ("LATCHKEY_DOMAIN".into(), server.domain.clone()),
        ("LATCHKEY_ISSUER".into(), format!("https://{}", server.domain)),
        ("LATCHKEY_SECRET_KEY".into(), secret_key),
        ("NODE_EXTRA_CA_CERTS".into(), ca.clone()),
        ("SSL_CERT_FILE".into(), ca.clone()),
        ("REQUESTS_CA_BUNDLE".into(), ca),
    ];
    let setup = run_program("node", &["setup.mjs"], &env, &server);
    let prepared: serde_json::Value = serde_json::from_str(setup.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("setup.mjs printed no JSON ({e}): {setup}"));
    for (var, field) in [
        ("LATCHKEY_CLIENT_ID", "client_id"),
        ("LATCHKEY_CLIENT_SECRET", "client_secret"),
        ("LATCHKEY_USER_ID", "user_id"),
        ("LATCHKEY_USER_EMAIL", "user_email"),
    ] {
        env.push((var.into(), prepared[field].as_str().unwrap().to_owned()));
    }
    let program = if script.ends_with(".py") {
        "python3"
    } else {
        "node"
    };
    let out = run_program(program, &[script], &env, &server);
    assert!(out.contains("compat script passed"), "{out}");
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

#[test]
fn auth0_node_management_client_sqlite() {
    run("management.mjs", None);
}

#[test]
fn auth0_node_management_client_postgres() {
    if let Some(url) = pg_database("lk_cli_compat_node") {
        run("management.mjs", Some(&url));
    }
}

#[test]
fn auth0_python_management_client_sqlite() {
    run("management.py", None);
}

#[test]
fn auth0_python_management_client_postgres() {
    if let Some(url) = pg_database("lk_cli_compat_py") {
        run("management.py", Some(&url));
    }
}

#[test]
fn auth0_auth_js_mfa_api_sqlite() {
    run("mfa-api.mjs", None);
}

#[test]
fn auth0_auth_js_mfa_api_postgres() {
    if let Some(url) = pg_database("lk_cli_compat_authjs") {
        run("mfa-api.mjs", Some(&url));
    }
}

#[test]
fn auth0_python_mfa_api_sqlite() {
    run("mfa_api.py", None);
}

#[test]
fn auth0_python_mfa_api_postgres() {
    if let Some(url) = pg_database("lk_cli_compat_pymfa") {
        run("mfa_api.py", Some(&url));
    }
}
