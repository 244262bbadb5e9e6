//! The `latchkey` command: run the server, migrate, and administer tenants, keys and
//! applications.

use clap::{Parser, Subcommand};
use latchkey_server::app::{open_store, App, AppOptions};
use latchkey_server::config::{Config, Overrides};
use latchkey_server::keys::{self, KeySource};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "A self-hosted authentication server built around MFA"
)]
struct Cli {
    /// Configuration file (default: ./latchkey.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<String>,
    /// Directory for the embedded database and generated keys (default ./latchkey-data).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, global = true, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, RSA or EC; not encrypted).
    #[arg(long, global = true, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(TenantCommand),
    /// Manage tenant secret keys and the master key.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Manage applications (OAuth 2.0 / OpenID Connect clients).
    #[command(subcommand)]
    Applications(ApplicationCommand),
    /// Bulk-load test users with TOTP factors and pending challenges (benchmarks only).
    Seed {
        /// How many users.
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Pending sign-in challenges per user.
        #[arg(long, default_value_t = 0)]
        challenges: usize,
        /// Email prefix (`{prefix}{i}@bench.test`), so several seedings can share a database.
        #[arg(long, default_value = "bench")]
        prefix: String,
        /// Where to write the manifest (JSON lines) the load generator reads.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant; prints its id and a new secret key.
    Create {
        #[arg(long)]
        name: String,
        /// Its issuer and pages under `/t/{slug}` (a-z, 0-9, '-').
        #[arg(long)]
        slug: Option<String>,
        /// Its issuer and pages at this host name's root (pointed at this server).
        #[arg(long)]
        host: Option<String>,
    },
    /// Set (or, left out, clear) where a tenant's issuer lives: its slug and host. Relying
    /// parties must discover the new issuer.
    Address {
        #[arg(long, value_name = "TENANT_ID")]
        tenant: String,
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        host: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a secret key for a tenant; prints it once.
    ///
    /// Every key does everyday administration. The destructive MFA operations (resetting a
    /// user's MFA or removing one of their factors, creating a factor already confirmed or
    /// new backup codes for a user, weakening the tenant's MFA policy, changing an SMS or
    /// email provider) need `--scope mfa:admin`.
    Create {
        /// The tenant (default: the default tenant).
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<String>,
        #[arg(long, default_value = "cli")]
        name: String,
        /// A scope to give the key (repeat for several): mfa:admin.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
    },
    /// Revoke a secret key, given its id (key_…) or the key itself (sk_live_…).
    Revoke {
        #[arg(value_name = "KEY_ID_OR_SECRET")]
        key: String,
    },
    /// Re-seal every stored secret under a new master key.
    ///
    /// With the master key in the data directory, a new key is generated and the old one
    /// kept until re-sealing is done. With LATCHKEY_MASTER_KEY, set the new key there and
    /// the old one in LATCHKEY_PREVIOUS_MASTER_KEYS, run this, then drop the old key.
    RotateMaster,
    /// Rotate the keys that sign ID tokens (and, for EdDSA, access tokens).
    ///
    /// The new key is published in /.well-known/jwks.json at once but signs only after
    /// --publish-ahead, so relying parties that cache the JWKS learn it first; the old key
    /// of that algorithm stays published until every token it signed has expired (its last
    /// signature plus 24 hours, the longest token lifetime, plus 5 minutes), then retires.
    /// Running servers pick the new key up within a minute.
    RotateSigning {
        /// RS256, ES256, EdDSA, or all.
        #[arg(long, default_value = "all", value_name = "ALG")]
        alg: String,
        /// How long the new key is published before it signs: seconds, or 90s, 15m, 1h
        /// (at most 30d; default 1h). 0 signs at once (tokens from it may fail at relying
        /// parties until their JWKS cache expires).
        #[arg(long, value_name = "DURATION")]
        publish_ahead: Option<String>,
    },
}

#[derive(Subcommand)]
enum ApplicationCommand {
    /// Register an application; prints its client id and, for a confidential client, its
    /// secret (once).
    Create {
        /// The tenant (default: the default tenant).
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<String>,
        /// Shown on the sign-in screens.
        #[arg(long)]
        name: String,
        /// public (single-page and native apps: no secret) or confidential (servers).
        #[arg(long = "type", value_name = "TYPE", value_parser = ["public", "confidential"])]
        client_type: String,
        /// An exact redirect URI (repeat for several).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Where logout may send the user back to (repeat for several).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// authorization_code, refresh_token or client_credentials (repeat for several;
        /// default: authorization_code and refresh_token).
        #[arg(long = "grant-type", value_name = "GRANT")]
        grant_types: Vec<String>,
    },
    /// List a tenant's applications: client id, type, grant types, name.
    List {
        /// The tenant (default: the default tenant).
        #[arg(long, value_name = "TENANT_ID")]
        tenant: Option<String>,
    },
}

/// The tenant a `--tenant` names, or the default tenant.
fn cli_tenant(app: &App, tenant: Option<&str>) -> Result<latchkey_core::ids::TenantId, String> {
    match tenant {
        Some(t) => latchkey_core::ids::TenantId::parse(t).map_err(|e| e.to_string()),
        None => Ok(app.default_tenant.clone()),
    }
}

async fn applications(command: ApplicationCommand, config: Config) -> Result<(), String> {
    use latchkey_server::service::applications::ApplicationChanges;
    use latchkey_server::service::audit::{Actor, RequestMeta};
    let app = start(config).await?;
    match command {
        ApplicationCommand::Create {
            tenant,
            name,
            client_type,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
        } => {
            let id = cli_tenant(&app, tenant.as_deref())?;
            let tenant = app.load_tenant(&id).await.map_err(|e| e.to_string())?;
            let changes = ApplicationChanges {
                name: Some(name),
                client_type: Some(client_type),
                redirect_uris: Some(redirect_uris),
                post_logout_redirect_uris: Some(post_logout_redirect_uris),
                grant_types: (!grant_types.is_empty()).then_some(grant_types),
                ..Default::default()
            };
            let (created, secret) = app
                .create_application(&tenant, &Actor::Operator, &RequestMeta::default(), changes)
                .await
                .map_err(|e| e.to_string())?;
            println!("client_id:     {}", created.id);
            if let Some(secret) = secret {
                println!("client_secret: {}", secret.expose());
                eprintln!("Store the client secret now: it is not shown again.");
            }
        }
        ApplicationCommand::List { tenant } => {
            let id = cli_tenant(&app, tenant.as_deref())?;
            let tenant = app.load_tenant(&id).await.map_err(|e| e.to_string())?;
            let mut after = None;
            loop {
                let page = app
                    .list_applications(&tenant, after.as_ref(), 200)
                    .await
                    .map_err(|e| e.to_string())?;
                for a in &page {
                    let grants: Vec<&str> = a.grant_types.iter().map(|g| g.as_str()).collect();
                    println!(
                        "{}\t{}\t{}\t{}",
                        a.id,
                        a.client_type.as_str(),
                        grants.join(","),
                        a.name
                    );
                }
                match page.last() {
                    Some(last) if page.len() == 200 => after = Some(last.id.clone()),
                    _ => break,
                }
            }
        }
    }
    app.store.close().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        config_file: cli.config.clone(),
        listen: cli.listen.clone(),
        data_dir: cli.data_dir.clone(),
        tls_cert: cli.tls_cert.clone(),
        tls_key: cli.tls_key.clone(),
    };
    let config = match Config::load(&overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latchkey: {e}");
            return ExitCode::from(2);
        }
    };
    latchkey_server::telemetry::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("latchkey: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let store = open_store(&config, None).await.map_err(|e| e.to_string())?;
            println!("migrations applied ({})", store.backend());
            store.close().await;
            Ok(())
        }
        Command::Tenants(TenantCommand::Create { name, slug, host }) => {
            let app = start(config).await?;
            let (tenant, key) = app.create_tenant(&name).await.map_err(|e| e.to_string())?;
            println!("tenant_id:  {}", tenant.id);
            println!("secret_key: {}", key.expose());
            eprintln!("Store the secret key now: it is not shown again.");
            if slug.is_some() || host.is_some() {
                let issuer = app
                    .set_tenant_addresses(&tenant.id, slug.as_deref(), host.as_deref())
                    .await
                    .map_err(|e| e.to_string())?;
                println!("issuer:     {issuer}");
            }
            Ok(())
        }
        Command::Tenants(TenantCommand::Address { tenant, slug, host }) => {
            let app = start(config).await?;
            let id = latchkey_core::ids::TenantId::parse(&tenant).map_err(|e| e.to_string())?;
            let issuer = app
                .set_tenant_addresses(&id, slug.as_deref(), host.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            println!("issuer: {issuer}");
            Ok(())
        }
        Command::Keys(KeyCommand::Create { tenant, name, scopes }) => {
            use latchkey_core::scope::KeyScope;
            let scopes = KeyScope::parse_list(&scopes).map_err(|e| format!("--scope: {e}"))?;
            let app = start(config).await?;
            let id = cli_tenant(&app, tenant.as_deref())?;
            let (record, key) = app
                .create_api_key(&id, &name, &scopes)
                .await
                .map_err(|e| e.to_string())?;
            println!("key_id:     {}", record.id);
            if !scopes.is_empty() {
                println!("scopes:     {}", KeyScope::join(&scopes));
            }
            println!("secret_key: {}", key.expose());
            eprintln!("Store the secret key now: it is not shown again.");
            Ok(())
        }
        Command::Keys(KeyCommand::Revoke { key }) => {
            let app = start(config).await?;
            if app.revoke_api_key(&key).await.map_err(|e| e.to_string())? {
                println!("revoked");
                Ok(())
            } else {
                Err("no such live key".into())
            }
        }
        Command::Keys(KeyCommand::RotateMaster) => rotate_master(config).await,
        Command::Applications(command) => applications(command, config).await,
        Command::Keys(KeyCommand::RotateSigning { alg, publish_ahead }) => {
            rotate_signing(config, &alg, publish_ahead.as_deref()).await
        }
        Command::Seed {
            users,
            challenges,
            prefix,
            manifest,
        } => {
            let app = start(config).await?;
            let started = std::time::Instant::now();
            let seeded = app
                .seed(&prefix, users, challenges)
                .await
                .map_err(|e| e.to_string())?;
            let secs = started.elapsed().as_secs_f64();
            let bytes = app.store.database_bytes().await.map_err(|e| e.to_string())?;
            println!(
                "seeded {users} users ({} challenges) in {secs:.1}s; database {bytes} bytes ({})",
                users * challenges,
                app.store.backend()
            );
            if let Some(path) = manifest {
                use std::io::Write;
                let mut out =
                    std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| e.to_string())?);
                for entry in &seeded {
                    let line = serde_json::to_string(entry).map_err(|e| e.to_string())?;
                    writeln!(out, "{line}").map_err(|e| e.to_string())?;
                }
                out.flush().map_err(|e| e.to_string())?;
            }
            app.store.close().await;
            Ok(())
        }
    }
}

async fn start(config: Config) -> Result<App, String> {
    let started = App::start(config, AppOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    announce_generated_key(&started);
    Ok(started.app)
}

fn announce_generated_key(started: &latchkey_server::app::Started) {
    if let Some(key) = &started.generated_key {
        // Printed straight to the terminal, never through the logger.
        eprintln!(
            "\n==> Created the default tenant {} with secret key:\n\n    {}\n\n    Store it now: it is not shown again.\n",
            started.app.default_tenant,
            key.expose()
        );
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let listen = config.listen;
    latchkey_server::http::common::edge::raise_open_file_limit(config.max_connections);
    let started = App::start(config, AppOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    announce_generated_key(&started);
    let app = started.app;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let shutdown = shutdown_signal();
    // The bound address (a configured port 0 becomes a real one).
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        address = %address,
        tls = app.config.tls_files().is_some(),
        backend = app.store.backend(),
        default_tenant = %app.default_tenant,
        issuer = %app.issuer,
        "latchkey is listening"
    );
    let store = app.store.clone();
    latchkey_server::http::serve(app, listener, shutdown)
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Installs the SIGTERM and Ctrl-C handlers now (before the server says it is listening, so
/// a signal that arrives at once still shuts down gracefully) and returns the future that
/// resolves on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::spawn(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    async move {
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
        tracing::info!("shutdown signal received; finishing requests in flight");
    }
}

async fn rotate_master(config: Config) -> Result<(), String> {
    let rng = latchkey_core::rand::OsRandom;
    let store = open_store(&config, None).await.map_err(|e| e.to_string())?;
    let (keyring, source) = keys::load_keyring(&config, &rng).map_err(|e| e.to_string())?;
    let (count, current) = match source {
        KeySource::Configured => (
            keys::reseal_all(&store, &keyring, &rng)
                .await
                .map_err(|e| e.to_string())?,
            keyring.current_id().to_owned(),
        ),
        KeySource::File(path) => {
            // Keep the old keys beside the new one until every value is re-sealed, so a
            // crash part-way leaves everything readable; then keep only the new key.
            let new = latchkey_core::seal::MasterKey::generate(&rng);
            let ring = keyring.with_new_current(new.clone());
            keys::write_key_file(&path, &ring.keys()).map_err(|e| e.to_string())?;
            let n = keys::reseal_all(&store, &ring, &rng)
                .await
                .map_err(|e| e.to_string())?;
            keys::write_key_file(&path, &[&new]).map_err(|e| e.to_string())?;
            println!("new master key {} written to {}", new.id(), path.display());
            (n, new.id().to_owned())
        }
    };
    println!("re-sealed {count} value(s) under master key {current}");
    store.close().await;
    Ok(())
}

async fn rotate_signing(config: Config, alg: &str, publish_ahead: Option<&str>) -> Result<(), String> {
    use latchkey_core::oidc::SigningAlg;
    use latchkey_core::time::rfc3339;
    let algs = match alg {
        "all" => SigningAlg::ALL.to_vec(),
        one => vec![SigningAlg::parse(one).ok_or_else(|| {
            format!(
                "--alg: `{}` is not RS256, ES256, EdDSA or all",
                one.escape_debug()
            )
        })?],
    };
    let ahead = match publish_ahead {
        Some(text) => {
            latchkey_core::duration::parse_secs(text).map_err(|e| format!("--publish-ahead: {e}"))?
        }
        None => keys::DEFAULT_PUBLISH_AHEAD_SECS,
    };
    if ahead > 30 * 86_400 {
        return Err("--publish-ahead: at most 30d".into());
    }
    let app = start(config).await?;
    if ahead * 1000 < keys::KEY_RELOAD_INTERVAL_MS as u64 + 300_000 {
        eprintln!(
            "note: with --publish-ahead under 6m, tokens signed by the new key may be refused by \
             relying parties that fetched the JWKS in the last 5 minutes, until they fetch it again"
        );
    }
    for alg in algs {
        let r = app
            .crypto
            .rotate_signing_key(&app.store, alg, ahead, app.rng.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        println!("{}: new key {}", alg.as_str(), r.kid);
        println!("  published:   {}", rfc3339(r.published_at));
        println!("  signs from:  {}", rfc3339(r.signs_from));
        for old in &r.retiring {
            println!(
                "  retires {old} at {} (once every token it signed has expired)",
                rfc3339(r.retire_at)
            );
        }
    }
    app.store.close().await;
    Ok(())
}
