//! The server's edges: the accept loop, the connection cap, and the timeouts that bound how
//! long a client may hold a connection or a request (SECURITY.md test 75; CWE-400, ASVS 5.0
//! V15.2.2).
//!
//! Without them a client that opens a connection and never finishes its request head holds a
//! socket, a file descriptor and a task forever; 20,000 of them exhausted the descriptors and
//! `/healthz` stopped answering (issue 9, item 7). The pieces:
//! - a header-read timeout: the request head must be complete within it, counted from the
//!   accept for a connection's first request and from the first byte for later ones;
//! - a keep-alive timeout: how long a connection may wait between requests without a byte;
//! - a body-read timeout ([`read_body_in_time`]): the body must be complete within it of the
//!   head, else `408` (in the answering surface's format), and the connection is closed;
//! - a connection cap: beyond it a new connection is closed as soon as it is accepted.
//!
//! With TLS configured ([`super::tls`]) each connection's handshake happens at its first
//! read, so it is part of the first request head: same deadline, same cap.
//!
//! hyper has a `header_read_timeout` of its own, but it starts counting when a keep-alive
//! connection goes idle (hyper 1.x `proto/h1/conn.rs`, `State::idle`), so it bounds idle time
//! and head time together and cannot give a long keep-alive with a short head deadline.
//! Instead each connection has a watchdog that knows which of the three phases it is in
//! (reading a head, idle, or busy with a request) and drops the connection when the phase's
//! deadline passes; the phases follow Go's `net/http` (`ReadHeaderTimeout`, `IdleTimeout`).
//!
//! The request path only stores the phase in an atomic; the watchdog is never woken by it.
//! It sleeps until the current phase's deadline, or at most half the header timeout, and
//! looks again: a connection is closed when a phase has outlasted its deadline, at most half
//! a header timeout late. (An earlier version woke the watchdog through a channel at every
//! phase change, three times a request: measurably slower on the hot paths.)

use super::tls::Tls;
use super::Surface;
use crate::service::{ErrorCode, Failure, FailureKind};
use crate::App;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt as _;

/// The connection-level limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read: Duration,
    pub keep_alive: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(c: &crate::config::Config) -> Self {
        Self {
            header_read: Duration::from_secs(c.header_read_timeout_secs),
            keep_alive: Duration::from_secs(c.keep_alive_timeout_secs),
            max_connections: c.max_connections,
        }
    }
}

/// Accepts connections on `listener` and serves `router` on each until `shutdown`
/// completes; then stops accepting, lets the requests in flight finish within `grace`, and
/// drops whatever is left.
///
/// With `tls`, every connection speaks TLS: its handshake is part of its first request
/// head, under the same header-read timeout, and counts against the same cap.
pub async fn run(
    router: Router,
    listener: TcpListener,
    limits: Limits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut refusals = Refusals::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        // Reap finished connections so `len` counts live ones only.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        // At the cap the new connection is closed at once rather than left in the listen
        // backlog. Waiting (not accepting) would also spare descriptors, but the backlog is
        // first-in first-out: once the stalled connections are reaped, the slots would go to
        // the stalled ones queued behind them, each granted a fresh header timeout, and a
        // health check would wait behind all of them. Closing at once keeps the backlog
        // empty, so the first connection after a slot frees is served, and a refused client
        // learns at once that it may retry.
        if connections.len() >= limits.max_connections {
            refusals.note(limits.max_connections);
            drop(stream);
            continue;
        }
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            tls.clone(),
            stopping.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("shutdown grace period over; abandoning requests still in flight");
        connections.shutdown().await;
    }
}

/// Serves one connection until it ends, its watchdog fires, or shutdown has let its request
/// finish.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    tls: Option<Tls>,
    stopping: watch::Receiver<bool>,
) {
    let phase = Arc::new(PhaseCell::new(Instant::now()));
    // The watch sits on the socket, under TLS: a handshake's first byte starts a request
    // head as a plain request's would, so a handshake under way at shutdown is waited for
    // (bounded by the header timeout) like a head being read.
    let watched = Watched {
        inner: stream,
        phase: phase.clone(),
    };
    match tls {
        None => serve_connection(TokioIo::new(watched), peer, router, limits, phase, stopping).await,
        Some(tls) => match tls.stream(watched) {
            Ok(stream) => serve_connection(TokioIo::new(stream), peer, router, limits, phase, stopping).await,
            Err(e) => tracing::warn!(error = %e, "cannot start TLS on a connection"),
        },
    }
}

/// HTTP/1.1 on one connection's byte stream (the socket, or TLS over it).
async fn serve_connection<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    phase: Arc<PhaseCell>,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let on_request = phase.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        on_request.set(Phase::Busy);
        req.extensions_mut().insert(ConnectInfo(peer));
        let call = router.clone().oneshot(req.map(Body::new));
        let phase = on_request.clone();
        async move {
            let response = call.await;
            // The idle clock starts when the handler has answered. Our responses are one
            // buffered frame, so hyper takes the whole body at once; a client too slow to
            // read it is held to the keep-alive timeout too.
            phase.set(Phase::Idle(Instant::now()));
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        // Ours, not hyper's (see the module comment); without a timer hyper's would not run
        // anyway, and configuring it without one would panic.
        .header_read_timeout(None)
        .serve_connection(io, service);
    let mut conn = pin!(conn);
    let mut watchdog = pin!(watchdog(phase.clone(), limits));
    let mut draining = false;
    // Set when shutdown begins: until when a connection that has not sent a byte yet is
    // waited for.
    let mut stop_pending: Option<Instant> = None;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = &mut watchdog => {
                tracing::debug!(%peer, "closing a connection that ran out of time");
                return; // dropping `conn` closes the socket
            }
            _ = stopping.wait_for(|s| *s), if !draining && stop_pending.is_none() => {
                stop_pending = Some(Instant::now() + FRESH_GRACE);
            }
            // Looked at every few milliseconds from shutdown on, until hyper is told.
            () = tokio::time::sleep(STOP_POLL), if !draining && stop_pending.is_some() => {
                match phase.get() {
                    // Mid-request, or between requests (where hyper may still be writing
                    // the last answer): hyper finishes what is under way, then closes.
                    Phase::Busy | Phase::Idle(_) => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    // Accepted just before shutdown and not a byte within the grace:
                    // nothing was on its way.
                    Phase::Fresh(_) if stop_pending.is_some_and(|until| Instant::now() >= until) => return,
                    // A request the client may be sending right now, or whose head is being
                    // read, reaches the handler first: hyper's graceful shutdown would close a
                    // connection that has not started a request without reading what is
                    // already on its way. A head is bounded by the watchdog's header timeout.
                    Phase::Fresh(_) | Phase::Head(_) => {}
                }
            }
        }
    }
}

/// How long shutdown waits for the first byte of a connection accepted just before it.
const FRESH_GRACE: Duration = Duration::from_millis(500);
/// How often a connection is looked at from shutdown on, until hyper is told to finish.
const STOP_POLL: Duration = Duration::from_millis(10);

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepted at the instant given, not a byte yet: the header clock already runs.
    Fresh(Instant),
    /// Reading a request head whose first byte came at the instant given (or, for the
    /// first request, whose connection was accepted then).
    Head(Instant),
    /// Between requests, no byte of the next one yet, since the instant given.
    Idle(Instant),
    /// A request is with the handler; its own limits apply (the body timeout).
    Busy,
}

/// A connection's phase, packed into one atomic word (two bits of phase, the rest
/// milliseconds since the connection began), so the request path only stores it.
struct PhaseCell {
    origin: Instant,
    word: AtomicU64,
}

impl PhaseCell {
    const SHIFT: u32 = 62;
    const MILLIS: u64 = (1 << Self::SHIFT) - 1;

    fn new(origin: Instant) -> Self {
        let cell = Self {
            origin,
            word: AtomicU64::new(0),
        };
        cell.set(Phase::Fresh(origin));
        cell
    }

    fn set(&self, phase: Phase) {
        let (tag, at) = match phase {
            Phase::Fresh(at) => (0, at),
            Phase::Head(at) => (1, at),
            Phase::Idle(at) => (2, at),
            Phase::Busy => (3, self.origin),
        };
        let ms = u64::try_from(at.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX);
        self.word
            .store((tag << Self::SHIFT) | (ms & Self::MILLIS), Ordering::Release);
    }

    fn get(&self) -> Phase {
        let word = self.word.load(Ordering::Acquire);
        let at = self.origin + Duration::from_millis(word & Self::MILLIS);
        match word >> Self::SHIFT {
            0 => Phase::Fresh(at),
            1 => Phase::Head(at),
            2 => Phase::Idle(at),
            _ => Phase::Busy,
        }
    }
}

/// Resolves when the connection has stayed in a timed phase past its deadline. Looks at the
/// phase at its deadline, and at least every half header timeout (a phase that began while
/// it slept is noticed that late at most).
async fn watchdog(phase: Arc<PhaseCell>, limits: Limits) {
    let recheck = limits.header_read / 2;
    loop {
        let deadline = match phase.get() {
            Phase::Fresh(since) | Phase::Head(since) => Some(since + limits.header_read),
            Phase::Idle(since) => Some(since + limits.keep_alive),
            Phase::Busy => None,
        };
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            return;
        }
        let wake = deadline.map_or(now + recheck, |d| d.min(now + recheck));
        tokio::time::sleep_until(wake).await;
    }
}

/// The socket, telling the watchdog when the first byte of a request arrives on an idle
/// connection (which starts the header-read clock).
struct Watched {
    inner: TcpStream,
    phase: Arc<PhaseCell>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            match self.phase.get() {
                // A fresh connection's clock started at the accept and keeps running.
                Phase::Fresh(since) => self.phase.set(Phase::Head(since)),
                Phase::Idle(_) => self.phase.set(Phase::Head(Instant::now())),
                Phase::Head(_) | Phase::Busy => {}
            }
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accept errors: a connection that died before it was accepted is nobody's problem; any
/// other error (out of descriptors, out of memory) is waited out briefly rather than spun on,
/// giving the timeouts a chance to free descriptors. The server never stops for it.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection; retrying shortly");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Counts connections refused at the cap and says so at most once a minute, so a flood
/// does not also flood the log.
#[derive(Default)]
struct Refusals {
    count: u64,
    last_said: Option<Instant>,
}

impl Refusals {
    fn note(&mut self, cap: usize) {
        self.count += 1;
        let due = self
            .last_said
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
        if due {
            tracing::warn!(
                refused = self.count,
                max_connections = cap,
                "connection cap reached; refusing new connections"
            );
            self.count = 0;
            self.last_said = Some(Instant::now());
        }
    }
}

/// Middleware: reads the whole request body within `body_read_timeout` of the head, so a
/// body trickled a byte at a time cannot hold a handler (and its database connection or
/// hash slot) for long. Every body we accept is a small JSON document that handlers buffer
/// anyway, so reading it here costs nothing extra; it also means the response never starts
/// before the body is complete, so a timeout can always be answered with `408` (RFC 9110
/// §15.5.9) and `Connection: close` (the unread rest of the body makes the connection
/// unusable).
/// Generic over the [`Surface`] that answers its failures (the router applies it to every
/// route, with the native surface's answers).
pub async fn read_body_in_time<S: Surface>(State(app): State<App>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let limit = app.config.max_body_bytes;
    let within = Duration::from_secs(app.config.body_read_timeout_secs);
    match tokio::time::timeout(within, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(e)) => {
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| e.source())
                    .any(|e| e.is::<http_body_util::LengthLimitError>());
            let failure = if too_large {
                Failure::payload_too_large()
            } else {
                Failure::invalid(ErrorCode::InvalidBody, "could not read the request body")
            };
            S::reject(failure).into_response()
        }
        Err(_) => {
            let mut resp = S::reject(Failure::new(
                FailureKind::Timeout,
                ErrorCode::RequestTimeout,
                "the request body did not arrive in time",
            ))
            .into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, as Go's runtime does
/// at start-up (`os` package, since Go 1.19): the default soft limit of 1024 is below
/// `max_connections`, and the hard limit is what the administrator allowed. Safe for us
/// because nothing in the server uses `select(2)` (which breaks above descriptor 1023) and
/// the server starts no child processes that would inherit the higher limit. Warns when
/// the limit is still too low for the connection cap plus some room for the database.
#[cfg(unix)]
pub fn raise_open_file_limit(max_connections: usize) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::debug!(from = ?limit.current, to = ?limit.maximum, "raised the open-file limit");
                limit = getrlimit(Resource::Nofile);
            }
            Err(e) => tracing::debug!(error = %e, "cannot raise the open-file limit"),
        }
    }
    let needed = max_connections as u64 + 256;
    if let Some(current) = limit.current.filter(|&c| c < needed) {
        tracing::warn!(
            open_file_limit = current,
            max_connections,
            "the open-file limit is below max_connections plus room for the database; \
             lower max_connections or raise the limit (LimitNOFILE, ulimit -n)"
        );
    }
}

/// Elsewhere the limit is left to the platform.
#[cfg(not(unix))]
pub fn raise_open_file_limit(_max_connections: usize) {}
