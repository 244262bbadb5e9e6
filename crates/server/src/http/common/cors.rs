//! Cross-origin requests to the native API from the browser apps an operator lists
//! (`cors_allowed_origins`): a single-page app on `https://app.example.com` calling
//! `https://auth.example.com/v1/auth/signin` with `@latchkey/js`.
//!
//! The user's routes of `/v1` answer such an origin, exactly as listed, with
//! `Access-Control-Allow-Origin` naming it (never `*`), and answer its preflight. No
//! credentials are allowed (`Access-Control-Allow-Credentials` is never sent): the API
//! reads no cookie, the app sends its bearer token itself, so a page of another origin can
//! do nothing with a user's browser it could not do with its own tokens. The administration
//! routes (`/v1/admin/*`) take secret keys, which belong on servers: they never answer a
//! cross-origin request. An origin not listed gets no CORS header, so the browser keeps the
//! answer from the page.

use crate::App;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The origins browser apps may call the API from, as `scheme://host[:port]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// A comma-separated list. Each origin is `https://host[:port]`, or `http://` on
    /// loopback (`localhost`, `127.0.0.1`, `[::1]`) for development; lowercase, with no
    /// path, query or wildcard. The problems, one per bad entry, otherwise.
    pub fn parse(list: &str) -> Result<Self, Vec<String>> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match check(raw) {
                Ok(()) if !out.iter().any(|o| o == raw) => out.push(raw.to_owned()),
                Ok(()) => {}
                Err(why) => problems.push(format!("{}: {why}", raw.chars().take(100).collect::<String>())),
            }
        }
        if problems.is_empty() {
            Ok(AllowedOrigins(out))
        } else {
            Err(problems)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o == origin)
    }
}

fn check(origin: &str) -> Result<(), &'static str> {
    if origin.contains('*') {
        return Err("a wildcard is not allowed: list each origin");
    }
    if origin != origin.to_ascii_lowercase() {
        return Err("must be lowercase, as browsers send it");
    }
    let (scheme, rest) = origin.split_once("://").ok_or("must be scheme://host[:port]")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err("must be scheme://host[:port], with no path, query, user or trailing slash");
    }
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split_once(']')
            .map(|(h, _)| h)
            .ok_or("an IPv6 host needs its closing ]")?
    } else {
        rest.rsplit_once(':').map_or(rest, |(h, port)| {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                ""
            } else {
                h
            }
        })
    };
    if host.is_empty() {
        return Err("the host or port is not valid");
    }
    match scheme {
        "https" => Ok(()),
        "http" if matches!(host, "localhost" | "127.0.0.1" | "::1") => Ok(()),
        "http" => Err("http is for loopback only (localhost, 127.0.0.1, [::1]); use https"),
        _ => Err("the scheme must be https (or http on loopback)"),
    }
}

/// The request headers a browser app sends to the API.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, X-Tenant-ID, Idempotency-Key";
const ALLOW_METHODS: &str = "GET, POST, PATCH, PUT, DELETE";
/// What the app may read from an answer besides the simple headers.
const EXPOSE_HEADERS: &str = "Retry-After, X-Request-Id, Idempotency-Replayed";

/// The middleware, before routing: it acts on the native API's user routes only.
pub async fn browser_api(State(app): State<App>, req: Request, next: Next) -> Response {
    let origins = &app.config.cors_allowed_origins;
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| !origins.is_empty() && origins.allows(o))
        .map(str::to_owned);
    let path = req.uri().path();
    let user_route = path.starts_with("/v1/") && !path.starts_with("/v1/admin");
    let Some(origin) = origin.filter(|_| user_route) else {
        return next.run(req).await;
    };
    let Ok(origin_value) = HeaderValue::from_str(&origin) else {
        return next.run(req).await;
    };
    if req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin_value);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        return r;
    }
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin_value);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_https_or_loopback() {
        let ok = AllowedOrigins::parse(
            "https://app.example.com, http://localhost:5173,https://app.example.com:8443,http://[::1]:3000, http://127.0.0.1",
        )
        .unwrap();
        assert!(ok.allows("https://app.example.com"));
        assert!(ok.allows("http://localhost:5173"));
        assert!(!ok.allows("https://app.example.com/"));
        assert!(!ok.allows("https://evil.example.com"));
        assert!(!ok.allows("http://app.example.com"));
        for bad in [
            "*",
            "https://*.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "HTTPS://APP.EXAMPLE.COM",
            "http://app.example.com",
            "ftp://app.example.com",
            "app.example.com",
            "https://",
            "https://app.example.com:",
            "https://user@app.example.com",
        ] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad}");
        }
        assert!(AllowedOrigins::parse("").unwrap().is_empty());
    }
}
