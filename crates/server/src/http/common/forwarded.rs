//! The client's address behind reverse proxies: `Forwarded` (RFC 7239) and
//! `X-Forwarded-For` are believed only when the TCP peer is a configured trusted proxy.
//!
//! Why so strict: the client address keys per-address send limits and goes into the audit
//! log, so a header an attacker can write must never choose it (ASVS 5.0 V4.1.3, V15.3.4;
//! authentik CVE-2024-47070, where an unparsable `X-Forwarded-For` skipped a policy). The
//! rules, in order:
//! - From a peer that is not a trusted proxy, every forwarding header is ignored.
//! - From a trusted proxy, only the header the operator names (`forwarded_header`:
//!   `x-forwarded-for` by default, or `forwarded`) is read; the other is ignored, since a
//!   proxy that appends to one usually passes the other through from the client. The list
//!   is walked from the right (the entry the nearest proxy added) leftwards, skipping
//!   entries that are themselves trusted proxies; the first other address is the client.
//!   Entries to its left were written by the client and are never looked at.
//! - Anything unexpected on that walk (an unparsable entry, `unknown`, an obfuscated
//!   identifier, an element without `for=`, a non-UTF-8 value) means "fall back to the TCP
//!   peer": never to a value further left, never an error.
//! - `X-Real-IP` is not honoured: it carries one address with no chain to walk.

use axum::http::header::{HeaderMap, FORWARDED};
use ipnet::IpNet;
use std::net::IpAddr;
use std::str::FromStr;

/// The configured trusted proxies (`trusted_proxies`): single addresses and CIDR ranges.
/// Empty (the default) trusts no header at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list such as `10.0.0.0/8, 192.0.2.7, fd00::/8`. A range with
    /// bits set below its prefix (`10.0.0.1/8`) is refused as a likely typo, not widened.
    pub fn parse(list: &str) -> Result<Self, Vec<String>> {
        let mut nets = Vec::new();
        let mut problems = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let parsed = if item.contains('/') {
                IpNet::from_str(item)
                    .ok()
                    .filter(|n| n.trunc() == *n)
                    .ok_or("is not a CIDR range like 10.0.0.0/8 (no host bits below the prefix)")
            } else {
                IpAddr::from_str(item)
                    .map(IpNet::from)
                    .map_err(|_| "is not an IP address or CIDR range")
            };
            match parsed {
                Ok(n) => nets.push(n),
                Err(msg) => problems.push(format!("`{}` {msg}", item.escape_debug())),
            }
        }
        if problems.is_empty() {
            Ok(Self(nets))
        } else {
            Err(problems)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy. IPv4-mapped IPv6 addresses (a dual-stack listener's
    /// view of an IPv4 peer) count as the IPv4 address they carry.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// Which forwarding header the trusted proxies write: the one believed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx, HAProxy's `forwardfor`, AWS load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(Self::XForwardedFor),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }
}

/// The client address of a request that arrived from `peer` with `headers`.
pub fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
    header: ForwardedHeader,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    // Repeated header lines form one list, in order (RFC 9110 §5.3); a line that is not
    // text makes the whole list unusable.
    let joined = |name: &str| -> Option<Option<String>> {
        let mut lines = headers.get_all(name).iter().peekable();
        lines.peek()?;
        Some(
            lines
                .map(|v| v.to_str().ok())
                .collect::<Option<Vec<_>>>()
                .map(|v| v.join(",")),
        )
    };
    let found = match header {
        ForwardedHeader::Forwarded => joined(FORWARDED.as_str())
            .flatten()
            .and_then(|v| walk(&v, trusted, forwarded_for)),
        ForwardedHeader::XForwardedFor => joined("x-forwarded-for")
            .flatten()
            .and_then(|v| walk(&v, trusted, xff_entry)),
    };
    found.unwrap_or(peer)
}

/// Walks a header's comma-separated elements from the right. `None` means "use the peer".
fn walk(value: &str, trusted: &TrustedProxies, entry: fn(&str) -> Option<IpAddr>) -> Option<IpAddr> {
    for element in split_outside_quotes(value, ',').into_iter().rev() {
        let ip = entry(element)?.to_canonical();
        if !trusted.contains(ip) {
            return Some(ip);
        }
    }
    // Every hop was a trusted proxy: the peer is as good an answer as any of them.
    None
}

/// One `X-Forwarded-For` entry: an address, optionally with a port as some proxies write it
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`, `[2001:db8::1]`).
fn xff_entry(entry: &str) -> Option<IpAddr> {
    node(entry.trim_matches([' ', '\t']))
}

/// The `for=` node of one `Forwarded` element (`for=192.0.2.60;proto=http;by=…`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in split_outside_quotes(element, ';') {
        let (name, value) = pair.trim_matches([' ', '\t']).split_once('=')?;
        if name.eq_ignore_ascii_case("for") {
            if found.is_some() {
                return None; // two `for=` in one element: ambiguous, so untrusted
            }
            found = Some(unquote(value)?);
        }
    }
    node(&found?)
}

/// An address with an optional port, per RFC 7239 §6 (`unknown` and obfuscated `_names`
/// are not addresses, so they yield `None`).
fn node(s: &str) -> Option<IpAddr> {
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return addr.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    let (addr, port) = s.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A token or a quoted-string (RFC 9110 §5.6.6), with its quoting removed.
fn unquote(v: &str) -> Option<String> {
    let Some(inner) = v.strip_prefix('"') else {
        let is_token = !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:[]".contains(&b));
        // `:` and brackets are not token characters, but a bare `for=[::1]` is common and
        // harmless to read; anything else non-token is malformed.
        return is_token.then(|| v.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Splits on `sep` where it is not inside a quoted-string.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

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

    fn trusted(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    const PEER: &str = "10.1.2.3";

    /// Resolves with the header the pairs use (`Forwarded` if any pair is one).
    fn resolve(list: &str, pairs: &[(&str, &str)]) -> IpAddr {
        let header = if pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case("forwarded")) {
            ForwardedHeader::Forwarded
        } else {
            ForwardedHeader::XForwardedFor
        };
        client_ip(ip(PEER), &headers(pairs), &trusted(list), header)
    }

    #[test]
    fn parses_addresses_and_ranges() {
        let t = trusted(" 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::1");
        assert!(t.contains(ip("10.200.0.1")));
        assert!(t.contains(ip("192.0.2.7")));
        assert!(!t.contains(ip("192.0.2.8")));
        assert!(t.contains(ip("fd12::1")));
        assert!(t.contains(ip("::1")));
        assert!(t.contains(ip("::ffff:10.0.0.1")), "v4-mapped counts as IPv4");
        assert!(trusted("").is_empty());
        let err = TrustedProxies::parse("10.0.0.1/8, nope, 1.2.3.4/33, 127.0.0.1").unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
    }

    #[test]
    fn untrusted_peers_cannot_choose_their_address() {
        for h in [
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
            ("x-real-ip", "203.0.113.9"),
        ] {
            assert_eq!(resolve("", &[h]), ip(PEER), "{h:?} with nothing trusted");
            assert_eq!(
                resolve("192.0.2.0/24", &[h]),
                ip(PEER),
                "{h:?} from an untrusted peer"
            );
        }
    }

    #[test]
    fn trusted_proxies_are_walked_from_the_right() {
        let t = "10.0.0.0/8";
        assert_eq!(
            resolve(t, &[("x-forwarded-for", "203.0.113.9")]),
            ip("203.0.113.9")
        );
        // The client wrote the left part; the proxies appended the rest.
        assert_eq!(
            resolve(t, &[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(
                t,
                &[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "203.0.113.9")]
            ),
            ip("203.0.113.9"),
            "repeated lines are one list"
        );
        assert_eq!(
            resolve(
                t,
                &[(
                    "forwarded",
                    r#"for=1.1.1.1, for="[2001:db8::17]:4711";proto=https, for=10.0.0.9;by=10.0.0.1"#
                )]
            ),
            ip("2001:db8::17")
        );
        assert_eq!(
            resolve(t, &[("forwarded", "For=192.0.2.60;proto=http;by=203.0.113.43")]),
            ip("192.0.2.60")
        );
        assert_eq!(
            resolve(
                t,
                &[
                    ("forwarded", "for=192.0.2.60"),
                    ("x-forwarded-for", "198.51.100.1")
                ]
            ),
            ip("192.0.2.60"),
            "with Forwarded configured, only Forwarded is read"
        );
        let both = headers(&[
            ("forwarded", "for=192.0.2.60"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(
            client_ip(ip(PEER), &both, &trusted(t), ForwardedHeader::XForwardedFor),
            ip("198.51.100.1"),
            "with X-Forwarded-For configured, a client-written Forwarded is ignored"
        );
        assert_eq!(
            client_ip(
                ip(PEER),
                &headers(&[("forwarded", "for=192.0.2.60")]),
                &trusted(t),
                ForwardedHeader::XForwardedFor
            ),
            ip(PEER)
        );
        assert_eq!(
            resolve(t, &[("x-forwarded-for", "192.0.2.1:4711")]),
            ip("192.0.2.1")
        );
        assert_eq!(
            resolve(t, &[("x-forwarded-for", "::ffff:192.0.2.1")]),
            ip("192.0.2.1")
        );
        assert_eq!(resolve(t, &[]), ip(PEER), "no header: the peer");
        assert_eq!(
            resolve(t, &[("x-forwarded-for", "10.0.0.7, 10.0.0.8")]),
            ip(PEER),
            "only proxies: the peer"
        );
    }

    #[test]
    fn anything_odd_falls_back_to_the_peer() {
        let t = "10.0.0.0/8";
        for bad in [
            "a",
            "",
            " ",
            "203.0.113.9,",
            "203.0.113.9,,10.0.0.1",
            "1.1.1.1, garbage",
            "203.0.113.9 10.0.0.1",
            "999.1.1.1",
            "fe80::1%eth0",
            "[2001:db8::1]x",
            "192.0.2.1:99999999",
            "unknown",
        ] {
            assert_eq!(
                resolve(t, &[("x-forwarded-for", bad)]),
                ip(PEER),
                "X-Forwarded-For: {bad:?}"
            );
        }
        for bad in [
            "for=unknown",
            "for=_hidden",
            "for=\"_SEVKISEK\"",
            "by=10.0.0.1",
            "for=192.0.2.1;for=192.0.2.2",
            "for=\"192.0.2.1",
            "for=192.0.2.1\"",
            "for=1.1.1.1, for",
            "for=1.1.1.1, garbage",
            "1.2.3.4",
            "for=\"[2001:db8::1]:80\"x",
        ] {
            assert_eq!(resolve(t, &[("forwarded", bad)]), ip(PEER), "Forwarded: {bad:?}");
        }
        // A garbage entry to the right of a good one: the good one is never reached.
        assert_eq!(
            resolve(t, &[("x-forwarded-for", "203.0.113.9, nonsense")]),
            ip(PEER)
        );
        // A non-text line spoils the list.
        let mut h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        h.append("x-forwarded-for", HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(
            client_ip(ip(PEER), &h, &trusted(t), ForwardedHeader::XForwardedFor),
            ip(PEER)
        );
    }

    #[test]
    fn quoted_strings_keep_their_commas() {
        assert_eq!(
            split_outside_quotes(r#"for="a,b";x=1, for=c"#, ','),
            vec![r#"for="a,b";x=1"#, " for=c"]
        );
        assert_eq!(unquote(r#""[::1]:80""#).as_deref(), Some("[::1]:80"));
        assert_eq!(unquote(r#""a\"b""#).as_deref(), Some("a\"b"));
        assert_eq!(unquote(r#""a"b""#), None);
    }

    proptest! {
        /// Whatever the headers say: no panic, an untrusted peer is always its own answer, and
        /// the answer is never a trusted proxy other than the peer itself.
        #[test]
        fn never_panics_nor_answers_a_proxy(
            fwd in proptest::option::of(".{0,80}"),
            xff in proptest::option::of("[0-9a-f:.,\\[\\] \"=;_]{0,80}"),
            peer_trusted in any::<bool>(),
        ) {
            let t = trusted("10.0.0.0/8, 2001:db8::/32");
            let peer = if peer_trusted { ip("10.9.9.9") } else { ip("198.51.100.7") };
            let mut h = HeaderMap::new();
            if let Some(v) = fwd.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                h.insert(FORWARDED, v);
            }
            if let Some(v) = xff.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                h.insert("x-forwarded-for", v);
            }
            for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
                let got = client_ip(peer, &h, &t, header);
                if !peer_trusted {
                    prop_assert_eq!(got, peer);
                }
                prop_assert!(got == peer || !t.contains(got));
            }
        }

        /// A well-formed chain from trusted proxies yields its rightmost untrusted entry.
        #[test]
        fn rightmost_untrusted_entry_wins(
            client in any::<std::net::Ipv4Addr>(),
            spoofed in proptest::collection::vec(any::<std::net::Ipv4Addr>(), 0..4),
            hops in proptest::collection::vec(0u8..=255, 0..4),
        ) {
            let t = trusted("10.0.0.0/8");
            prop_assume!(!t.contains(IpAddr::V4(client)));
            let mut chain: Vec<String> = spoofed.iter().map(|a| a.to_string()).collect();
            chain.push(client.to_string());
            chain.extend(hops.iter().map(|h| format!("10.0.0.{h}")));
            let h = headers(&[("x-forwarded-for", &chain.join(", "))]);
            prop_assert_eq!(client_ip(ip("10.0.0.1"), &h, &t, ForwardedHeader::XForwardedFor), IpAddr::V4(client));
            let fwd: Vec<String> = chain.iter().map(|a| format!("for={a}")).collect();
            let h = headers(&[("forwarded", &fwd.join(", "))]);
            prop_assert_eq!(client_ip(ip("10.0.0.1"), &h, &t, ForwardedHeader::Forwarded), IpAddr::V4(client));
        }
    }
}
