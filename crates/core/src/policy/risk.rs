//! Adaptive MFA (nauth's `ADAPTIVE` enforcement): how risky a sign-in with the right
//! password looks, as a score from 0 to 100 with the named reasons that made it, and what
//! the tenant's thresholds make of that score (allow, ask for a second factor, refuse).
//!
//! Pure: the caller brings this attempt's facts (its time, the client's network prefix, the
//! place a GeoIP database put the address in, whether the device is one seen before) and
//! the user's recent sign-in history; nothing here reads a clock, a database or a file.
//!
//! **Signals** and their points (summed, capped at 100):
//!
//! | reason | points | when |
//! |---|---|---|
//! | `new_device` | 10 | no remembered-device token was presented |
//! | `new_network` | 20 | the address's prefix (IPv4 /24, IPv6 /48) is in none of the user's recent successful sign-ins |
//! | `new_country` | 30 | a GeoIP country none of the user's recent successful sign-ins had (only when some had one) |
//! | `impossible_travel` | 40 | from the last successful sign-in with a location, faster than 900 km/h over more than 500 km (after taking both places' accuracy radii off the distance) |
//! | `recent_failures` | 15 or 30 | 3 or more (30 points: 10 or more) failed passwords (since the account's last successful password, within the password throttle's hour) and second factors (in the last hour) on the account |
//! | `velocity` | 20 | 5 or more sign-ins with the right password in the last 10 minutes |
//!
//! **No history.** A user with no successful sign-in in the history window (a new account,
//! or a tenant that has just turned adaptive on) has nothing to compare a device, network,
//! country or location with: those signals stay silent, the reason `no_history` (0 points)
//! says so, and only failures and velocity count. A new account is not treated as the
//! riskiest sign-in there is; its first sign-in becomes the baseline. (Whether a second
//! factor is asked for then is the MFA policy's business, not this module's.)

use crate::clock::UnixMillis;
use std::net::IpAddr;

/// How far back successful sign-ins count as the user's usual networks, countries and
/// places; and how long they are kept.
pub const HISTORY_WINDOW_MS: i64 = 90 * 86_400_000;
/// How many successful sign-ins per user are kept and compared with.
pub const HISTORY_SUCCESSES: u32 = 50;
/// How long other records (failures, challenges, refusals) are kept: longer than any
/// window below looks back.
pub const OTHERS_KEPT_MS: i64 = 86_400_000;
/// How many other records per user are kept (and read) at most.
pub const HISTORY_OTHERS: u32 = 200;
/// Failures count for this long.
pub const FAILURE_WINDOW_MS: i64 = 3_600_000;
/// Sign-ins count towards velocity for this long.
pub const VELOCITY_WINDOW_MS: i64 = 600_000;
/// Faster than this between two sign-ins is impossible travel (a little above an
/// airliner's cruising speed).
pub const MAX_TRAVEL_KMH: f64 = 900.0;
/// Closer than this (after the accuracy radii) is never impossible travel: GeoIP places
/// the same client in nearby cities from one day to the next.
pub const MIN_TRAVEL_KM: f64 = 500.0;

/// Why a sign-in scored what it did. The string forms are stable: they are stored with
/// the sign-in, written into the `signin` audit event and documented (docs/policy.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The user has no successful sign-in to compare with (0 points).
    NoHistory,
    NewDevice,
    NewNetwork,
    NewCountry,
    ImpossibleTravel,
    /// 3 to 9 failures in the window.
    RecentFailures,
    /// 10 or more failures in the window.
    ManyRecentFailures,
    Velocity,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoHistory => "no_history",
            Reason::NewDevice => "new_device",
            Reason::NewNetwork => "new_network",
            Reason::NewCountry => "new_country",
            Reason::ImpossibleTravel => "impossible_travel",
            Reason::RecentFailures => "recent_failures",
            Reason::ManyRecentFailures => "many_recent_failures",
            Reason::Velocity => "velocity",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        [
            Reason::NoHistory,
            Reason::NewDevice,
            Reason::NewNetwork,
            Reason::NewCountry,
            Reason::ImpossibleTravel,
            Reason::RecentFailures,
            Reason::ManyRecentFailures,
            Reason::Velocity,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// The points this reason adds.
    pub fn points(self) -> u32 {
        match self {
            Reason::NoHistory => 0,
            Reason::NewDevice => 10,
            Reason::NewNetwork => 20,
            Reason::NewCountry => 30,
            Reason::ImpossibleTravel => 40,
            Reason::RecentFailures => 15,
            Reason::ManyRecentFailures => 30,
            Reason::Velocity => 20,
        }
    }
}

/// Coordinates from a GeoIP database, with its accuracy radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coords {
    pub lat: f64,
    pub lon: f64,
    /// How far off the place may be (MaxMind's `accuracy_radius`), in km; 0 if unknown.
    pub accuracy_km: f64,
}

/// Where a GeoIP database puts an address; empty without a database or for an address it
/// does not know (private ranges, loopback).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub coords: Option<Coords>,
}

/// Where an address is: a GeoIP database behind a trait, so the server reads a MaxMind
/// file and a test can hand in its own (`server::geoip`).
pub trait GeoLookup: Send + Sync {
    /// The place of `ip`; empty when the database does not know it.
    fn locate(&self, ip: IpAddr) -> Place;
}

/// How an earlier sign-in attempt of the user ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PastOutcome {
    /// Signed in: by password alone, or with the second factor it was asked for.
    Success,
    /// The password was right and a second factor (or its enrollment) was asked for, not
    /// (yet) given. Not a baseline: whoever has the password gets this far.
    Challenged,
    /// A wrong second factor. (Wrong passwords are not recorded: the password throttle
    /// counts them, for known and unknown accounts alike, so a sign-in's timing does not
    /// tell the one from the other; see `Attempt::password_failures`.)
    MfaFailed,
    /// Refused by its risk.
    Denied,
}

impl PastOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PastOutcome::Success => "success",
            PastOutcome::Challenged => "challenged",
            PastOutcome::MfaFailed => "mfa_failed",
            PastOutcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<PastOutcome> {
        [
            PastOutcome::Success,
            PastOutcome::Challenged,
            PastOutcome::MfaFailed,
            PastOutcome::Denied,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// The password was right (whatever followed).
    fn passed_password(self) -> bool {
        matches!(
            self,
            PastOutcome::Success | PastOutcome::Challenged | PastOutcome::Denied
        )
    }
}

/// One earlier attempt, as far as risk cares.
#[derive(Debug, Clone, PartialEq)]
pub struct PastSignIn {
    pub at: UnixMillis,
    /// The client's network prefix (`network_prefix`), if the address was known.
    pub network: Option<String>,
    pub place: Place,
    pub outcome: PastOutcome,
}

/// The sign-in being assessed.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub now: UnixMillis,
    pub network: Option<String>,
    pub place: Place,
    /// A remembered-device token of this user was presented.
    pub known_device: bool,
    /// Wrong passwords for this account since its last successful one (the password
    /// throttle's count, which forgets them after an hour without attempts).
    pub password_failures: u32,
}

/// A score from 0 to 100 and the reasons behind it, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub score: u32,
    pub reasons: Vec<Reason>,
}

impl Assessment {
    fn of(mut reasons: Vec<Reason>) -> Self {
        reasons.sort();
        reasons.dedup();
        let score = reasons.iter().map(|r| r.points()).sum::<u32>().min(100);
        Self { score, reasons }
    }

    /// The reasons as stored and audited: `new_country,new_network`, or empty.
    pub fn reasons_text(&self) -> String {
        self.reasons
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What the tenant's thresholds make of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskDecision {
    Allow,
    /// Ask for a second factor as if MFA were required for this sign-in.
    RequireMfa,
    Deny,
}

/// The network an address belongs to, as compared between sign-ins: the IPv4 /24 or the
/// IPv6 /48 (a site's allocation; one home or office, a mobile carrier's pool), written as
/// a CIDR. An IPv4-mapped IPv6 address counts as the IPv4 address it carries.
pub fn network_prefix(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_prefix(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
                format!("{net}/48")
            }
        },
    }
}

/// The great-circle distance between two points in km (haversine, on a sphere of the
/// Earth's mean radius; a few tenths of a percent off the ellipsoid, which is plenty here).
pub fn distance_km(a: &Coords, b: &Coords) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Whether going from `from` (at `from_at`) to `to` (at `to_at`) is faster than anyone
/// travels. The accuracy radii come off the distance first, so two vague places are not
/// far apart merely because their centres are.
pub fn impossible_travel(from: &Coords, from_at: UnixMillis, to: &Coords, to_at: UnixMillis) -> bool {
    let km = distance_km(from, to) - from.accuracy_km.max(0.0) - to.accuracy_km.max(0.0);
    if km <= MIN_TRAVEL_KM {
        return false;
    }
    // A minute at least: two sign-ins in the same instant are not infinitely fast, just
    // as impossible as any other over this distance.
    let hours = ((to_at - from_at).max(60_000)) as f64 / 3_600_000.0;
    km / hours > MAX_TRAVEL_KMH
}

/// Scores `attempt` against the user's `history` (any order; records outside the windows
/// are ignored).
pub fn assess(attempt: &Attempt, history: &[PastSignIn]) -> Assessment {
    let now = attempt.now;
    let mut reasons = Vec::new();
    let baseline: Vec<&PastSignIn> = history
        .iter()
        .filter(|p| p.outcome == PastOutcome::Success && p.at <= now && now - p.at <= HISTORY_WINDOW_MS)
        .collect();
    if baseline.is_empty() {
        reasons.push(Reason::NoHistory);
    } else {
        if !attempt.known_device {
            reasons.push(Reason::NewDevice);
        }
        if let Some(net) = &attempt.network {
            if !baseline.iter().any(|p| p.network.as_ref() == Some(net)) {
                reasons.push(Reason::NewNetwork);
            }
        }
        // Countries are compared only once some earlier sign-in had one: without a GeoIP
        // database then, every country would be new.
        if let Some(country) = &attempt.place.country {
            let mut known = baseline
                .iter()
                .filter_map(|p| p.place.country.as_ref())
                .peekable();
            if known.peek().is_some() && !known.any(|c| c == country) {
                reasons.push(Reason::NewCountry);
            }
        }
        if let Some(here) = &attempt.place.coords {
            let last = baseline
                .iter()
                .filter_map(|p| p.place.coords.as_ref().map(|c| (p.at, c)))
                .max_by_key(|(at, _)| *at);
            if let Some((at, there)) = last {
                if impossible_travel(there, at, here, now) {
                    reasons.push(Reason::ImpossibleTravel);
                }
            }
        }
    }
    let within = |p: &&PastSignIn, window: i64| p.at <= now && now - p.at <= window;
    let second_factor_failures = history
        .iter()
        .filter(|p| p.outcome == PastOutcome::MfaFailed && within(p, FAILURE_WINDOW_MS))
        .count();
    let failures = second_factor_failures.saturating_add(attempt.password_failures as usize);
    if failures >= 10 {
        reasons.push(Reason::ManyRecentFailures);
    } else if failures >= 3 {
        reasons.push(Reason::RecentFailures);
    }
    let recent = history
        .iter()
        .filter(|p| p.outcome.passed_password() && within(p, VELOCITY_WINDOW_MS))
        .count();
    if recent >= 5 {
        reasons.push(Reason::Velocity);
    }
    Assessment::of(reasons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PastOutcome::*;
    use Reason::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;
    const NOW: i64 = 1_800_000_000_000;

    const BERLIN: Coords = Coords {
        lat: 52.52,
        lon: 13.40,
        accuracy_km: 20.0,
    };
    const PARIS: Coords = Coords {
        lat: 48.86,
        lon: 2.35,
        accuracy_km: 20.0,
    };
    const SYDNEY: Coords = Coords {
        lat: -33.87,
        lon: 151.21,
        accuracy_km: 50.0,
    };
    const POTSDAM: Coords = Coords {
        lat: 52.39,
        lon: 13.06,
        accuracy_km: 20.0,
    };

    fn place(country: &str, coords: Coords) -> Place {
        Place {
            country: Some(country.into()),
            coords: Some(coords),
        }
    }

    fn past(ago: i64, net: &str, place: Place, outcome: PastOutcome) -> PastSignIn {
        PastSignIn {
            at: NOW - ago,
            network: Some(net.into()),
            place,
            outcome,
        }
    }

    fn attempt(net: &str, place: Place) -> Attempt {
        Attempt {
            now: NOW,
            network: Some(net.into()),
            place,
            known_device: true,
            password_failures: 0,
        }
    }

    /// The usual: signed in from Berlin on one network a day ago.
    fn home() -> Vec<PastSignIn> {
        vec![past(DAY, "198.51.100.0/24", place("DE", BERLIN), Success)]
    }

    /// A row of the table: name, attempt, history, expected score and reasons.
    type Case = (&'static str, Attempt, Vec<PastSignIn>, u32, Vec<Reason>);

    #[test]
    fn signals_table() {
        let de = || place("DE", BERLIN);
        let failures = |n: usize, outcome: PastOutcome, ago: i64| {
            (0..n)
                .map(|_| past(ago, "203.0.113.0/24", Place::default(), outcome))
                .collect::<Vec<_>>()
        };
        let with = |extra: Vec<PastSignIn>| home().into_iter().chain(extra).collect::<Vec<_>>();
        let wrong_passwords = |n: u32| Attempt {
            password_failures: n,
            ..attempt("198.51.100.0/24", de())
        };
        let unknown_device = Attempt {
            known_device: false,
            ..attempt("198.51.100.0/24", de())
        };
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("the usual", attempt("198.51.100.0/24", de()), home(), 0, vec![]),
            ("an unknown device", unknown_device, home(), 10, vec![NewDevice]),
            ("a new network, same city", attempt("192.0.2.0/24", de()), home(), 20, vec![NewNetwork]),
            ("no address at all", Attempt { network: None, ..attempt("x", de()) }, home(), 0, vec![]),
            ("a nearby city, same network", attempt("198.51.100.0/24", place("DE", POTSDAM)), home(), 0, vec![]),
            ("Paris an hour later: new country, not impossible",
                attempt("192.0.2.0/24", place("FR", PARIS)),
                vec![past(2 * HOUR, "198.51.100.0/24", place("DE", BERLIN), Success)],
                50, vec![NewNetwork, NewCountry]),
            ("Paris ten minutes later: impossible travel",
                attempt("192.0.2.0/24", place("FR", PARIS)),
                vec![past(10 * MIN, "198.51.100.0/24", place("DE", BERLIN), Success)],
                90, vec![NewNetwork, NewCountry, ImpossibleTravel]),
            ("Sydney a day later: a flight of 16,000 km in 24 h is 670 km/h",
                attempt("192.0.2.0/24", place("AU", SYDNEY)), home(), 50, vec![NewNetwork, NewCountry]),
            ("Sydney three hours later, everything new at once: capped at 100",
                Attempt { known_device: false, ..attempt("192.0.2.0/24", place("AU", SYDNEY)) },
                vec![past(3 * HOUR, "198.51.100.0/24", place("DE", BERLIN), Success)],
                100, vec![NewDevice, NewNetwork, NewCountry, ImpossibleTravel]),
            ("a country, but no earlier sign-in had one (no GeoIP then)",
                attempt("198.51.100.0/24", de()),
                vec![past(DAY, "198.51.100.0/24", Place::default(), Success)], 0, vec![]),
            ("travel is measured from the last sign-in with a place",
                attempt("198.51.100.0/24", place("DE", BERLIN)),
                vec![past(10 * MIN, "198.51.100.0/24", Place::default(), Success),
                     past(2 * DAY, "198.51.100.0/24", place("DE", BERLIN), Success),
                     past(3 * DAY, "198.51.100.0/24", place("AU", SYDNEY), Success)],
                0, vec![]),
            ("a challenged sign-in from elsewhere is no baseline",
                attempt("192.0.2.0/24", place("FR", PARIS)),
                with(vec![past(HOUR, "192.0.2.0/24", place("FR", PARIS), Challenged)]),
                50, vec![NewNetwork, NewCountry]),
            ("a success older than the window is no baseline",
                attempt("198.51.100.0/24", de()),
                vec![past(91 * DAY, "198.51.100.0/24", place("DE", BERLIN), Success)],
                0, vec![NoHistory]),
            ("two failures are nothing", attempt("198.51.100.0/24", de()), with(failures(2, MfaFailed, MIN)), 0, vec![]),
            ("three failures", attempt("198.51.100.0/24", de()), with(failures(3, MfaFailed, MIN)), 15, vec![RecentFailures]),
            ("wrong passwords count too", wrong_passwords(2), with(failures(1, MfaFailed, MIN)), 15, vec![RecentFailures]),
            ("wrong passwords alone", wrong_passwords(3), home(), 15, vec![RecentFailures]),
            ("ten failures", attempt("198.51.100.0/24", de()), with(failures(10, MfaFailed, MIN)), 30, vec![ManyRecentFailures]),
            ("ten, some of each", wrong_passwords(4), with(failures(6, MfaFailed, MIN)), 30, vec![ManyRecentFailures]),
            ("failures over an hour ago are forgotten", attempt("198.51.100.0/24", de()),
                with(failures(10, MfaFailed, HOUR + MIN)), 0, vec![]),
            ("five sign-ins in ten minutes", attempt("198.51.100.0/24", de()),
                with([failures(4, Challenged, MIN), failures(1, Denied, MIN)].concat()), 20, vec![Velocity]),
            ("four are not", attempt("198.51.100.0/24", de()), with(failures(4, Success, MIN)), 0, vec![]),
            ("sign-ins beyond the velocity window", attempt("198.51.100.0/24", de()),
                with(failures(6, Challenged, 11 * MIN)), 0, vec![]),
            ("failures do not count as velocity", attempt("198.51.100.0/24", de()),
                with(failures(5, MfaFailed, MIN)), 15, vec![RecentFailures]),
        ];
        for (name, attempt, history, score, reasons) in cases {
            let got = assess(&attempt, &history);
            assert_eq!(got.reasons, reasons, "{name}");
            assert_eq!(got.score, score, "{name}");
        }
    }

    /// A new account (or a tenant that just turned adaptive on) is not the riskiest
    /// sign-in there is: nothing to compare with, so only failures and velocity count.
    #[test]
    fn no_history_is_not_maximal_risk() {
        let first = Attempt {
            known_device: false,
            ..attempt("192.0.2.0/24", place("AU", SYDNEY))
        };
        let got = assess(&first, &[]);
        assert_eq!(got.reasons, vec![NoHistory]);
        assert_eq!(got.score, 0);
        let failures: Vec<PastSignIn> = (0..3)
            .map(|_| past(MIN, "192.0.2.0/24", Place::default(), MfaFailed))
            .collect();
        let got = assess(&first, &failures);
        assert_eq!(got.reasons, vec![NoHistory, RecentFailures]);
        assert_eq!(got.score, 15);
        assert_eq!(got.reasons_text(), "no_history,recent_failures");
    }

    #[test]
    fn prefixes() {
        let p = |s: &str| network_prefix(s.parse().unwrap());
        assert_eq!(p("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(p("2001:db8:abcd:12::1"), "2001:db8:abcd::/48");
        assert_eq!(p("::ffff:203.0.113.77"), "203.0.113.0/24");
        assert_eq!(p("::1"), "::/48");
    }

    #[test]
    fn distances() {
        // Berlin–Paris is about 878 km; Berlin–Sydney about 16,090 km.
        let d = distance_km(&BERLIN, &PARIS);
        assert!((d - 878.0).abs() < 5.0, "{d}");
        let d = distance_km(&BERLIN, &SYDNEY);
        assert!((d - 16_090.0).abs() < 50.0, "{d}");
        assert!(distance_km(&BERLIN, &BERLIN).abs() < 1e-9);
        // Antipodes: no NaN from rounding past 1.
        let a = Coords {
            lat: 0.0,
            lon: 0.0,
            accuracy_km: 0.0,
        };
        let b = Coords {
            lat: 0.0,
            lon: 180.0,
            accuracy_km: 0.0,
        };
        assert!((distance_km(&a, &b) - 20_015.0).abs() < 5.0);
        // Accuracy radii come off the distance: two vague places 600 km apart are not.
        let vague = |c: Coords| Coords {
            accuracy_km: 100.0,
            ..c
        };
        assert!(impossible_travel(&BERLIN, NOW - MIN, &PARIS, NOW));
        assert!(
            impossible_travel(&vague(BERLIN), NOW - MIN, &vague(PARIS), NOW),
            "878 km less 200 km"
        );
        let warsaw = Coords {
            lat: 52.23,
            lon: 21.01,
            accuracy_km: 100.0,
        };
        assert!(
            !impossible_travel(&vague(BERLIN), NOW - MIN, &warsaw, NOW),
            "520 km less 200 km of accuracy"
        );
        // Time running backwards (a clock step) is treated as a minute.
        assert!(impossible_travel(&BERLIN, NOW + HOUR, &SYDNEY, NOW));
    }

    #[test]
    fn names_round_trip() {
        for r in [
            NoHistory,
            NewDevice,
            NewNetwork,
            NewCountry,
            ImpossibleTravel,
            RecentFailures,
            ManyRecentFailures,
            Velocity,
        ] {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        for o in [Success, Challenged, MfaFailed, Denied] {
            assert_eq!(PastOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Reason::parse("nope"), None);
    }
}
