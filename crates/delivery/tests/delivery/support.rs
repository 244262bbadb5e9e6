//! What the delivery tests share: build options, free ports, and real servers started as
//! child processes (moto, aiosmtpd) that are killed when the test ends.

use latchkey_delivery::{BuildOptions, DeliveryError};
pub use latchkey_testkit::process::{free_port, python_module_or_skip};
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub fn opts(timeout: Duration) -> BuildOptions {
    BuildOptions::new(timeout).expect("HTTP client")
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
