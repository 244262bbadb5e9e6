//! Applications (OAuth 2.0 / OpenID Connect clients) of a tenant: their settings and the
//! rules a registration must satisfy. Pure checks, used by the admin API and the CLI when an
//! application is created or changed, so that `/authorize` and `/oauth/token` only ever meet
//! registrations that are safe to honour.
//!
//! Redirect URIs follow the OAuth 2.0 Security BCP (RFC 9700 §2.1, §4.1) and OAuth for
//! native apps (RFC 8252 §7): they are registered in full and matched by exact string
//! comparison, so a registration must be an absolute URI without fragment, wildcard or user
//! information, over `https` (plain `http` only on the loopback interface, RFC 8252 §7.3),
//! or a private-use scheme in reverse-DNS form (RFC 8252 §7.1). The check is written
//! against RFC 3986 and is stricter than browsers' URL parsing (WHATWG URL): whatever it
//! accepts, a browser reads with the same scheme, host, port and path (a property test
//! checks this against the `url` crate, which implements WHATWG URL), so a registered URI
//! cannot mean one place to Latchkey and another to the browser that follows it.

use crate::oidc::{ClientType, GrantType, SigningAlg};
use crate::settings::{ACCESS_TTL_RANGE, REFRESH_TTL_RANGE};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 9700 does not bound the length; 2048 is what browsers and proxies reliably carry in
/// a URL, and a redirect URI travels inside one (the authorization request).
pub const MAX_REDIRECT_URI_LEN: usize = 2048;
/// Redirect URIs (and, separately, post-logout redirect URIs) one application may register.
pub const MAX_REDIRECT_URIS: usize = 50;
pub const ID_TOKEN_TTL_RANGE: (u64, u64) = (60, 86_400);
pub const MAX_SCOPES: usize = 100;
const MAX_SCOPE_LEN: usize = 200;
const MAX_AUDIENCE_LEN: usize = 256;
/// Application names: shown on the hosted sign-in screens.
pub const MAX_NAME_CHARS: usize = 100;

/// An application's own settings. Stored as JSON with every field defaulted, so a setting
/// added later needs no migration and old rows read back with the new default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplicationSettings {
    /// Lifetime of this application's access tokens (seconds); `None`: the tenant's.
    pub access_token_ttl_secs: Option<u64>,
    /// Lifetime of its refresh-token families (seconds); `None`: the tenant's.
    pub refresh_token_ttl_secs: Option<u64>,
    /// Lifetime of its ID tokens (seconds).
    pub id_token_ttl_secs: u64,
    /// How its ID tokens are signed (`id_token_signed_response_alg`, OpenID Connect
    /// Dynamic Client Registration §2).
    pub id_token_signed_response_alg: SigningAlg,
    /// The `aud` of its client-credentials tokens; `None`: the application's id.
    pub audience: Option<String>,
    /// The scopes a client-credentials token may carry.
    pub scopes: Vec<String>,
}

impl Default for ApplicationSettings {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: None,
            refresh_token_ttl_secs: None,
            id_token_ttl_secs: 3600,
            id_token_signed_response_alg: SigningAlg::RS256,
            audience: None,
            scopes: Vec::new(),
        }
    }
}

impl ApplicationSettings {
    /// Every problem with these settings, as `(field, message)` pairs. The lifetimes have
    /// the tenant settings' ranges.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let in_range = |v: u64, (lo, hi): (u64, u64)| v >= lo && v <= hi;
        if self
            .access_token_ttl_secs
            .is_some_and(|v| !in_range(v, ACCESS_TTL_RANGE))
        {
            out.push((
                "access_token_ttl_secs",
                format!(
                    "must be between {} and {} seconds, or null for the tenant's",
                    ACCESS_TTL_RANGE.0, ACCESS_TTL_RANGE.1
                ),
            ));
        }
        if self
            .refresh_token_ttl_secs
            .is_some_and(|v| !in_range(v, REFRESH_TTL_RANGE))
        {
            out.push((
                "refresh_token_ttl_secs",
                format!(
                    "must be between {} and {} seconds, or null for the tenant's",
                    REFRESH_TTL_RANGE.0, REFRESH_TTL_RANGE.1
                ),
            ));
        }
        if let (Some(access), Some(refresh)) = (self.access_token_ttl_secs, self.refresh_token_ttl_secs) {
            if refresh < access {
                out.push((
                    "refresh_token_ttl_secs",
                    "must not be shorter than access_token_ttl_secs".to_string(),
                ));
            }
        }
        if !in_range(self.id_token_ttl_secs, ID_TOKEN_TTL_RANGE) {
            out.push((
                "id_token_ttl_secs",
                format!(
                    "must be between {} and {} seconds",
                    ID_TOKEN_TTL_RANGE.0, ID_TOKEN_TTL_RANGE.1
                ),
            ));
        }
        if self.audience.as_deref().is_some_and(|a| !valid_audience(a)) {
            out.push((
                "audience",
                format!("must be 1 to {MAX_AUDIENCE_LEN} visible ASCII characters, without spaces"),
            ));
        }
        if self.scopes.len() > MAX_SCOPES || !self.scopes.iter().all(|s| valid_scope(s)) {
            out.push((
                "scopes",
                format!(
                    "must be at most {MAX_SCOPES} scope tokens of 1 to {MAX_SCOPE_LEN} visible ASCII characters, \
                     without spaces, quotes or backslashes (RFC 6749 §3.3)"
                ),
            ));
        } else if self
            .scopes
            .iter()
            .enumerate()
            .any(|(i, s)| self.scopes[..i].contains(s))
        {
            out.push(("scopes", "must not name a scope twice".to_string()));
        }
        out
    }

    /// Access-token lifetime for this application: its own, or the tenant's.
    pub fn access_token_ttl(&self, tenant: &crate::settings::TenantSettings) -> u64 {
        self.access_token_ttl_secs.unwrap_or(tenant.access_token_ttl_secs)
    }

    /// Refresh-token family lifetime for this application: its own, or the tenant's.
    pub fn refresh_token_ttl(&self, tenant: &crate::settings::TenantSettings) -> u64 {
        self.refresh_token_ttl_secs
            .unwrap_or(tenant.refresh_token_ttl_secs)
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn valid_scope(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SCOPE_LEN
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// An audience (a JWT `aud` value, RFC 7519 §4.1.3: a string or URI): visible ASCII.
fn valid_audience(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_AUDIENCE_LEN && s.bytes().all(|b| (0x21..=0x7E).contains(&b))
}

/// Why a redirect URI (or a list of them) is refused. `code()` is its stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 2048 characters")]
    TooLong,
    #[error(
        "may contain only URI characters (RFC 3986): no spaces, backslashes, quotes, angle brackets, \
         braces, control or non-ASCII characters (percent-encode them)"
    )]
    Characters,
    #[error("has a malformed percent-encoding (% must be followed by two hexadecimal digits)")]
    PercentEncoding,
    #[error("must not contain a wildcard (*): redirect URIs are matched exactly")]
    Wildcard,
    #[error("must not contain a fragment (#…)")]
    Fragment,
    #[error("must be an absolute URI with a scheme, like https://app.example.com/callback")]
    NotAbsolute,
    #[error("the scheme must be written in lowercase")]
    SchemeCase,
    #[error(
        "the scheme must be https, http on loopback, or a private-use scheme in reverse-DNS form \
         like com.example.app (javascript:, data:, file: and the like are refused)"
    )]
    Scheme,
    #[error("must use https; http is allowed only on loopback (127.0.0.1, [::1], localhost)")]
    InsecureHttp,
    #[error("must not contain user information (user@host)")]
    Userinfo,
    #[error("must name a valid host (https://host/…)")]
    Host,
    #[error("the host must be written in lowercase")]
    HostCase,
    #[error("has an invalid port (1 to 65535, no leading zero)")]
    Port,
    #[error("a private-use scheme must be followed by a path, like com.example.app:/callback")]
    PrivateUsePath,
    #[error("the path must not contain . or .. segments")]
    DotSegment,
    #[error("is listed twice")]
    Duplicate,
    #[error("too many: at most 50 may be registered")]
    TooMany,
}

impl RedirectUriError {
    /// The stable snake_case name of the reason (the API's `reason`).
    pub fn code(self) -> &'static str {
        match self {
            RedirectUriError::Empty => "empty",
            RedirectUriError::TooLong => "too_long",
            RedirectUriError::Characters => "characters",
            RedirectUriError::PercentEncoding => "percent_encoding",
            RedirectUriError::Wildcard => "wildcard",
            RedirectUriError::Fragment => "fragment",
            RedirectUriError::NotAbsolute => "not_absolute",
            RedirectUriError::SchemeCase => "scheme_case",
            RedirectUriError::Scheme => "scheme",
            RedirectUriError::InsecureHttp => "insecure_http",
            RedirectUriError::Userinfo => "userinfo",
            RedirectUriError::Host => "host",
            RedirectUriError::HostCase => "host_case",
            RedirectUriError::Port => "port",
            RedirectUriError::PrivateUsePath => "private_use_path",
            RedirectUriError::DotSegment => "dot_segment",
            RedirectUriError::Duplicate => "duplicate",
            RedirectUriError::TooMany => "too_many",
        }
    }
}

/// The loopback hosts plain `http` may use (RFC 8252 §7.3; `localhost` as well, which
/// RFC 8252 §8.3 discourages but development servers commonly use).
pub const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// RFC 3986 §2.2–2.3 characters, less `#` and `*` (refused on their own, with their own
/// reasons) and `%` (checked with what follows it).
fn uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?[]@!$&'()+,;=".contains(&b)
}

/// `pchar` of RFC 3986 §3.3 (percent signs checked separately), and `/`; `?` too in a query.
fn path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()+,;=:@/%".contains(&b)
}

/// Checks a redirect URI (or post-logout redirect URI) for registration. The URI is stored
/// exactly as given when it passes: nothing is normalised, because it is matched exactly.
pub fn check_redirect_uri(uri: &str) -> Result<(), RedirectUriError> {
    use RedirectUriError as E;
    if uri.is_empty() {
        return Err(E::Empty);
    }
    if uri.len() > MAX_REDIRECT_URI_LEN {
        return Err(E::TooLong);
    }
    if uri.contains('*') {
        return Err(E::Wildcard);
    }
    if uri.contains('#') {
        return Err(E::Fragment);
    }
    let bytes = uri.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(E::PercentEncoding);
            }
        } else if !uri_char(b) {
            return Err(E::Characters);
        }
    }
    let (scheme, rest) = uri.split_once(':').ok_or(E::NotAbsolute)?;
    let scheme_ok = scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err(E::NotAbsolute);
    }
    if scheme.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(E::SchemeCase);
    }
    let tail = match scheme {
        "https" | "http" => {
            let after = rest.strip_prefix("//").ok_or(E::Host)?;
            let end = after.find(['/', '?']).unwrap_or(after.len());
            let (authority, tail) = after.split_at(end);
            let host = web_host(authority)?;
            if scheme == "http" && !LOOPBACK_HOSTS.contains(&host) {
                return Err(E::InsecureHttp);
            }
            tail
        }
        _ => {
            // RFC 8252 §7.1: a private-use scheme is a reverse-DNS name the app controls,
            // so it holds a dot; this also leaves out every scheme a browser acts on itself
            // (javascript:, data:, file:, blob:, about: …), none of which has one.
            if !scheme.contains('.') || scheme.split('.').any(str::is_empty) {
                return Err(E::Scheme);
            }
            if !rest.starts_with('/') {
                return Err(E::PrivateUsePath);
            }
            match rest.strip_prefix("//") {
                Some(after) => {
                    let end = after.find(['/', '?']).unwrap_or(after.len());
                    let (authority, tail) = after.split_at(end);
                    if authority.contains('@') {
                        return Err(E::Userinfo);
                    }
                    // `com.example.app://callback`: a host name at most, no port.
                    if authority.bytes().any(|b| b.is_ascii_uppercase()) {
                        return Err(E::HostCase);
                    }
                    if !authority.is_empty() && !valid_dns_host(authority) {
                        return Err(E::Host);
                    }
                    tail
                }
                None => rest,
            }
        }
    };
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    if !path.bytes().all(path_char) || !query.is_none_or(|q| q.bytes().all(|b| b == b'?' || path_char(b))) {
        // `[` and `]` belong in a host only.
        return Err(E::Characters);
    }
    if path.split('/').any(is_dot_segment) {
        return Err(E::DotSegment);
    }
    Ok(())
}

/// `.` or `..`, also percent-encoded (`%2e`), which browsers resolve the same way.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.replace("%2e", ".").replace("%2E", ".");
    decoded == "." || decoded == ".."
}

/// The host of an `http`/`https` authority (`host[:port]`), checked: no user information,
/// a lowercase DNS name, an IPv4 address or a bracketed IPv6 address, an optional port.
fn web_host(authority: &str) -> Result<&str, RedirectUriError> {
    use RedirectUriError as E;
    if authority.contains('@') {
        return Err(E::Userinfo);
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or(E::Host)?;
        let (host, after) = authority.split_at(close + 1);
        let inner = &host[1..host.len() - 1];
        // A zone id (`%25eth0`) or anything else std does not read as an address is refused.
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(E::Host);
        }
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or(E::Host)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && !port.starts_with('0')
            && port.parse::<u32>().is_ok_and(|p| p <= 65_535);
        if !ok {
            return Err(E::Port);
        }
    }
    if host.starts_with('[') {
        return Ok(host);
    }
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(E::HostCase);
    }
    if !valid_dns_host(host) {
        return Err(E::Host);
    }
    Ok(host)
}

/// A lowercase DNS name (labels of letters, digits and inner hyphens) or a dotted-quad IPv4
/// address. A name whose last label is a number (`10`, `0x7f`) is read by browsers as an
/// IPv4 address in some other notation (`1.2.3` or `0x7f.1` is 127.0.0.1 to WHATWG URL), so
/// such a host must be an IPv4 address in the plain four-decimal form.
fn valid_dns_host(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let last = host.rsplit('.').next().unwrap_or("");
    let numeric = (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
        || last
            .strip_prefix("0x")
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    if numeric {
        return host.parse::<Ipv4Addr>().is_ok();
    }
    host.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

/// Checks a list of redirect URIs: each one, none twice, at most [`MAX_REDIRECT_URIS`].
/// On refusal, the index of the first URI at fault and why.
pub fn check_redirect_uris(uris: &[String]) -> Result<(), (usize, RedirectUriError)> {
    for (i, uri) in uris.iter().enumerate() {
        if i >= MAX_REDIRECT_URIS {
            return Err((i, RedirectUriError::TooMany));
        }
        check_redirect_uri(uri).map_err(|e| (i, e))?;
        if uris[..i].contains(uri) {
            return Err((i, RedirectUriError::Duplicate));
        }
    }
    Ok(())
}

/// Parses grant-type names, deduplicated, or names the unknown ones.
pub fn parse_grant_types(names: &[String]) -> Result<Vec<GrantType>, String> {
    let mut grants = Vec::new();
    let mut unknown = Vec::new();
    for n in names {
        match GrantType::parse(n) {
            Some(g) if !grants.contains(&g) => grants.push(g),
            Some(_) => {}
            None => unknown.push(n.escape_debug().to_string()),
        }
    }
    if unknown.is_empty() {
        Ok(grants)
    } else {
        Err(format!(
            "unknown grant type(s): {}; known: {}",
            unknown.join(", "),
            GrantType::ALL.map(GrantType::as_str).join(", ")
        ))
    }
}

/// Whether `grants` suit a client of this type with these redirect URIs; the reason if not.
/// - `client_credentials` issues a token to the client itself, on the strength of its
///   secret alone: a public client has none (RFC 6749 §4.4).
/// - `refresh_token` continues what `authorization_code` (or a password grant) started;
///   alone it could never be used.
/// - The MFA grants answer an `mfa_required` only a password grant gives.
/// - A public client using `authorization_code` must have somewhere to be sent back to: it
///   has no other way to receive a code.
pub fn grant_problem(
    client: ClientType,
    grants: &[GrantType],
    redirect_uris: &[String],
) -> Option<&'static str> {
    if grants.is_empty() {
        return Some("at least one grant type is needed");
    }
    if client == ClientType::Public && grants.contains(&GrantType::ClientCredentials) {
        return Some("client_credentials is for confidential clients only: a public client has no secret");
    }
    let signs_in = grants
        .iter()
        .any(|g| *g == GrantType::AuthorizationCode || g.is_password());
    if grants.contains(&GrantType::RefreshToken) && !signs_in {
        return Some("refresh_token needs authorization_code or a password grant");
    }
    if grants.iter().any(|g| g.is_mfa()) && !grants.iter().any(|g| g.is_password()) {
        return Some("the mfa-otp, mfa-oob and mfa-recovery-code grants need password or password-realm");
    }
    if client == ClientType::Public
        && grants.contains(&GrantType::AuthorizationCode)
        && redirect_uris.is_empty()
    {
        return Some("a public client using authorization_code needs at least one redirect URI");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refused(uri: &str) -> RedirectUriError {
        check_redirect_uri(uri).expect_err(uri)
    }

    #[test]
    fn good_redirect_uris_pass_unchanged() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com",
            "https://app.example.com:8443/cb?tenant=acme&x=%20y",
            "https://app.example.com/a/b.c/..d/~e/@f",
            "https://192.0.2.10/cb",
            "https://[2001:db8::1]:443/cb",
            "https://xn--bcher-kva.example/cb",
            "http://127.0.0.1:8080/callback",
            "http://127.0.0.1/callback",
            "http://[::1]:53123/cb",
            "http://localhost:3000/auth/callback",
            "com.example.app:/oauth2redirect/example-provider",
            "com.example.app:/",
            "com.example.app://callback",
            "io.my-app.v2+beta:/cb?x=1",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn bad_redirect_uris_are_refused_with_their_reason() {
        use RedirectUriError as E;
        for (uri, why) in [
            ("", E::Empty),
            ("https://*.example.com/cb", E::Wildcard),
            ("https://app.example.com/*", E::Wildcard),
            ("https://app.example.com/cb#frag", E::Fragment),
            ("https://app.example.com/cb#", E::Fragment),
            ("/callback", E::NotAbsolute),
            ("app.example.com/callback", E::NotAbsolute),
            ("//app.example.com/cb", E::NotAbsolute),
            ("1https://x.com/", E::NotAbsolute),
            ("HTTPS://app.example.com/cb", E::SchemeCase),
            ("javascript:alert(1)", E::Scheme),
            ("javascript://%0aalert(1)", E::Scheme),
            ("data:text/html,hi", E::Scheme),
            ("file:///etc/passwd", E::Scheme),
            ("vbscript:msgbox", E::Scheme),
            ("blob:https://x.com/uuid", E::Scheme),
            ("about:blank", E::Scheme),
            ("ftp://x.com/", E::Scheme),
            ("myapp:/callback", E::Scheme),
            ("com..app:/cb", E::Scheme),
            (".com.app:/cb", E::NotAbsolute),
            ("http://app.example.com/cb", E::InsecureHttp),
            ("http://127.0.0.2/cb", E::InsecureHttp),
            ("http://[::2]/cb", E::InsecureHttp),
            ("http://localhost.evil.com/cb", E::InsecureHttp),
            ("https://user@app.example.com/cb", E::Userinfo),
            ("https://user:pw@app.example.com/cb", E::Userinfo),
            ("https://good.com@evil.com/cb", E::Userinfo),
            ("com.example.app://user@host/cb", E::Userinfo),
            ("com.example.app://::1", E::Host),
            ("com.example.app://host:99/cb", E::Host),
            ("com.example.app://Host/cb", E::HostCase),
            ("https://good.com\\@evil.com/", E::Characters),
            ("https://app.example.com/a b", E::Characters),
            ("https://app.example.com/\u{00e9}", E::Characters),
            ("https://app.example.com/\n", E::Characters),
            (" https://app.example.com/", E::Characters),
            ("https://app.example.com/<script>", E::Characters),
            ("https://app.example.com/\"", E::Characters),
            ("https://app.example.com/{x}", E::Characters),
            ("https://app.example.com/[x]", E::Characters),
            ("https://app.example.com/%", E::PercentEncoding),
            ("https://app.example.com/%zz", E::PercentEncoding),
            ("https://app.example.com/%2", E::PercentEncoding),
            ("https:app.example.com", E::Host),
            ("https:/app.example.com", E::Host),
            ("https:///cb", E::Host),
            ("https://-app.example.com/", E::Host),
            ("https://app..example.com/", E::Host),
            ("https://app.example.com./", E::Host),
            ("https://a_b.example.com/", E::Host),
            ("https://1.2.3/", E::Host),
            ("https://0x7f.1/", E::Host),
            ("https://example.0x1f/", E::Host),
            ("https://2130706433/", E::Host),
            ("https://01.2.3.4/", E::Host),
            ("https://[fe80::1%25eth0]/", E::Host),
            ("https://[::1/", E::Host),
            ("https://[::1]x/", E::Host),
            ("https://App.Example.com/cb", E::HostCase),
            ("https://app.example.com:/cb", E::Port),
            ("https://app.example.com:0/cb", E::Port),
            ("https://app.example.com:08443/cb", E::Port),
            ("https://app.example.com:65536/cb", E::Port),
            ("https://app.example.com:1:2/cb", E::Port),
            ("com.example.app:callback", E::PrivateUsePath),
            ("com.example.app:", E::PrivateUsePath),
            ("https://app.example.com/../cb", E::DotSegment),
            ("https://app.example.com/a/./cb", E::DotSegment),
            ("https://app.example.com/a/%2e%2E/cb", E::DotSegment),
            ("https://app.example.com/a/..", E::DotSegment),
            ("com.example.app:/../x", E::DotSegment),
        ] {
            assert_eq!(check_redirect_uri(uri), Err(why), "{uri:?}");
        }
        assert_eq!(
            refused(&format!("https://a.com/{}", "a".repeat(2040))),
            E::TooLong
        );
        assert!(check_redirect_uri(&format!("https://a.com/{}", "a".repeat(2030))).is_ok());
    }

    #[test]
    fn lists_refuse_duplicates_and_excess_and_name_the_culprit() {
        let uris = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_redirect_uris(&[]), Ok(()));
        assert_eq!(
            check_redirect_uris(&uris(&["https://a.com/1", "https://a.com/2", "https://a.com/1"])),
            Err((2, RedirectUriError::Duplicate))
        );
        assert_eq!(
            check_redirect_uris(&uris(&["https://a.com/1", "http://a.com/2"])),
            Err((1, RedirectUriError::InsecureHttp))
        );
        let many: Vec<String> = (0..=MAX_REDIRECT_URIS)
            .map(|i| format!("https://a.com/{i}"))
            .collect();
        assert_eq!(check_redirect_uris(&many[..MAX_REDIRECT_URIS]), Ok(()));
        assert_eq!(
            check_redirect_uris(&many),
            Err((MAX_REDIRECT_URIS, RedirectUriError::TooMany))
        );
        let mut codes = std::collections::HashSet::new();
        for e in [
            RedirectUriError::Empty,
            RedirectUriError::Duplicate,
            RedirectUriError::TooMany,
            RedirectUriError::Wildcard,
        ] {
            assert!(codes.insert(e.code()));
        }
    }

    #[test]
    fn grant_rules() {
        use ClientType::*;
        use GrantType::*;
        let cb = vec!["https://a.com/cb".to_string()];
        assert_eq!(
            grant_problem(Public, &[AuthorizationCode, RefreshToken], &cb),
            None
        );
        assert_eq!(grant_problem(Confidential, &[ClientCredentials], &[]), None);
        assert_eq!(
            grant_problem(
                Confidential,
                &[AuthorizationCode, RefreshToken, ClientCredentials],
                &[]
            ),
            None
        );
        assert!(grant_problem(Public, &[ClientCredentials], &cb).is_some());
        assert!(grant_problem(Public, &[AuthorizationCode, ClientCredentials], &cb).is_some());
        assert!(grant_problem(Confidential, &[RefreshToken], &cb).is_some());
        assert!(grant_problem(Confidential, &[RefreshToken, ClientCredentials], &cb).is_some());
        assert!(grant_problem(Public, &[AuthorizationCode], &[]).is_some());
        assert!(grant_problem(Public, &[], &cb).is_some());
        assert_eq!(
            parse_grant_types(&[
                "refresh_token".into(),
                "authorization_code".into(),
                "refresh_token".into()
            ]),
            Ok(vec![RefreshToken, AuthorizationCode])
        );
        // The password grant and Auth0's MFA grants, for applications written against Auth0.
        let auth0 = [
            Password,
            PasswordRealm,
            MfaOtp,
            MfaOob,
            MfaRecoveryCode,
            RefreshToken,
        ];
        assert_eq!(grant_problem(Public, &auth0, &[]), None);
        assert_eq!(grant_problem(Confidential, &[Password, RefreshToken], &[]), None);
        assert!(grant_problem(Confidential, &[MfaOtp, ClientCredentials], &[]).is_some());
        assert!(grant_problem(Public, &[AuthorizationCode, MfaOob], &cb).is_some());
        assert_eq!(
            parse_grant_types(&[
                "password".into(),
                "http://auth0.com/oauth/grant-type/mfa-otp".into()
            ]),
            Ok(vec![Password, MfaOtp])
        );
        let err = parse_grant_types(&["implicit".into(), "passwords".into()]).unwrap_err();
        assert!(
            err.contains("implicit, passwords") && err.contains("client_credentials"),
            "{err}"
        );
    }

    #[test]
    fn settings_default_validate_and_read_back_from_old_rows() {
        let d = ApplicationSettings::default();
        assert!(d.problems().is_empty());
        assert_eq!(d.id_token_ttl_secs, 3600);
        assert_eq!(d.id_token_signed_response_alg, SigningAlg::RS256);
        let old: ApplicationSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(old, d);
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["id_token_signed_response_alg"], "RS256");
        let tenant = crate::settings::TenantSettings::default();
        assert_eq!(d.access_token_ttl(&tenant), tenant.access_token_ttl_secs);
        let own = ApplicationSettings {
            access_token_ttl_secs: Some(120),
            refresh_token_ttl_secs: Some(7200),
            ..Default::default()
        };
        assert_eq!(own.access_token_ttl(&tenant), 120);
        assert_eq!(own.refresh_token_ttl(&tenant), 7200);
        assert!(own.problems().is_empty());

        let fields = |s: ApplicationSettings| s.problems().into_iter().map(|(f, _)| f).collect::<Vec<_>>();
        assert_eq!(
            fields(ApplicationSettings {
                access_token_ttl_secs: Some(59),
                refresh_token_ttl_secs: Some(366 * 86_400),
                id_token_ttl_secs: 86_401,
                ..Default::default()
            }),
            [
                "access_token_ttl_secs",
                "refresh_token_ttl_secs",
                "id_token_ttl_secs"
            ]
        );
        assert_eq!(
            fields(ApplicationSettings {
                access_token_ttl_secs: Some(86_400),
                refresh_token_ttl_secs: Some(3_600),
                ..Default::default()
            }),
            ["refresh_token_ttl_secs"]
        );
        for bad in ["", "has space", "tab\t", "é"] {
            let s = ApplicationSettings {
                audience: Some(bad.into()),
                ..Default::default()
            };
            assert_eq!(fields(s), ["audience"], "{bad:?}");
        }
        for bad in [
            vec![""],
            vec!["a b"],
            vec!["quote\""],
            vec!["back\\slash"],
            vec!["read", "read"],
        ] {
            let s = ApplicationSettings {
                scopes: bad.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            };
            assert_eq!(fields(s), ["scopes"], "{bad:?}");
        }
        let ok = ApplicationSettings {
            audience: Some("https://api.example.com".into()),
            scopes: vec!["read:users".into(), "write:users".into()],
            ..Default::default()
        };
        assert!(ok.problems().is_empty());
    }

    /// Pieces a generated URI is built from: ordinary ones, and the characters and
    /// sequences parsers disagree about.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9]{1,6}",
            Just(".".to_string()),
            Just("..".to_string()),
            Just("/".to_string()),
            Just("//".to_string()),
            Just("@".to_string()),
            Just(":".to_string()),
            Just("?".to_string()),
            Just("#".to_string()),
            Just("%2e".to_string()),
            Just("%".to_string()),
            Just("\\".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("::1".to_string()),
            Just("*".to_string()),
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just("0x7f".to_string()),
            Just("127.0.0.1".to_string()),
            Just("-".to_string()),
            Just("A".to_string()),
            Just("'".to_string()),
            Just("=&".to_string()),
        ]
    }

    fn candidate() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![
            Just("https://"),
            Just("http://"),
            Just("com.example.app:/"),
            Just("com.example.app://"),
            Just("javascript:"),
            Just("HTTPS://"),
            Just(""),
        ];
        (scheme, proptest::collection::vec(piece(), 0..12)).prop_map(|(s, p)| format!("{s}{}", p.concat()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whatever is accepted, a browser's parser (WHATWG URL, as the `url` crate
        /// implements it) reads the same way: same scheme, no fragment, no user
        /// information, and for the web schemes the same host, port and path; `http` only
        /// ever reaches loopback.
        #[test]
        fn accepted_uris_mean_the_same_to_a_browser(uri in candidate()) {
            if check_redirect_uri(&uri).is_ok() {
                let parsed = url::Url::parse(&uri);
                prop_assert!(parsed.is_ok(), "{uri:?} accepted but a browser cannot parse it");
                let u = parsed.unwrap();
                let (scheme, rest) = uri.split_once(':').unwrap();
                prop_assert_eq!(u.scheme(), scheme);
                prop_assert_eq!(u.fragment(), None);
                prop_assert_eq!(u.username(), "");
                prop_assert_eq!(u.password(), None);
                if scheme == "https" || scheme == "http" {
                    let after = &rest[2..];
                    let end = after.find(['/', '?']).unwrap_or(after.len());
                    let (authority, tail) = after.split_at(end);
                    let (host, port) = match authority.rsplit_once(':') {
                        Some((h, p)) if !p.contains(']') => (h, Some(p.parse::<u16>().unwrap())),
                        _ => (authority, None),
                    };
                    let browser_host = u.host_str().unwrap();
                    if host.starts_with('[') {
                        let ours: Ipv6Addr = host[1..host.len() - 1].parse().unwrap();
                        let theirs: Ipv6Addr = browser_host[1..browser_host.len() - 1].parse().unwrap();
                        prop_assert_eq!(ours, theirs);
                    } else {
                        prop_assert_eq!(browser_host, host);
                    }
                    let default = if scheme == "https" { 443 } else { 80 };
                    prop_assert_eq!(u.port_or_known_default(), Some(port.unwrap_or(default)));
                    let path = tail.split('?').next().unwrap();
                    prop_assert_eq!(u.path(), if path.is_empty() { "/" } else { path });
                    if scheme == "http" {
                        prop_assert!(LOOPBACK_HOSTS.contains(&host));
                    }
                }
            }
        }

        /// Never panics, on anything.
        #[test]
        fn any_input_is_answered(uri in "\\PC{0,80}") {
            let _ = check_redirect_uri(&uri);
        }
    }
}
