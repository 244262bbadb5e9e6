//! What the delivery tests share: build options, free ports, listeners that misbehave in
//! chosen ways, and real servers started as child processes (moto, aiosmtpd) that are killed
//! when the test ends.

use latchkey_delivery::{BuildOptions, DeliveryError, Destinations};
pub use latchkey_testkit::process::{free_port, python_module_or_skip};
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options for the stand-ins, which all live on loopback: private destinations allowed.
pub fn opts(timeout: Duration) -> BuildOptions {
    BuildOptions::new(timeout, Destinations::AllowPrivate).expect("HTTP client")
}

/// Options as a server has them by default: public destinations only.
pub fn public_only(timeout: Duration) -> BuildOptions {
    BuildOptions::new(timeout, Destinations::PublicOnly).expect("HTTP client")
}

/// A listener that counts the connections it accepts (and drops them): proof that a refused
/// destination was never connected to.
pub async fn counting(bind: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (addr, accepted)
}

/// A listener that answers every connection with bytes no protocol expects, then hangs up
/// (on a thread of its own, for the rest of the test process).
pub fn garbage() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let _ = socket.write_all(b"\x00\x17garbage, not a protocol\r\n\r\n");
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    });
    addr
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
