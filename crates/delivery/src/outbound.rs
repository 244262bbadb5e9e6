//! Where outbound connections may go: the rule that keeps provider URLs, webhooks and SMTP
//! hosts, all chosen by tenant admins, from reaching the server's own network (SSRF).
//!
//! A destination is allowed when **every** address its host resolves to is public unicast.
//! Loopback, private, link-local (cloud metadata at 169.254.169.254), shared (CGNAT),
//! unspecified, multicast, broadcast, documentation, benchmarking and other special-purpose
//! addresses are refused, and so are IPv6 forms that carry one of them (IPv4-mapped,
//! IPv4-compatible, NAT64, 6to4). The ranges are IANA's special-purpose address registries
//! (RFC 6890 and its updates), cited one by one below; the rule follows OWASP's SSRF
//! Prevention Cheat Sheet and ASVS 5.0 V1.3.6 (CWE-918).
//!
//! The check is made on the addresses connected to, not on a name: [`Outbound`] is the HTTP
//! client's DNS resolver and the SMTP sender's, and hands on only addresses it checked, so
//! a name that resolves to a public address for a check and a private one for the connection
//! (DNS rebinding) cannot slip through. IP-literal hosts never reach a resolver, so the
//! senders check those themselves before connecting ([`Outbound::check_url`]).
//!
//! An operator whose providers live on an internal network (or tests, whose stand-ins are on
//! loopback) turns the rule off with [`Destinations::AllowPrivate`].

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

/// Which destinations outbound requests may reach. The server's
/// `allow_private_destinations` setting picks one for every outbound request it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Destinations {
    /// Only public unicast addresses (the default).
    #[default]
    PublicOnly,
    /// Anything, loopback and private networks included.
    AllowPrivate,
}

impl Destinations {
    pub fn from_allow_private(allow: bool) -> Self {
        if allow {
            Destinations::AllowPrivate
        } else {
            Destinations::PublicOnly
        }
    }
}

/// Why `ip` is not a public destination, or `None` when it is.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

/// IPv4 special-purpose blocks (IANA IPv4 Special-Purpose Address Registry, RFC 6890), plus
/// multicast and the rest of class E. The first match names the reason, so the broadcast
/// address comes before the reserved block that contains it.
const V4_BLOCKS: &[(Ipv4Addr, u8, &str)] = &[
    (
        Ipv4Addr::new(0, 0, 0, 0),
        8,
        "unspecified (\"this network\", RFC 1122)",
    ),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private (RFC 1918)"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared address space (CGNAT, RFC 6598)",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (RFC 1122)"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local (RFC 3927)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private (RFC 1918)"),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "IETF protocol assignment (RFC 6890)",
    ),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation (RFC 5737)"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast (RFC 7526)"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private (RFC 1918)"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking (RFC 2544)"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation (RFC 5737)"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation (RFC 5737)"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (RFC 5771)"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, "broadcast (RFC 919)"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved (RFC 1112)"),
];

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    V4_BLOCKS
        .iter()
        .find(|(net, len, _)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
            bits & mask == u32::from(*net)
        })
        .map(|(_, _, reason)| *reason)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    let in_block = |net: u128, len: u32| bits & u128::MAX.checked_shl(128 - len).unwrap_or(0) == net;
    let low_v4 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if ip.is_unspecified() {
        return Some("unspecified (RFC 4291)");
    }
    if ip.is_loopback() {
        return Some("loopback (RFC 4291)");
    }
    // Forms that carry an IPv4 address reach that address, so it decides; `::ffff:127.0.0.1`
    // is loopback however it is written.
    if in_block(0xffff_0000_0000, 96) {
        // IPv4-mapped (RFC 4291 §2.5.5.2).
        return v4_reason(low_v4);
    }
    if in_block(0x64_ff9b_u128 << 96, 96) {
        // NAT64 well-known prefix (RFC 6052): a public IPv4 behind it is fine.
        return v4_reason(low_v4);
    }
    if in_block(0, 96) {
        // IPv4-compatible (RFC 4291 §2.5.5.1): deprecated, never a provider's address.
        return Some(v4_reason(low_v4).unwrap_or("IPv4-compatible, deprecated (RFC 4291)"));
    }
    if in_block(0x2002_u128 << 112, 16) {
        // 6to4 (RFC 3056): the IPv4 address is bits 16 to 48.
        let v4 = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return v4_reason(v4);
    }
    if in_block(0x64_ff9b_0001_u128 << 80, 48) {
        return Some("local-use NAT64 (RFC 8215)");
    }
    // Everything public is global unicast, 2000::/3 (RFC 4291 §2.4); the rest is link-local,
    // unique-local, multicast, discard-only or not allocated.
    if !in_block(0x2000_u128 << 112, 3) {
        let reason = if in_block(0xfe80_u128 << 112, 10) {
            "link-local (RFC 4291)"
        } else if in_block(0xfc00_u128 << 112, 7) {
            "unique-local (RFC 4193)"
        } else if in_block(0xff00_u128 << 112, 8) {
            "multicast (RFC 4291)"
        } else if in_block(0xfec0_u128 << 112, 10) {
            "site-local, deprecated (RFC 3879)"
        } else {
            "not global unicast (RFC 4291)"
        };
        return Some(reason);
    }
    if in_block(0x2001_0db8_u128 << 96, 32) || in_block(0x3fff_u128 << 112, 20) {
        return Some("documentation (RFC 3849, RFC 9637)");
    }
    if in_block(0x2001_u128 << 112, 23) {
        // Teredo (which carries IPv4 addresses), benchmarking, ORCHID and other protocol
        // assignments: nothing a provider is reached at.
        return Some("IETF protocol assignment (RFC 2928)");
    }
    None
}

/// A destination the policy refuses; the text is for the server's log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("destination {ip} refused: {reason}")]
pub struct Refused {
    pub ip: IpAddr,
    pub reason: &'static str,
}

/// Why a host gave no usable address.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("name lookup failed: {0}")]
    Lookup(io::Error),
    #[error("the name has no address")]
    NoAddress,
}

/// The addresses a host name resolves to.
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;
/// A name lookup: the system's resolver, or a stand-in in tests.
pub type Lookup = Arc<dyn Fn(&str) -> LookupFuture + Send + Sync>;

/// The policy and the resolver every outbound connection goes through. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    destinations: Destinations,
    lookup: Lookup,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("destinations", &self.destinations)
            .finish_non_exhaustive()
    }
}

impl Outbound {
    /// The policy over the system's resolver (`getaddrinfo`, on a blocking thread).
    pub fn new(destinations: Destinations) -> Self {
        Self::with_lookup(destinations, Arc::new(system_lookup))
    }

    /// The policy over another lookup (tests; a future resolver of our own).
    pub fn with_lookup(destinations: Destinations, lookup: Lookup) -> Self {
        Self { destinations, lookup }
    }

    pub fn destinations(&self) -> Destinations {
        self.destinations
    }

    /// Whether one address may be connected to.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        match (self.destinations, non_public_reason(ip)) {
            (Destinations::PublicOnly, Some(reason)) => Err(Refused { ip, reason }),
            _ => Ok(()),
        }
    }

    /// Resolves `host` (a name or an IP literal, IPv6 with or without brackets) and returns
    /// its addresses when every one of them is allowed. One bad address refuses the whole
    /// host: a name that mixes public and internal addresses is not a provider's.
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => (self.lookup)(bare).await.map_err(ResolveError::Lookup)?,
        };
        if addrs.is_empty() {
            return Err(ResolveError::NoAddress);
        }
        for ip in &addrs {
            self.check(*ip)?;
        }
        Ok(addrs)
    }

    /// For a URL whose host is an IP literal, the check the resolver would have made: HTTP
    /// clients connect to literals without asking a resolver. Names pass here; the resolver
    /// checks them when the connection is made.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        // The URL parser has already normalised every IPv4 spelling (`127.1`, `0x7f000001`,
        // `2130706433`) to dotted decimal, so parsing the host text catches them all.
        let host = url.host_str().unwrap_or_default();
        match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => self.check(ip),
            Err(_) => Ok(()),
        }
    }
}

fn system_lookup(host: &str) -> LookupFuture {
    let host = host.to_owned();
    Box::pin(async move {
        let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for addr in addrs {
            if !ips.contains(&addr.ip()) {
                ips.push(addr.ip());
            }
        }
        Ok(ips)
    })
}

/// The HTTP client's resolver: reqwest connects to exactly the addresses returned here, so
/// the address checked is the address connected to. Port 0 tells reqwest to use the URL's.
impl reqwest::dns::Resolve for Outbound {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // A refusal travels as itself, so the sender can tell it from a lookup failure.
            let ips = this.resolve_host(&host).await.map_err(|e| match e {
                ResolveError::Refused(r) => Box::new(r) as Box<dyn std::error::Error + Send + Sync>,
                other => Box::new(other),
            })?;
            let addrs: reqwest::dns::Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A problem for a configuration whose URL or host names an internal destination that can
/// be recognised without a lookup: an IP literal, or `localhost` and its subdomains (which
/// resolve to loopback, RFC 6761 §6.3). Other names are not resolved here, where the answer
/// would tell a tenant admin which internal names exist; they are checked at every send.
pub(crate) fn config_problem(destinations: Destinations, field: &str, host: &str) -> Option<String> {
    if destinations == Destinations::AllowPrivate {
        return None;
    }
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let internal = match bare.parse::<IpAddr>() {
        Ok(ip) => non_public_reason(ip).is_some(),
        Err(_) => bare == "localhost" || bare.ends_with(".localhost"),
    };
    internal.then(|| {
        format!(
            "{field} must not point at a loopback, private or other internal address \
             (the server's operator can allow that with allow_private_destinations)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn reason(text: &str) -> Option<&'static str> {
        non_public_reason(text.parse().unwrap())
    }

    #[test]
    fn ipv4_table() {
        for (addr, public) in [
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("10.0.0.1", false),
            ("10.255.255.255", false),
            ("100.63.255.255", true),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("100.128.0.0", true),
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("169.254.169.254", false),
            ("169.254.0.1", false),
            ("172.15.255.255", true),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("172.32.0.0", true),
            ("192.0.0.8", false),
            ("192.0.2.10", false),
            ("192.88.99.1", false),
            ("192.167.255.255", true),
            ("192.168.1.1", false),
            ("192.169.0.0", true),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("198.20.0.0", true),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("224.0.0.1", false),
            ("239.255.255.250", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            ("1.1.1.1", true),
            ("8.8.8.8", true),
            ("52.94.236.248", true),
            ("223.255.255.255", true),
        ] {
            assert_eq!(reason(addr).is_none(), public, "{addr}: {:?}", reason(addr));
        }
        assert_eq!(reason("169.254.169.254"), Some("link-local (RFC 3927)"));
        assert_eq!(reason("255.255.255.255"), Some("broadcast (RFC 919)"));
    }

    #[test]
    fn ipv6_table() {
        for (addr, public) in [
            ("::", false),
            ("::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:0.0.0.0", false),
            ("::ffff:8.8.8.8", true),
            ("::127.0.0.1", false),
            ("::8.8.8.8", false),
            ("64:ff9b::10.0.0.1", false),
            ("64:ff9b::8.8.8.8", true),
            ("64:ff9b:1::1", false),
            ("2002:7f00:1::", false),
            ("2002:a9fe:a9fe::1", false),
            ("2002:0808:0808::1", true),
            ("fe80::1", false),
            ("febf::1", false),
            ("fec0::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("ff02::1", false),
            ("100::1", false),
            ("2001::1", false),
            ("2001:2::1", false),
            ("2001:db8::1", false),
            ("3fff::1", false),
            ("4000::1", false),
            ("2001:4860:4860::8888", true),
            ("2606:4700:4700::1111", true),
            ("2a00:1450:4001::1", true),
        ] {
            assert_eq!(reason(addr).is_none(), public, "{addr}: {:?}", reason(addr));
        }
        assert_eq!(reason("::ffff:127.0.0.1"), reason("127.0.0.1"));
    }

    /// SplitMix64: a fixed pseudo-random sequence, so the sweeps below are repeatable.
    fn sequence(seed: u64) -> impl Iterator<Item = u64> {
        let mut state = seed;
        std::iter::repeat_with(move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
    }

    #[test]
    fn every_ipv6_form_of_an_ipv4_address_gets_its_verdict() {
        for n in sequence(1).take(200_000) {
            let v4 = Ipv4Addr::from(n as u32);
            let expected = v4_reason(v4);
            let mapped = IpAddr::V6(v4.to_ipv6_mapped());
            assert_eq!(non_public_reason(mapped), expected, "{mapped}");
            let nat64 = Ipv6Addr::from((0x64_ff9b_u128 << 96) | u128::from(u32::from(v4)));
            assert_eq!(non_public_reason(IpAddr::V6(nat64)), expected, "{nat64}");
            let six_to_four = Ipv6Addr::from(
                (0x2002_u128 << 112) | (u128::from(u32::from(v4)) << 80) | u128::from(n >> 40),
            );
            assert_eq!(
                non_public_reason(IpAddr::V6(six_to_four)),
                expected,
                "{six_to_four}"
            );
            if expected.is_some() {
                let compatible = IpAddr::V6(v4.to_ipv6_compatible());
                assert!(non_public_reason(compatible).is_some(), "{compatible}");
            }
        }
    }

    #[test]
    fn every_address_inside_a_refused_block_is_refused() {
        let mut random = sequence(2);
        for (net, len, reason) in V4_BLOCKS {
            for _ in 0..2_000 {
                let host_bits = (random.next().unwrap() as u32)
                    .checked_shr(u32::from(*len))
                    .unwrap_or(0);
                let ip = Ipv4Addr::from(u32::from(*net) | host_bits);
                let got = v4_reason(ip);
                assert!(got.is_some(), "{ip} in {net}/{len}");
                if *len < 32 && *net != Ipv4Addr::new(240, 0, 0, 0) {
                    assert_eq!(got, Some(*reason), "{ip}");
                }
            }
        }
        // Outside 2000::/3 nothing is public, whatever the low bits.
        for n in sequence(3).take(100_000) {
            let high = u128::from(n) << 64 | u128::from(n.rotate_left(17));
            let ip = Ipv6Addr::from(high);
            let global = (high >> 125) == 1;
            let carries_v4 = high >> 32 == 0xffff || high >> 32 == 0x64_ff9b_u128 << 64;
            if !global && !carries_v4 {
                assert!(v6_reason(ip).is_some(), "{ip}");
            }
        }
    }

    fn outbound(destinations: Destinations, answers: Vec<Vec<&'static str>>) -> (Outbound, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let lookup: Lookup = Arc::new(move |_host: &str| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let ips: Vec<IpAddr> = answers[n.min(answers.len() - 1)]
                .iter()
                .map(|a| a.parse().unwrap())
                .collect();
            Box::pin(async move { Ok(ips) })
        });
        (Outbound::with_lookup(destinations, lookup), calls)
    }

    /// What the HTTP client's connector receives for `host`.
    async fn resolve_via_reqwest(o: &Outbound, host: &str) -> Result<Vec<SocketAddr>, String> {
        match reqwest::dns::Resolve::resolve(o, host.parse().unwrap()).await {
            Ok(addrs) => Ok(addrs.collect()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[tokio::test]
    async fn a_rebinding_name_is_refused_on_the_lookup_that_would_connect() {
        // First lookup public, second private: the second connection attempt is refused,
        // because the addresses handed to the connector are the ones just checked.
        let (o, calls) = outbound(
            Destinations::PublicOnly,
            vec![vec!["93.184.216.34"], vec!["169.254.169.254"]],
        );
        assert_eq!(
            resolve_via_reqwest(&o, "gw.example").await.unwrap(),
            ["93.184.216.34:0".parse::<SocketAddr>().unwrap()]
        );
        let err = resolve_via_reqwest(&o, "gw.example").await.unwrap_err();
        assert!(
            err.contains("169.254.169.254") && err.contains("link-local"),
            "{err}"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "one lookup per connection, no cache"
        );
    }

    #[tokio::test]
    async fn one_internal_address_refuses_the_whole_name() {
        let (o, _) = outbound(
            Destinations::PublicOnly,
            vec![vec!["93.184.216.34", "10.0.0.7", "2606:4700:4700::1111"]],
        );
        let err = o.resolve_host("gw.example").await.unwrap_err();
        assert!(matches!(
            err,
            ResolveError::Refused(Refused {
                reason: "private (RFC 1918)",
                ..
            })
        ));
        let (o, _) = outbound(Destinations::PublicOnly, vec![vec![]]);
        assert!(matches!(
            o.resolve_host("gw.example").await,
            Err(ResolveError::NoAddress)
        ));
    }

    #[tokio::test]
    async fn allowing_private_destinations_passes_everything_through() {
        let (o, _) = outbound(Destinations::AllowPrivate, vec![vec!["127.0.0.1", "::1"]]);
        assert_eq!(
            resolve_via_reqwest(&o, "gw.example").await.unwrap(),
            [
                "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
                "[::1]:0".parse().unwrap()
            ]
        );
    }

    #[tokio::test]
    async fn literals_are_checked_without_a_lookup() {
        let (o, calls) = outbound(Destinations::PublicOnly, vec![vec!["93.184.216.34"]]);
        for host in ["127.0.0.1", "[::1]", "::ffff:10.0.0.1", "0.0.0.0"] {
            assert!(o.resolve_host(host).await.is_err(), "{host}");
        }
        assert_eq!(
            o.resolve_host("8.8.8.8").await.unwrap(),
            ["8.8.8.8".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        for (url, ok) in [
            ("http://127.0.0.1:8080/x", false),
            ("http://127.1/", false),
            ("http://2130706433/", false),
            ("http://0x7f.0.0.1/", false),
            ("http://[::1]:9000/", false),
            ("http://[::ffff:7f00:1]/", false),
            ("http://169.254.169.254/latest/meta-data/", false),
            ("http://0/", false),
            ("https://8.8.8.8/", true),
            ("https://localhost/", true), // a name: the resolver checks it
            ("https://api.twilio.com/", true),
        ] {
            let url = reqwest::Url::parse(url).unwrap();
            assert_eq!(o.check_url(&url).is_ok(), ok, "{url}");
        }
    }

    #[tokio::test]
    async fn the_system_resolver_sees_localhost_as_loopback() {
        let o = Outbound::new(Destinations::PublicOnly);
        let err = o.resolve_host("localhost").await.unwrap_err();
        assert!(matches!(err, ResolveError::Refused(_)), "{err}");
    }

    #[test]
    fn configurations_name_literal_and_localhost_destinations() {
        let refuse = |host: &str| config_problem(Destinations::PublicOnly, "url", host).is_some();
        for host in [
            "127.0.0.1",
            "[::1]",
            "::1",
            "10.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "localhost",
            "LOCALHOST.",
            "a.localhost",
        ] {
            assert!(refuse(host), "{host}");
        }
        for host in [
            "api.twilio.com",
            "8.8.8.8",
            "localhost.example.com",
            "[2606:4700:4700::1111]",
        ] {
            assert!(!refuse(host), "{host}");
        }
        assert_eq!(
            config_problem(Destinations::AllowPrivate, "url", "127.0.0.1"),
            None
        );
    }
}
