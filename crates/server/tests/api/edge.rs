//! The server's edges against slow and greedy clients (SECURITY.md test 75): raw TCP
//! connections that never finish their head, idle keep-alive connections, bodies trickled a
//! byte a second, and more connections than the cap, with `/healthz` checked throughout.
//!
//! These run on SQLite only: connection handling sits below the store and never touches it,
//! so a PostgreSQL run would time the same code twice.

use crate::helpers::*;
use latchkey_core::clock::{Clock, ManualClock, SystemClock};
use latchkey_server::config::Config;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PARTIAL_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n";

async fn server(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let clock = ManualClock::new(SystemClock.now_ms());
    spawn_with(Backend::Sqlite, dir, None, clock, tweak).await
}

fn addr(s: &TestServer) -> String {
    s.url.trim_start_matches("http://").to_owned()
}

/// A client that opens a fresh connection per request, so a server-side close of an idle
/// pooled connection can never be mistaken for the server failing.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

async fn healthz(client: &reqwest::Client, s: &TestServer) -> Result<u16, String> {
    client
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// Reads until the server closes the connection (EOF or reset) or `limit` passes; returns
/// what arrived and how long after `since` the close came, `None` if it did not.
async fn until_closed(
    stream: &mut TcpStream,
    since: Instant,
    limit: Duration,
) -> (Vec<u8>, Option<Duration>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return (got, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(since.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Waits, all at once, for each connection to be closed; see [`until_closed`].
async fn all_closed(conns: Vec<TcpStream>, since: Instant, limit: Duration) -> Vec<Option<Duration>> {
    let waits: Vec<_> = conns
        .into_iter()
        .map(|mut c| tokio::spawn(async move { until_closed(&mut c, since, limit).await.1 }))
        .collect();
    let mut out = Vec::with_capacity(waits.len());
    for w in waits {
        out.push(w.await.unwrap());
    }
    out
}

/// Reads one complete response (head plus `Content-Length` body) from a kept-alive connection.
async fn one_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a response within 5 s")
            .unwrap();
        assert!(n > 0, "closed mid-response: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// Guards the header-read timeout: 250 connections that send half a request head are
/// closed once it passes, and `/healthz` answers 200 the whole time. On the server before
/// the timeout existed (axum::serve without a timer) they stayed open indefinitely (past
/// 40 s in the measurement), so the wait for their close fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_are_cut_off_while_healthz_answers() {
    // The test process holds both ends of every socket.
    latchkey_server::http::common::edge::raise_open_file_limit(0);
    let s = server(|c| {
        c.header_read_timeout_secs = 1;
        c.keep_alive_timeout_secs = 60;
    })
    .await;
    let began = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..250 {
        let mut c = TcpStream::connect(addr(&s)).await.unwrap();
        c.write_all(PARTIAL_HEAD).await.unwrap();
        stalled.push(c);
    }
    let closes = tokio::spawn(all_closed(stalled, began, Duration::from_secs(8)));
    let client = fresh_client();
    while !closes.is_finished() {
        assert_eq!(healthz(&client, &s).await, Ok(200), "healthz during the flood");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closes = closes.await.unwrap();
    let open = closes.iter().filter(|c| c.is_none()).count();
    assert_eq!(open, 0, "{open} of 250 half-sent heads still open 8 s later");
    // Each clock starts at its accept, after `began`: none is cut before its timeout.
    let earliest = closes.iter().flatten().min().unwrap();
    assert!(
        *earliest >= Duration::from_millis(950),
        "closed after {earliest:?}"
    );
    assert_eq!(healthz(&client, &s).await, Ok(200));
    s.stop().await;
}

/// Guards the keep-alive timeout, and that it is separate from the header timeout: a
/// connection may sit idle between requests for longer than the header timeout (hyper's own
/// header timer would have cut it), but not past the keep-alive timeout. Before, an idle
/// connection was never closed, so the wait for its close fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let s = server(|c| {
        c.header_read_timeout_secs = 1;
        c.keep_alive_timeout_secs = 3;
    })
    .await;
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    c.write_all(request).await.unwrap();
    assert!(one_response(&mut c).await.starts_with("HTTP/1.1 200"));
    // Idle past the header timeout: still open, and still served.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.write_all(request).await.unwrap();
    assert!(one_response(&mut c).await.starts_with("HTTP/1.1 200"));
    let (rest, closed) = until_closed(&mut c, Instant::now(), Duration::from_secs(8)).await;
    let closed = closed.expect("an idle connection is closed after the keep-alive timeout");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(
        closed >= Duration::from_millis(2500) && closed < Duration::from_secs(6),
        "closed after {closed:?}, keep-alive timeout 3 s"
    );
    s.stop().await;
}

/// Guards the body-read timeout: a body trickled one byte a second is answered `408` with
/// our JSON error and the connection closed once the timeout passes. Before, the server
/// waited for the whole body (here 64 bytes, over a minute), so no answer came in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408() {
    let s = server(|c| c.body_read_timeout_secs = 2).await;
    let c = TcpStream::connect(addr(&s)).await.unwrap();
    let (mut read, mut write) = c.into_split();
    write
        .write_all(
            b"POST /v1/auth/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{",
        )
        .await
        .unwrap();
    let sent = Instant::now();
    let trickle = tokio::spawn(async move {
        for _ in 0..63 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if write.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(8), read.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    };
    trickle.abort();
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.starts_with("HTTP/1.1 408"), "no 408 within 8 s: {text:?}");
    assert!(closed, "the connection is closed after the 408");
    let elapsed = sent.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1500),
        "answered after {elapsed:?}"
    );
    let body: serde_json::Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(error_code(&body), "request_timeout");
    assert!(body["error"]["request_id"].as_str().unwrap().starts_with("req_"));
    // A body that arrives in time is untouched by the timeout.
    let (status, body) = s.signin("nobody@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "invalid_credentials"));
    s.stop().await;
}

/// Guards the connection cap: with room for 20, the 20 stalled connections beyond it are
/// closed at once, the 20 within it when the header timeout reaps them, and afterwards
/// `/healthz` answers again and the server stops cleanly. Before, there was no cap: nothing
/// was closed early (nor at all), so the count of early closes fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_refuses_then_recovers() {
    let s = server(|c| {
        c.max_connections = 20;
        c.header_read_timeout_secs = 2;
    })
    .await;
    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..40 {
        let mut c = TcpStream::connect(addr(&s)).await.unwrap();
        // A refused connection may already be closed; that is the point.
        let _ = c.write_all(PARTIAL_HEAD).await;
        stalled.push(c);
    }
    let closes = tokio::spawn(all_closed(stalled, started, Duration::from_secs(8)));
    // While the 20 slots are held, a new connection is refused rather than queued.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = fresh_client();
    assert!(healthz(&client, &s).await.is_err(), "served beyond the cap");
    let closes = closes.await.unwrap();
    let early = closes
        .iter()
        .filter(|c| c.is_some_and(|d| d < Duration::from_millis(1500)))
        .count();
    let open = closes.iter().filter(|c| c.is_none()).count();
    assert_eq!((early, open), (20, 0), "closes: {closes:?}");
    // Reaped: served again.
    let mut status = Err(String::new());
    while started.elapsed() < Duration::from_secs(10) {
        status = healthz(&client, &s).await;
        if status == Ok(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        Ok(200),
        "healthz after the stalled connections were reaped"
    );
    s.stop().await;
}
