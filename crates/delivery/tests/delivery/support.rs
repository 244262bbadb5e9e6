//! What the delivery tests share: build options, free ports, and real servers started as
//! child processes (moto, aiosmtpd) that are killed when the test ends.

use latchkey_delivery::{BuildOptions, DeliveryError};
use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn opts(timeout: Duration) -> BuildOptions {
    BuildOptions::new(timeout).expect("HTTP client")
}

/// A port nothing listens on right now (the OS picked it; we let go of it at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `python3` can import `module`. Missing under `CI` is a failure, never a silent
/// skip: CI installs it with `.ci/test-deps.sh`. On a workstation the test is skipped with
/// a note saying how to get it.
pub fn python_module_or_skip(module: &str) -> bool {
    let present = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("python3 module `{module}` is missing in CI: run .ci/test-deps.sh");
    }
    eprintln!(
        "note: skipping, python3 module `{module}` is not installed (bash .ci/test-deps.sh installs it)"
    );
    false
}

/// A child process killed (and reaped) when dropped, so a failing assertion does not leave
/// a server running.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `command` and waits until it accepts connections on `port`.
    pub fn start(mut command: Command, port: u16, log: &Path) -> Server {
        let log_file = std::fs::File::create(log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("start server");
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)).is_ok() {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                let output = std::fs::read_to_string(log).unwrap_or_default();
                panic!("server exited with {status} before listening:\n{output}");
            }
            assert!(
                Instant::now() < deadline,
                "server did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP listener that accepts connections and never answers: the slowest possible server.
pub async fn black_hole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}

/// Awaits one send and asserts that it failed transiently, in less than `limit` (the
/// sender's timeout plus room for a loaded machine).
pub async fn transient_within<T: std::fmt::Debug>(
    limit: Duration,
    send: impl Future<Output = Result<T, DeliveryError>>,
) -> DeliveryError {
    let started = Instant::now();
    let err = send.await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err}");
    assert!(took < limit, "took {took:?}");
    err
}
