//! The `latchkey` binary as an operator uses it: zero-config start, configuration errors,
//! tenant, key and application commands, master-key rotation, graceful stop on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command with a clean environment (no LATCHKEY_* from the caller) in `dir`.
fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

fn run(c: &mut Command) -> Output {
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Server {
    child: Child,
    url: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// Starts `latchkey serve` on a port the OS picks (no race with other tests for a "free"
/// port), reading the bound address from its log; stderr keeps being collected.
fn start(mut c: Command) -> Server {
    let mut child = c
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
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
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(addr) => Server {
            child,
            url: format!("http://{addr}"),
            log,
            reader: Some(reader),
        },
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let _ = reader.join();
            panic!("server did not start: {}", log.lock().unwrap());
        }
    }
}

impl Server {
    /// SIGTERM, then wait: the exit must be clean. Returns everything it logged.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let stderr = self.log.lock().unwrap().clone();
        assert!(status.success(), "server exited badly: {stderr}");
        stderr
    }
}

fn post(url: &str, body: Value) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    })
}

fn get(url: &str, bearer: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .get(url)
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

/// A `DELETE` with a secret key: the status and the error code, if any.
fn delete(url: &str, bearer: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .delete(url)
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        (status, body["error"]["code"].as_str().unwrap_or("").to_owned())
    })
}

#[test]
fn zero_config_serve_then_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(cmd(dir.path()));
    let (status, body) = post(
        &format!("{}/v1/auth/signup", server.url),
        json!({ "email": "alice@example.com", "password": "correct horse" }),
    );
    assert_eq!(status, 201, "{body}");
    let stderr = server.stop();
    assert!(stderr.contains("sk_live_"), "the generated key is printed once");
    assert!(stderr.contains("GENERATED A NEW MASTER KEY"));
    assert!(stderr.contains("shutdown signal received"));
    assert!(dir.path().join("latchkey-data/latchkey.db").exists());
    assert!(dir.path().join("latchkey-data/master.key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("latchkey-data/master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "master key readable by others");
    }
    // A second start reuses everything and prints no key.
    let server = start(cmd(dir.path()));
    let stderr = server.stop();
    assert!(!stderr.contains("sk_live_"));
}

#[test]
fn invalid_configuration_is_refused_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("latchkey.toml"),
        "listen = \"nowhere\"\nunknown_key = 1\n",
    )
    .unwrap();
    let out = run(cmd(dir.path())
        .arg("serve")
        .env("LATCHKEY_ACCESS_TOKEN_TTL", "forever")
        .env("LATCHKEY_MASTER_KEY", "too-short"));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for needle in [
        "listen",
        "unknown_key",
        "LATCHKEY_ACCESS_TOKEN_TTL",
        "LATCHKEY_MASTER_KEY",
    ] {
        assert!(err.contains(needle), "{needle} not reported: {err}");
    }
    assert!(!err.contains("too-short"), "secret values are not echoed");
}

#[test]
fn tenants_and_keys_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(cmd(dir.path()).args(["tenants", "create", "--name", "Acme"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let tenant = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tenant_id:"))
        .unwrap()
        .trim()
        .to_owned();
    let first_key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret_key:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(tenant.starts_with("tnt_01"));
    assert!(first_key.starts_with("sk_live_"));

    // Its issuer: under a slug, then at a host; a bad slug is refused with the reason.
    let out = run(cmd(dir.path()).args(["tenants", "address", "--tenant", &tenant, "--slug", "acme"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("/t/acme"), "{}", text(&out.stdout));
    let out = run(cmd(dir.path()).args([
        "tenants",
        "address",
        "--tenant",
        &tenant,
        "--slug",
        "acme",
        "--host",
        "login.acme.test",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("://login.acme.test"),
        "{}",
        text(&out.stdout)
    );
    let out = run(cmd(dir.path()).args(["tenants", "address", "--tenant", &tenant, "--slug", "Ac/me"]));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("slug must be"),
        "{}",
        text(&out.stderr)
    );
    let out = run(cmd(dir.path()).args(["tenants", "create", "--name", "Two", "--slug", "acme"]));
    assert!(!out.status.success(), "the slug is taken");

    let out = run(cmd(dir.path()).args(["keys", "create", "--tenant", &tenant]));
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let key_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("key_id:"))
        .unwrap()
        .trim()
        .to_owned();
    let second = stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret_key:"))
        .unwrap()
        .trim()
        .to_owned();

    // A key given `mfa:admin` may do the destructive operations; the others may not.
    let out = run(cmd(dir.path()).args(["keys", "create", "--tenant", &tenant, "--scope", "mfa:admin"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("scopes:     mfa:admin"), "{stdout}");
    let scoped = stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret_key:"))
        .unwrap()
        .trim()
        .to_owned();
    let out = run(cmd(dir.path()).args(["keys", "create", "--scope", "mfa:admin"]));
    assert!(
        out.status.success(),
        "the default tenant's: {}",
        text(&out.stderr)
    );
    let out = run(cmd(dir.path()).args(["keys", "create", "--tenant", &tenant, "--scope", "root"]));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unknown scope"),
        "{}",
        text(&out.stderr)
    );

    let server = start(cmd(dir.path()));
    let config = format!("{}/v1/admin/config", server.url);
    assert_eq!(get(&config, &first_key), 200);
    assert_eq!(get(&config, &second), 200);
    assert_eq!(get(&config, &scoped), 200);
    let provider = format!("{}/v1/admin/sms-provider", server.url);
    assert_eq!(
        delete(&provider, &first_key),
        (403, "insufficient_scope".to_owned())
    );
    assert_eq!(delete(&provider, &second), (403, "insufficient_scope".to_owned()));
    assert_eq!(delete(&provider, &scoped), (204, String::new()));
    let out = run(cmd(dir.path()).args(["keys", "revoke", &key_id]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(cmd(dir.path()).args(["keys", "revoke", &first_key]));
    assert!(out.status.success());
    assert_eq!(get(&config, &first_key), 401);
    assert_eq!(get(&config, &second), 401);
    let out = run(cmd(dir.path()).args(["keys", "revoke", &key_id]));
    assert!(!out.status.success(), "revoking twice reports it");
    let out = run(cmd(dir.path()).args(["keys", "create", "--tenant", "tnt_01HZZZZZZZZZZZZZZZZZZZZZZZ"]));
    assert!(!out.status.success());
    server.stop();
}

#[test]
fn applications_commands() {
    const KEY: &str = "sk_live_clitestbootstrap00000000000000000000000000";
    let dir = tempfile::tempdir().unwrap();
    let latchkey = || {
        let mut c = cmd(dir.path());
        c.env("LATCHKEY_BOOTSTRAP_SECRET_KEY", KEY);
        c
    };
    let field = |out: &Output, name: &str| {
        text(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
    };

    let out = run(latchkey().args([
        "applications",
        "create",
        "--name",
        "Acme SPA",
        "--type",
        "public",
        "--redirect-uri",
        "https://app.example.com/callback",
        "--redirect-uri",
        "http://localhost:3000/cb",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let spa = field(&out, "client_id:").unwrap();
    assert!(spa.starts_with("app_01"), "{spa}");
    assert_eq!(
        field(&out, "client_secret:"),
        None,
        "a public client has no secret"
    );

    let out = run(latchkey().args([
        "applications",
        "create",
        "--name",
        "Billing worker",
        "--type",
        "confidential",
        "--grant-type",
        "client_credentials",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let worker = field(&out, "client_id:").unwrap();
    let secret = field(&out, "client_secret:").unwrap();
    assert!(secret.starts_with("cs_"));
    assert!(text(&out.stderr).contains("not shown again"));

    // Refusals say why, and create nothing.
    for (args, why) in [
        (
            vec![
                "--type",
                "public",
                "--redirect-uri",
                "https://app.example.com/cb#x",
            ],
            "redirect_uris[0] must not contain a fragment",
        ),
        (
            vec!["--type", "public", "--redirect-uri", "http://app.example.com/cb"],
            "redirect_uris[0] must use https",
        ),
        (
            vec!["--type", "public", "--grant-type", "client_credentials"],
            "client_credentials is for confidential clients only",
        ),
        (vec!["--type", "spa"], "invalid value 'spa'"),
    ] {
        let out = run(latchkey()
            .args(["applications", "create", "--name", "Bad"])
            .args(&args));
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out.stderr).contains(why), "{args:?}: {}", text(&out.stderr));
    }

    let out = run(latchkey().args(["applications", "list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert_eq!(
        listing.lines().collect::<Vec<_>>(),
        [
            format!("{spa}\tpublic\tauthorization_code,refresh_token\tAcme SPA"),
            format!("{worker}\tconfidential\tclient_credentials\tBilling worker"),
        ]
    );
    assert!(!listing.contains(&secret));

    // Another tenant has applications of its own.
    let out = run(latchkey().args(["tenants", "create", "--name", "Other"]));
    let other = field(&out, "tenant_id:").unwrap();
    let out = run(latchkey().args(["applications", "list", "--tenant", &other]));
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "");
    let out = run(latchkey().args([
        "applications",
        "create",
        "--tenant",
        &other,
        "--name",
        "Theirs",
        "--type",
        "confidential",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(latchkey().args(["applications", "list", "--tenant", &other]));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let out = run(latchkey().args([
        "applications",
        "list",
        "--tenant",
        "tnt_01HZZZZZZZZZZZZZZZZZZZZZZZ",
    ]));
    assert!(!out.status.success());

    // The API shows what the CLI registered, without the secret; the audit log names the
    // operator.
    let server = start(latchkey());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let get_json = |path: &str| -> Value {
        rt.block_on(async {
            reqwest::Client::new()
                .get(format!("{}{path}", server.url))
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    };
    let list = get_json("/v1/admin/applications");
    let apps = list["applications"].as_array().unwrap();
    assert_eq!(apps.len(), 2);
    assert_eq!(
        apps[0]["redirect_uris"],
        json!(["https://app.example.com/callback", "http://localhost:3000/cb"])
    );
    assert_eq!(apps[1]["client_secret_prefix"].as_str().unwrap(), &secret[..7]);
    assert!(!list.to_string().contains(&secret));
    let events = get_json("/v1/admin/audit-events");
    let created: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "application.created")
        .collect();
    assert_eq!(created.len(), 2);
    assert!(created.iter().all(|e| e["actor"] == "system"));
    server.stop();
}

#[test]
fn master_key_rotation_and_a_stolen_database() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(cmd(dir.path()));
    let (_, body) = post(
        &format!("{}/v1/auth/signup", server.url),
        json!({ "email": "alice@example.com", "password": "correct horse" }),
    );
    let access = body["access_token"].as_str().unwrap().to_owned();
    server.stop();
    let key_before = std::fs::read_to_string(dir.path().join("latchkey-data/master.key")).unwrap();

    let out = run(cmd(dir.path()).args(["keys", "rotate-master"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        // The pepper and the three signing keys (RS256, ES256, EdDSA).
        text(&out.stdout).contains("re-sealed 4 value(s)"),
        "{}",
        text(&out.stdout)
    );
    let key_after = std::fs::read_to_string(dir.path().join("latchkey-data/master.key")).unwrap();
    assert_ne!(key_before, key_after);
    assert_eq!(
        key_after.lines().filter(|l| !l.starts_with('#')).count(),
        1,
        "the old key is gone"
    );

    // Everything sealed still opens: the old token verifies and sign-in works.
    let server = start(cmd(dir.path()));
    assert_eq!(get(&format!("{}/v1/users/me", server.url), &access), 200);
    let (status, _) = post(
        &format!("{}/v1/auth/signin", server.url),
        json!({ "email": "alice@example.com", "password": "correct horse" }),
    );
    assert_eq!(status, 200);
    server.stop();

    // The database alone, without its master key, does not start.
    let stolen = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(stolen.path().join("latchkey-data")).unwrap();
    std::fs::copy(
        dir.path().join("latchkey-data/latchkey.db"),
        stolen.path().join("latchkey-data/latchkey.db"),
    )
    .unwrap();
    let out = run(cmd(stolen.path()).args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())]));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("master key"), "{}", text(&out.stderr));
}

/// `keys rotate-signing`: a new key per algorithm asked for, published at once, signing
/// after --publish-ahead; the old one scheduled to retire a day and five minutes after
/// that; a server started afterwards publishes both and signs with the new one.
#[test]
fn signing_key_rotation_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(cmd(dir.path()).args(["keys", "rotate-signing", "--alg", "RS256", "--publish-ahead", "0"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let field = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix}: {stdout}"))
            .trim()
            .to_owned()
    };
    let kid = field("RS256: new key");
    assert_eq!(field("published:"), field("signs from:"), "{stdout}");
    let retiring = field("retires");
    let old = retiring.split_whitespace().next().unwrap().to_owned();
    assert_ne!(old, kid);
    assert!(!stdout.contains("ES256") && !stdout.contains("EdDSA"), "{stdout}");

    let server = start(cmd(dir.path()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let jwks: Value = rt.block_on(async {
        reqwest::get(format!("{}/.well-known/jwks.json", server.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 4, "{jwks}");
    assert!(
        kids.contains(&kid.as_str()) && kids.contains(&old.as_str()),
        "{jwks}"
    );
    server.stop();

    // Every algorithm by default, with the default hour ahead.
    let out = run(cmd(dir.path()).args(["keys", "rotate-signing"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(stdout.contains(&format!("{alg}: new key")), "{stdout}");
    }
    // An hour between publication and first signature: the hour digits differ (the minutes
    // and seconds do not).
    let time = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (published, signs) = (time("published:"), time("signs from:"));
    assert_ne!(published, signs, "{stdout}");
    assert_eq!(published[13..], signs[13..], "{stdout}");
    for bad in [["--alg", "HS256"], ["--publish-ahead", "soon"]] {
        let out = run(cmd(dir.path()).args(["keys", "rotate-signing"]).args(bad));
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(bad[0]), "{}", text(&out.stderr));
    }
}

/// Half a TLS setting is a configuration error, named, before anything starts.
#[test]
fn tls_needs_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(cmd(dir.path()).args(["serve", "--tls-cert", "cert.pem"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("tls_cert is set but tls_key is not"),
        "{}",
        text(&out.stderr)
    );
    let out = run(cmd(dir.path()).args(["serve"]).env("LATCHKEY_TLS_KEY", "key.pem"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("tls_key is set but tls_cert is not"));
    assert!(!dir.path().join("latchkey-data").exists(), "nothing was started");
}

#[test]
fn configured_master_key_and_postgres() {
    // A schema of our own, named in the URL the way an operator would.
    let Some(db) = pg_database("lk_cli") else {
        return;
    };
    let key = "11".repeat(32);
    let dir = tempfile::tempdir().unwrap();
    let with_env = |c: &mut Command| {
        c.env("DATABASE_URL", &db).env("LATCHKEY_MASTER_KEY", &key).env(
            "LATCHKEY_BOOTSTRAP_SECRET_KEY",
            "sk_live_clitestkey000000000000000000000000000000",
        );
    };
    let mut m = cmd(dir.path());
    with_env(&mut m);
    let out = run(m.arg("migrate"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("postgres"));

    let mut c = cmd(dir.path());
    with_env(&mut c);
    let server = start(c);
    assert_eq!(
        get(
            &format!("{}/v1/admin/config", server.url),
            "sk_live_clitestkey000000000000000000000000000000"
        ),
        200
    );
    let (status, _) = post(
        &format!("{}/v1/auth/signup", server.url),
        json!({ "email": "pg@example.com", "password": "correct horse" }),
    );
    assert_eq!(status, 201);
    let stderr = server.stop();
    assert!(!stderr.contains("GENERATED A NEW MASTER KEY"));
    assert!(
        !dir.path().join("latchkey-data").exists(),
        "nothing written to a data dir"
    );

    // Rotation with a configured key: new key current, old key listed as previous.
    let mut r = cmd(dir.path());
    with_env(&mut r);
    let out = run(r
        .env("LATCHKEY_MASTER_KEY", "22".repeat(32))
        .env("LATCHKEY_PREVIOUS_MASTER_KEYS", &key)
        .args(["keys", "rotate-master"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut c = cmd(dir.path());
    with_env(&mut c);
    c.env("LATCHKEY_MASTER_KEY", "22".repeat(32));
    let server = start(c);
    let (status, _) = post(
        &format!("{}/v1/auth/signin", server.url),
        json!({ "email": "pg@example.com", "password": "correct horse" }),
    );
    assert_eq!(status, 200);
    server.stop();
}

/// A crash between storing a code and sending it loses nothing: the outbox survives the
/// restart and the worker delivers the message once the provider is reachable.
#[test]
fn a_crash_before_sending_loses_no_message_sqlite() {
    crash_before_sending(None);
}

#[test]
fn a_crash_before_sending_loses_no_message_postgres() {
    let Some(url) = pg_database("lk_cli_crash") else {
        return;
    };
    crash_before_sending(Some(url));
}

/// A database URL naming a fresh schema of our own, or `None` without PostgreSQL (outside CI).
fn pg_database(prefix: &str) -> Option<String> {
    let Ok(url) = std::env::var("LATCHKEY_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set LATCHKEY_TEST_DATABASE_URL"
        );
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

fn crash_before_sending(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let gateway_port = free_port();
    let key = "sk_live_crashtestkey0000000000000000000000000000";
    let provider = format!(
        r#"{{"provider":"webhook","url":"http://127.0.0.1:{gateway_port}/hook","secret":"crash-test-secret-0123456789abcdef0123456789"}}"#
    );
    let with_env = |c: &mut Command| {
        c.env("LATCHKEY_BOOTSTRAP_SECRET_KEY", key)
            .env("LATCHKEY_SMS_PROVIDER", &provider)
            // The stand-in gateway is on loopback.
            .env("LATCHKEY_ALLOW_PRIVATE_DESTINATIONS", "true")
            .env("LATCHKEY_DELIVERY_TIMEOUT", "1s");
        if let Some(db) = &database_url {
            c.env("DATABASE_URL", db)
                .env("LATCHKEY_MASTER_KEY", "33".repeat(32));
        }
    };
    let mut c = cmd(dir.path());
    with_env(&mut c);
    let mut server = start(c);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let url = server.url.clone();
    let token = rt.block_on(async {
        let r = http
            .patch(format!("{url}/v1/admin/config"))
            .bearer_auth(key)
            .json(&json!({ "mfa_allowed_factors": ["totp", "sms", "backup_codes"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = http
            .post(format!("{url}/v1/auth/signup"))
            .json(&json!({ "email": "alice@example.com", "password": "correct horse" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    });
    let factor = rt.block_on(async {
        let r = http
            .post(format!("{url}/v1/users/me/mfa/factors"))
            .bearer_auth(&token)
            .json(&json!({ "type": "sms", "phone_number": "+14155552671" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        body["factor_id"].as_str().unwrap().to_owned()
    });
    // The provider is unreachable: the message waits in the outbox. Crash hard.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // The provider comes up; the server restarts and delivers.
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = received.clone();
    let gateway = rt.spawn(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", gateway_port))
            .await
            .unwrap();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push(body);
                    "{}"
                }
            }),
        );
        axum::serve(listener, app).await.unwrap();
    });
    let mut c = cmd(dir.path());
    with_env(&mut c);
    let server = start(c);
    let mut code = None;
    for _ in 0..300 {
        if let Some(body) = received.lock().unwrap().first() {
            let v: Value = serde_json::from_str(body).unwrap();
            let text = v["body"].as_str().unwrap();
            code = text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_owned);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = code.expect("the queued message was delivered after the restart");
    let status = rt.block_on(async {
        http.post(format!("{}/v1/users/me/mfa/factors/{factor}/confirm", server.url))
            .bearer_auth(&token)
            .json(&json!({ "code": code }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);
    assert_eq!(received.lock().unwrap().len(), 1, "delivered once");
    server.stop();
    gateway.abort();
}
