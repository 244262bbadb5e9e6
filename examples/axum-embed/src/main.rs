//! Runs the example: `cargo run -p axum-embed`, then open http://127.0.0.1:3000/.
//!
//! `LISTEN` (default `127.0.0.1:3000`), `PUBLIC_URL` (default `http://{LISTEN}`),
//! `DATA_DIR` (default `./axum-embed-data`) and `DATABASE_URL` (a `postgres://` URL;
//! default SQLite in `DATA_DIR`) change where it runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()))
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum-embed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let listen: SocketAddr = env("LISTEN")
        .unwrap_or_else(|| "127.0.0.1:3000".into())
        .parse()
        .map_err(|e| format!("LISTEN: {e}"))?;
    let public = env("PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}"));
    let data_dir = PathBuf::from(env("DATA_DIR").unwrap_or_else(|| "axum-embed-data".into()));
    let database_url = env("DATABASE_URL");

    let latchkey = axum_embed::latchkey(&public, &data_dir, database_url.as_deref())
        .build()
        .await
        .map_err(|e| e.to_string())?;
    if let Some(key) = latchkey.take_generated_secret_key() {
        // Straight to the terminal, never through the logger.
        eprintln!(
            "\n==> Latchkey created the default tenant with secret key:\n\n    {}\n\n    Store it now: it is not shown again.\n",
            key.expose()
        );
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!(
        "axum-embed on {public}/ — sign-up and sign-in at {public}{}/login, the API at {public}{}/v1",
        axum_embed::MOUNT,
        axum_embed::MOUNT
    );
    let app = axum_embed::app(latchkey.clone());
    // The client address (`ConnectInfo`) feeds Latchkey's per-address limits and audit log.
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stop_signal())
        .await
        .map_err(|e| e.to_string())?;
    latchkey.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM where there is one.
async fn stop_signal() {
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}
