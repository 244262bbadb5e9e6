//! Which tenant a request to the provider or the hosted pages is for, and under which
//! issuer (`latchkey_core::issuer`): a host name of a tenant's own, a `/t/{slug}` path, or
//! else the default tenant at the root.
//!
//! [`route`] runs before routing: a `/t/{slug}/…` request is rewritten to `/…` (so the
//! provider's and the pages' routes serve every tenant) and every request gets a [`Scope`]
//! in its extensions. Only the provider's, the pages' and Auth0's management API's paths
//! are served under a slug (a management token names its issuer); the `/v1` and `/v2` APIs
//! pick their tenant from the secret key or `X-Tenant-ID`, as before. The routing table is in memory (`crate::addresses`): a request pays a hash
//! lookup of its `Host`, no query.

use crate::App;
use axum::extract::{Request, State};
use axum::http::{header, Uri};
use axum::middleware::Next;
use axum::response::Response;
use latchkey_core::ids::TenantId;
use latchkey_core::issuer::Issuer;

/// The tenant a request is for and how its issuer is spelt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub tenant: TenantId,
    pub issuer: Issuer,
    pub is_default: bool,
    /// The path the router is mounted under (`App::mount`; `""` for the server binary).
    pub mount: String,
}

impl Scope {
    pub fn default_of(app: &App) -> Scope {
        Scope {
            tenant: app.default_tenant.clone(),
            issuer: app.issuer_for(&app.default_tenant),
            is_default: true,
            mount: app.mount.clone(),
        }
    }

    /// One of the pages' assets (`/assets/pages.css`), served at the root of every tenant's
    /// pages: only the mount path goes before it.
    pub fn asset(&self, p: &str) -> String {
        format!("{}{p}", self.mount)
    }

    /// One of our paths (`/login`) as the browser must ask for it here (`/t/acme/login`).
    /// Anything not a path of ours (`https://…`, `//…`) is returned as it is.
    pub fn path(&self, p: &str) -> String {
        if p.starts_with('/') && !p.starts_with("//") && !self.issuer.base.is_empty() {
            format!("{}{p}", self.issuer.base)
        } else {
            p.to_owned()
        }
    }

    /// What a cookie of this tenant's pages adds to its name: nothing for the default
    /// tenant, `_{tenant id}` for another, so a browser signed in to two tenants under one
    /// host keeps both sessions (and a cookie never serves the other tenant).
    pub fn cookie_suffix(&self) -> String {
        if self.is_default {
            String::new()
        } else {
            format!("_{}", self.tenant)
        }
    }
}

/// The paths a tenant's issuer serves under its slug: the provider's, the pages' and the
/// management API's (`/api/v2/`, whose tokens' audience is `{issuer}/api/v2/`).
pub fn is_tenant_path(path: &str) -> bool {
    const PREFIXES: [&str; 14] = [
        "/api/v2/",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
        "/authorize",
        "/oauth/",
        "/userinfo",
        "/mfa/",
        "/logout",
        "/login",
        "/u2/",
        "/signup",
        "/password/",
        "/account/",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p))
        || path.starts_with("/verify-email")
        || path.starts_with("/assets/")
}

/// Finds the request's tenant (host, then `/t/{slug}`, else the default) and rewrites a
/// slug's path. A slug that names no tenant, a tenant served at its own host, or a path
/// that is not the provider's or the pages' is left as it is, and answers `404`.
pub async fn route(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    let mut scope = None;
    if let Some(tenant) = host.as_deref().and_then(|h| app.addresses.by_host(h)) {
        scope = Some(Scope {
            issuer: app.issuer_for(&tenant),
            tenant,
            is_default: false,
            mount: app.mount.clone(),
        });
    } else if let Some(rest) = req.uri().path().strip_prefix("/t/") {
        let (slug, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if let Some(tenant) = app.addresses.by_slug(slug) {
            let issuer = app.issuer_for(&tenant);
            // A tenant with a host of its own has its issuer there, not under the slug.
            if issuer.base == format!("{}/t/{slug}", app.mount) && is_tenant_path(tail) {
                let rewritten = match req.uri().query() {
                    Some(q) => format!("{tail}?{q}"),
                    None => tail.to_owned(),
                };
                if let Ok(uri) = rewritten.parse::<Uri>() {
                    *req.uri_mut() = uri;
                    scope = Some(Scope {
                        tenant,
                        issuer,
                        is_default: false,
                        mount: app.mount.clone(),
                    });
                }
            }
        }
    }
    let scope = scope.unwrap_or_else(|| Scope::default_of(&app));
    req.extensions_mut().insert(scope);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::rand::OsRandom;

    fn scope(base: &str, url: &str) -> Scope {
        Scope {
            tenant: TenantId::generate(0, &OsRandom),
            issuer: Issuer {
                url: url.into(),
                base: base.into(),
            },
            is_default: base.is_empty(),
            mount: String::new(),
        }
    }

    #[test]
    fn paths_and_cookie_names() {
        let s = scope("/t/acme", "https://id.example.com/t/acme");
        assert_eq!(s.path("/login"), "/t/acme/login");
        assert_eq!(s.path("//evil.example/x"), "//evil.example/x");
        assert_eq!(s.path("https://app.example/cb"), "https://app.example/cb");
        assert!(s.cookie_suffix().starts_with("_tnt_"));
        let d = scope("", "http://localhost:8080");
        assert_eq!(d.path("/login"), "/login");
        assert_eq!(d.cookie_suffix(), "");
    }

    #[test]
    fn only_the_providers_and_pages_paths_serve_under_a_slug() {
        for ok in [
            "/.well-known/openid-configuration",
            "/authorize",
            "/oauth/token",
            "/userinfo",
            "/login/mfa",
            "/u2/mfa/sms",
            "/mfa/authenticators",
            "/api/v2/guardian/factors",
            "/account/security",
            "/verify-email",
            "/assets/pages.css",
        ] {
            assert!(is_tenant_path(ok), "{ok}");
        }
        for no in [
            "/",
            "/v1/auth/signin",
            "/v2/admin/tenants",
            "/openapi.json",
            "/healthz",
            "/metrics",
        ] {
            assert!(!is_tenant_path(no), "{no}");
        }
    }
}
