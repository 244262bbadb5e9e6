//! Where a tenant's OpenID Connect issuer (and its hosted pages) lives.
//!
//! The default tenant's issuer is the server's public URL. Another tenant gets one by a
//! **slug** (a path segment: `https://id.example.com/t/acme`) or a **host** of its own
//! (`https://login.acme.com`, a name pointed at this server, whose requests carry it in
//! `Host`). With both, the host is the issuer: a tenant has one issuer, since a relying
//! party checks that every token names the one it discovered (OpenID Connect Discovery
//! §4.3).

use std::fmt;

/// Why a slug or host was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("slug must be 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-'")]
    Slug,
    #[error("host must be a lower-case DNS name (with an optional :port), at most 253 characters, without scheme or path")]
    Host,
}

/// A tenant's path segment: 1–63 of `a-z 0-9 -`, no leading or trailing `-` (a DNS label,
/// so the same name can later be a subdomain).
pub fn parse_slug(raw: &str) -> Result<String, AddressError> {
    if is_label(raw) {
        Ok(raw.to_owned())
    } else {
        Err(AddressError::Slug)
    }
}

/// A tenant's host: a lower-case DNS name of at least two labels, optionally `:port`
/// (1–65535). Compared exactly with the request's `Host`, which browsers send lower-cased.
pub fn parse_host(raw: &str) -> Result<String, AddressError> {
    let (name, port) = match raw.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (raw, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && !p.starts_with('0')
            && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
    });
    let labels: Vec<&str> = name.split('.').collect();
    if name.len() <= 253 && port_ok && labels.len() >= 2 && labels.iter().all(|l| is_label(l)) {
        Ok(raw.to_owned())
    } else {
        Err(AddressError::Host)
    }
}

fn is_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Where a request for a tenant came in: how its issuer and links are spelt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// The issuer URL, without a trailing `/`.
    pub url: String,
    /// The path its endpoints and pages live under on this server (`""` or `/t/{slug}`).
    pub base: String,
}

impl Issuer {
    /// The issuer of a tenant, given the server's public URL (`https://id.example.com`),
    /// whether the tenant is the default one, and its slug and host. `None`: this tenant has
    /// no issuer (not the default, and neither slug nor host).
    pub fn of(public_url: &str, is_default: bool, slug: Option<&str>, host: Option<&str>) -> Option<Issuer> {
        let public_url = public_url.trim_end_matches('/');
        if is_default {
            return Some(Issuer {
                url: public_url.to_owned(),
                base: String::new(),
            });
        }
        if let Some(host) = host {
            let scheme = if public_url.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            return Some(Issuer {
                url: format!("{scheme}://{host}"),
                base: String::new(),
            });
        }
        let base = format!("/t/{}", slug?);
        Some(Issuer {
            url: format!("{public_url}{base}"),
            base,
        })
    }

    /// An absolute URL of one of the issuer's paths (`/password/reset?…`).
    pub fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["acme", "a", "acme-eu-1", "0day", &"a".repeat(63)] {
            assert_eq!(parse_slug(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "",
            "Acme",
            "-acme",
            "acme-",
            "ac_me",
            "ac.me",
            "ac/me",
            "%61",
            "é",
            &"a".repeat(64),
        ] {
            assert_eq!(parse_slug(bad), Err(AddressError::Slug), "{bad}");
        }
    }

    #[test]
    fn hosts() {
        for ok in ["login.acme.com", "a.b", "id.acme.test:8443", "x-1.example.org:1"] {
            assert_eq!(parse_host(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "",
            "localhost",
            "Login.acme.com",
            "https://acme.com",
            "acme.com/",
            "acme.com:",
            "acme.com:0",
            "acme.com:65536",
            "acme.com:080",
            "acme..com",
            ".acme.com",
            "acme.com.",
            "a_b.com",
            "[::1]:80",
            "127.0.0.1:80:1",
            "user@acme.com",
        ] {
            assert_eq!(parse_host(bad), Err(AddressError::Host), "{bad}");
        }
        assert!(parse_host(&format!("{}.com", "a.".repeat(126))).is_err());
    }

    #[test]
    fn issuers() {
        let default = Issuer::of("https://id.example.com/", true, Some("x"), Some("h.test")).unwrap();
        assert_eq!(default.url, "https://id.example.com");
        assert_eq!(default.base, "");
        let path = Issuer::of("https://id.example.com", false, Some("acme"), None).unwrap();
        assert_eq!(path.url, "https://id.example.com/t/acme");
        assert_eq!(path.base, "/t/acme");
        assert_eq!(path.url_of("/login"), "https://id.example.com/t/acme/login");
        let host = Issuer::of(
            "https://id.example.com",
            false,
            Some("acme"),
            Some("login.acme.com"),
        )
        .unwrap();
        assert_eq!(host.url, "https://login.acme.com");
        assert_eq!(host.base, "");
        let plain = Issuer::of("http://localhost:8080", false, None, Some("login.acme.test:8080")).unwrap();
        assert_eq!(plain.url, "http://login.acme.test:8080");
        assert_eq!(Issuer::of("https://id.example.com", false, None, None), None);
    }
}
