//! `GET /metrics` (Prometheus; the series are in [`crate::metrics`], docs/metrics.md) and the
//! middleware that times every request by its route template.
//!
//! Who may scrape: a client on loopback, or anyone presenting `Authorization: Bearer
//! <metrics_token>` when the operator configured one. Anyone else gets the same `404
//! not_found` as a path that does not exist, so the endpoint's presence is not advertised
//! (the counters name tenants and show traffic, which is not for the public). Loopback is
//! judged by the TCP peer; a forwarding header can only take that away, never grant it: a
//! request relayed by a trusted proxy on the same host counts as loopback only if the
//! client the proxy names is on loopback too, so a reverse proxy on localhost does not
//! publish the metrics to the internet.

use super::common::forwarded::{client_ip, ForwardedHeader, TrustedProxies};
use super::common::Surface;
use super::v1::V1;
use crate::metrics::Metrics;
use crate::service::Failure;
use crate::App;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use latchkey_core::secret::SecretString;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The route, for the server's router. Not in `/openapi.json`: its answer is the
/// Prometheus text format, not JSON, and its audience is a scraper, not an API client.
pub fn router() -> Router<App> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(app): State<App>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let allowed = peer.is_some_and(|peer| {
        may_scrape(
            peer,
            req.headers(),
            &app.config.trusted_proxies,
            app.config.forwarded_header,
            app.config.metrics_token.as_ref(),
        )
    });
    if !allowed {
        return V1::reject(Failure::not_found()).into_response();
    }
    exposition(&app).await
}

/// The router of the separate metrics listener (`metrics_listen`): `GET /metrics` for
/// anyone who can reach the address (the operator binds it where only the scraper can),
/// and nothing else.
pub fn open_router(app: App) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(app): State<App>| async move { exposition(&app).await }),
        )
        .fallback(|| async { V1::reject(Failure::not_found()).into_response() })
        .with_state(app)
}

/// Serves [`open_router`] on the configured `metrics_listen` address until `stop` says so.
pub async fn serve_separately(
    app: App,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(address) = app.config.metrics_listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| std::io::Error::other(format!("cannot listen for metrics on {address}: {e}")))?;
    let bound = listener.local_addr()?;
    let _ = app.metrics_bound.set(bound);
    tracing::info!(address = %bound, "metrics are served on their own address");
    let router = open_router(app);
    Ok(Some(tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    })))
}

/// The Prometheus text exposition of every series.
async fn exposition(app: &App) -> Response {
    let backlog = app
        .metrics
        .backlog(async {
            app.store
                .outbox_backlog()
                .await
                .map(|(depth, oldest_at)| crate::metrics::Backlog { depth, oldest_at })
        })
        .await;
    let body = app.metrics.render(
        app.hash_pool.waiting(),
        app.hash_pool.capacity(),
        backlog,
        app.store.pool_usage(),
        app.now(),
    );
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}

/// Whether a request from `peer` with `headers` may read the metrics: it carries the
/// configured token, or both the TCP peer and the client it stands for (when the peer is a
/// trusted proxy) are on loopback.
pub fn may_scrape(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
    forwarded: ForwardedHeader,
    token: Option<&SecretString>,
) -> bool {
    if let Some(token) = token {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        if let Some(presented) = presented {
            // Constant time (ASVS 5.0 V11.2.4): the comparison does not reveal how much of
            // a guess was right.
            if latchkey_core::secret::ct_eq(presented, token.expose().as_bytes()) {
                return true;
            }
        }
    }
    peer.to_canonical().is_loopback() && client_ip(peer, headers, trusted, forwarded).is_loopback()
}

/// Middleware: times the request and records it under its matched route template (set by
/// the router before route layers run), its method and its status class. The labels are
/// `&'static str`s, so recording allocates nothing.
pub async fn track(State(app): State<App>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = Metrics::route_label(req.extensions().get::<MatchedPath>().map(MatchedPath::as_str));
    let resp = next.run(req).await;
    app.metrics
        .observe_request(route, &method, resp.status().as_u16(), started.elapsed());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn decide(peer: &str, pairs: &[(&str, &str)], trusted: &str, token: Option<&str>) -> bool {
        let token = token.map(|t| SecretString::new(t.to_owned()));
        may_scrape(
            ip(peer),
            &headers(pairs),
            &TrustedProxies::parse(trusted).unwrap(),
            ForwardedHeader::XForwardedFor,
            token.as_ref(),
        )
    }

    #[test]
    fn loopback_peers_may_scrape() {
        for peer in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(decide(peer, &[], "", None), "{peer}");
        }
    }

    #[test]
    fn other_peers_need_the_token() {
        for peer in [
            "10.0.0.5",
            "192.0.2.1",
            "2001:db8::1",
            "::ffff:192.0.2.1",
            "0.0.0.0",
        ] {
            assert!(!decide(peer, &[], "", None), "{peer} without a token configured");
            assert!(
                !decide(peer, &[], "", Some(TOKEN)),
                "{peer} without presenting it"
            );
            assert!(
                decide(
                    peer,
                    &[("authorization", &format!("Bearer {TOKEN}"))],
                    "",
                    Some(TOKEN)
                ),
                "{peer} with it"
            );
            for wrong in [
                format!("Bearer {}", &TOKEN[..31]),
                format!("Bearer {TOKEN}x"),
                format!("bearer {TOKEN}"),
                format!("Basic {TOKEN}"),
                TOKEN.to_owned(),
                "Bearer ".to_owned(),
            ] {
                assert!(
                    !decide(peer, &[("authorization", &wrong)], "", Some(TOKEN)),
                    "{peer} with {wrong:?}"
                );
            }
            // A token presented where none is configured opens nothing.
            assert!(!decide(peer, &[("authorization", "Bearer ")], "", None));
        }
    }

    #[test]
    fn forwarding_headers_never_grant_access() {
        // An outside client claiming to be loopback.
        assert!(!decide(
            "192.0.2.1",
            &[("x-forwarded-for", "127.0.0.1")],
            "",
            None
        ));
        assert!(!decide(
            "192.0.2.1",
            &[("x-forwarded-for", "127.0.0.1")],
            "192.0.2.0/24",
            None
        ));
        // A reverse proxy on the same host, relaying an outside client: not loopback.
        assert!(!decide(
            "127.0.0.1",
            &[("x-forwarded-for", "203.0.113.9")],
            "127.0.0.1",
            None
        ));
        // … unless that client is on loopback too.
        assert!(decide(
            "127.0.0.1",
            &[("x-forwarded-for", "::1")],
            "127.0.0.1",
            None
        ));
        // An untrusted loopback peer's header is ignored: it is loopback.
        assert!(decide(
            "127.0.0.1",
            &[("x-forwarded-for", "203.0.113.9")],
            "",
            None
        ));
        // The token works through a proxy.
        assert!(decide(
            "127.0.0.1",
            &[
                ("x-forwarded-for", "203.0.113.9"),
                ("authorization", &format!("Bearer {TOKEN}"))
            ],
            "127.0.0.1",
            Some(TOKEN)
        ));
    }
}
