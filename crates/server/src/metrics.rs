//! In-process Prometheus metrics, served by `GET /metrics` (`http::metrics`; docs/metrics.md):
//! request latency per route, the MFA funnel by tenant and factor kind, code deliveries by
//! provider, country and outcome, refusals by reason, the hashing queue and the outbox backlog.
//! Every name starts `latchkey_`.
//!
//! Counters live in memory and move where the event happens (a scrape never queries the
//! database for them), so each replica reports its own and Prometheus sums them. The one
//! read a scrape makes is the outbox backlog, cached for a few seconds. Label
//! values come from closed sets (route templates, methods, status classes, factor kinds,
//! provider names, ISO regions, reason codes) or are tenant ids: never a user id, an email
//! address, a phone number or a raw path, so the number of series stays bounded.

use latchkey_core::factor::FactorKind;
use latchkey_core::ids::TenantId;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

/// The content type of the exposition (OpenMetrics text, which Prometheus negotiates and
/// parses; it ends with `# EOF`).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds: a TOTP verify takes about a millisecond, a password
/// sign-in (Argon2id) tens to hundreds, a queue behind the hashing pool seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One request's series: the matched route template (`/v1/users/{user_id}/mfa/factors`,
/// never the path itself), the method, the status class (`2xx` …).
type HttpLabels = [(&'static str, &'static str); 3];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    tenant: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    tenant: String,
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChallengeLabels {
    tenant: String,
    purpose: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    tenant: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: &'static str,
    provider: &'static str,
    /// ISO 3166 region of an SMS destination; `none` for email, `unknown` when the number
    /// belongs to no country.
    country: String,
    outcome: &'static str,
}

/// A step of the MFA funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaStep {
    /// An enrollment began (a factor is pending).
    EnrollStarted,
    /// A pending factor became active.
    EnrollConfirmed,
    /// A second factor was proven at sign-in.
    VerifySucceeded,
    /// A wrong answer at sign-in (counted against the factor's throttle).
    VerifyFailed,
    /// An attempt met a factor locked by its throttle.
    Locked,
}

/// How an attempt to deliver a queued message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent,
    /// Refused by the provider for good.
    Failed,
    /// Failed for now; retried later.
    Retry,
    /// The primary SMS provider failed and the fallback was tried.
    FellBack,
    /// Given up: the code expired or the attempts ran out.
    Abandoned,
}

impl DeliveryOutcome {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Retry => "retry",
            DeliveryOutcome::FellBack => "fallback",
            DeliveryOutcome::Abandoned => "abandoned",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
    enroll_started: Family<KindLabels, Counter>,
    enroll_confirmed: Family<KindLabels, Counter>,
    verifications: Family<OutcomeLabels, Counter>,
    lockouts: Family<KindLabels, Counter>,
    challenges: Family<ChallengeLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    sms_refusals: Family<ReasonLabels, Counter>,
    send_refusals: Family<ReasonLabels, Counter>,
    hash_queue: Gauge,
    hash_queue_capacity: Gauge,
    outbox_depth: Gauge,
    outbox_oldest_age: Gauge,
    db_connections: Family<StateLabels, Gauge>,
    db_connections_max: Gauge,
    /// The last backlog read from the store, and when: scrapes within
    /// [`BACKLOG_CACHE`] of it reuse it rather than query again.
    backlog: tokio::sync::Mutex<Option<(std::time::Instant, Backlog)>>,
}

/// The outbox's backlog as the store last reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Messages queued or being sent.
    pub depth: i64,
    /// When the oldest of them was queued.
    pub oldest_at: Option<i64>,
}

/// How long a backlog read serves scrapes: several Prometheus servers (or a dashboard's
/// refreshes) scraping at once cost one query.
const BACKLOG_CACHE: Duration = Duration::from_secs(5);

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("latchkey");
        let m = Metrics {
            http: Family::new_with_constructor(latency_histogram),
            enroll_started: Family::default(),
            enroll_confirmed: Family::default(),
            verifications: Family::default(),
            lockouts: Family::default(),
            challenges: Family::default(),
            deliveries: Family::default(),
            sms_refusals: Family::default(),
            send_refusals: Family::default(),
            hash_queue: Gauge::default(),
            hash_queue_capacity: Gauge::default(),
            outbox_depth: Gauge::default(),
            outbox_oldest_age: Gauge::default(),
            db_connections: Family::default(),
            db_connections_max: Gauge::default(),
            backlog: Default::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's head to its response, by matched route template, method and status class",
            m.http.clone(),
        );
        registry.register(
            "mfa_enrollments_started",
            "Enrollments begun (a pending factor), by tenant and factor kind",
            m.enroll_started.clone(),
        );
        registry.register(
            "mfa_enrollments_confirmed",
            "Pending factors made active, by tenant and factor kind",
            m.enroll_confirmed.clone(),
        );
        registry.register(
            "mfa_verifications",
            "Second-factor answers at sign-in, by tenant, factor kind and outcome (success, failure)",
            m.verifications.clone(),
        );
        registry.register(
            "mfa_lockouts",
            "Attempts refused because the factor's throttle had locked it, by tenant and factor kind",
            m.lockouts.clone(),
        );
        registry.register(
            "mfa_challenges",
            "Challenges issued, by tenant and purpose (sign_in: a second factor to present; enroll: a factor to set up)",
            m.challenges.clone(),
        );
        registry.register(
            "deliveries",
            "Attempts to deliver a queued SMS or email, by channel, provider, destination country and outcome",
            m.deliveries.clone(),
        );
        registry.register(
            "sms_refusals",
            "SMS destinations refused by the tenant's fraud rules, by tenant and reason (country, or the number class)",
            m.sms_refusals.clone(),
        );
        registry.register(
            "code_send_refusals",
            "Codes and links not sent because of the resend cooldown or a send limit, by tenant and reason",
            m.send_refusals.clone(),
        );
        registry.register(
            "hash_queue_depth",
            "Password hashes waiting for a hashing thread",
            m.hash_queue.clone(),
        );
        registry.register(
            "hash_queue_capacity",
            "Password hashes that may wait before sign-ins answer 503 overloaded",
            m.hash_queue_capacity.clone(),
        );
        registry.register(
            "outbox_depth",
            "SMS and email messages not delivered yet (queued, or being sent), across tenants",
            m.outbox_depth.clone(),
        );
        registry.register(
            "outbox_oldest_age_seconds",
            "How long the oldest undelivered message has waited (0 when none waits)",
            m.outbox_oldest_age.clone(),
        );
        registry.register(
            "db_connections",
            "Database connections by state (in_use, idle); SQLite counts its read-only connections, not the one writer",
            m.db_connections.clone(),
        );
        registry.register(
            "db_connections_max",
            "The most database connections the pool opens",
            m.db_connections_max.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The outbox's backlog: the cached one if it is recent, else `read`'s (then cached).
    /// A failed read keeps the previous value and is logged; a scrape still answers.
    pub async fn backlog<F, E>(&self, read: F) -> Backlog
    where
        F: std::future::Future<Output = Result<Backlog, E>>,
        E: std::fmt::Display,
    {
        let mut cached = self.backlog.lock().await;
        if let Some((at, backlog)) = *cached {
            if at.elapsed() < BACKLOG_CACHE {
                return backlog;
            }
        }
        match read.await {
            Ok(backlog) => {
                *cached = Some((std::time::Instant::now(), backlog));
                backlog
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read the outbox backlog");
                cached.map(|(_, b)| b).unwrap_or_default()
            }
        }
    }

    /// The `route` label of a request: its matched template, or `unmatched` when no route
    /// matched (so a scan of random paths adds no series).
    pub fn route_label(matched: Option<&str>) -> &'static str {
        matched.map_or("unmatched", intern)
    }

    /// Records one served request under its [`Metrics::route_label`].
    pub fn observe_request(
        &self,
        route: &'static str,
        method: &axum::http::Method,
        status: u16,
        took: Duration,
    ) {
        let labels = [
            ("route", route),
            ("method", method_label(method)),
            ("status", status_class(status)),
        ];
        self.http.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// A step of the MFA funnel for a factor of `kind` in `tenant`.
    pub fn mfa(&self, tenant: &TenantId, kind: FactorKind, step: MfaStep) {
        let kind_labels = || KindLabels {
            tenant: tenant.to_string(),
            kind: kind.as_str(),
        };
        let verify = |outcome| OutcomeLabels {
            tenant: tenant.to_string(),
            kind: kind.as_str(),
            outcome,
        };
        match step {
            MfaStep::EnrollStarted => self.enroll_started.get_or_create(&kind_labels()).inc(),
            MfaStep::EnrollConfirmed => self.enroll_confirmed.get_or_create(&kind_labels()).inc(),
            MfaStep::VerifySucceeded => self.verifications.get_or_create(&verify("success")).inc(),
            MfaStep::VerifyFailed => self.verifications.get_or_create(&verify("failure")).inc(),
            MfaStep::Locked => self.lockouts.get_or_create(&kind_labels()).inc(),
        };
    }

    /// A challenge was issued: `sign_in` (a second factor to present) or `enroll` (a
    /// factor to set up before signing in).
    pub fn challenge(&self, tenant: &TenantId, purpose: &'static str) {
        self.challenges
            .get_or_create(&ChallengeLabels {
                tenant: tenant.to_string(),
                purpose,
            })
            .inc();
    }

    /// An attempt to deliver a message. `phone` is the SMS destination (its region becomes
    /// the `country` label; the number itself is never a label).
    pub fn delivery(
        &self,
        channel: latchkey_core::factor::Channel,
        provider: &'static str,
        phone: Option<&str>,
        outcome: DeliveryOutcome,
    ) {
        let country = match phone {
            None => "none".to_owned(),
            Some(number) => latchkey_core::phone::Phone::parse(number)
                .ok()
                .and_then(|p| p.region().map(str::to_owned))
                .unwrap_or_else(|| "unknown".to_owned()),
        };
        self.deliveries
            .get_or_create(&DeliveryLabels {
                channel: channel.as_str(),
                provider,
                country,
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// An SMS destination refused by a fraud rule (`country`, or a number class).
    pub fn sms_refused(&self, tenant: &TenantId, reason: &'static str) {
        self.sms_refusals
            .get_or_create(&ReasonLabels {
                tenant: tenant.to_string(),
                reason,
            })
            .inc();
    }

    /// A code or link not sent: `cooldown` or the send limit's scope.
    pub fn send_refused(&self, tenant: &TenantId, reason: &'static str) {
        self.send_refusals
            .get_or_create(&ReasonLabels {
                tenant: tenant.to_string(),
                reason,
            })
            .inc();
    }

    /// The exposition, with the gauges read as of now (`now`: Unix milliseconds).
    pub fn render(
        &self,
        hash_queue: usize,
        hash_capacity: usize,
        backlog: Backlog,
        pool: latchkey_store::PoolUsage,
        now: i64,
    ) -> String {
        for (state, n) in [("in_use", pool.in_use), ("idle", pool.idle)] {
            self.db_connections
                .get_or_create(&StateLabels { state })
                .set(i64::from(n));
        }
        self.db_connections_max.set(i64::from(pool.max));
        self.outbox_depth.set(backlog.depth);
        self.outbox_oldest_age
            .set(backlog.oldest_at.map_or(0, |at| (now - at).max(0) / 1000));
        self.hash_queue.set(i64::try_from(hash_queue).unwrap_or(i64::MAX));
        self.hash_queue_capacity
            .set(i64::try_from(hash_capacity).unwrap_or(i64::MAX));
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The `'static` copy of a route template. Templates come from the router, a fixed set of
/// about a hundred, so each is leaked once for the life of the process; in exchange a
/// request's labels are three `&'static str` and recording allocates nothing.
fn intern(route: &str) -> &'static str {
    static ROUTES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(found) = routes.read().ok().and_then(|set| set.get(route).copied()) {
        return found;
    }
    let Ok(mut set) = routes.write() else {
        return "unmatched";
    };
    if let Some(found) = set.get(route) {
        return found;
    }
    let leaked: &'static str = Box::leak(route.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labelled_series_without_user_data() {
        let m = Metrics::new();
        let tenant = TenantId::parse("tnt_01HZZZZZZZZZZZZZZZZZZZZZZZ").unwrap();
        m.observe_request(
            Metrics::route_label(Some("/v1/users/{user_id}")),
            &axum::http::Method::GET,
            200,
            Duration::from_millis(3),
        );
        m.observe_request(
            Metrics::route_label(None),
            &axum::http::Method::from_bytes(b"BREW").unwrap(),
            404,
            Duration::ZERO,
        );
        m.mfa(&tenant, FactorKind::Totp, MfaStep::VerifyFailed);
        m.delivery(
            latchkey_core::factor::Channel::Sms,
            "console",
            Some("+14155550123"),
            DeliveryOutcome::Sent,
        );
        let text = m.render(
            2,
            128,
            Backlog {
                depth: 3,
                oldest_at: Some(10_000),
            },
            latchkey_store::PoolUsage {
                in_use: 1,
                idle: 3,
                max: 10,
            },
            75_000,
        );
        for line in [
            r#"latchkey_http_request_duration_seconds_bucket{le="0.005",route="/v1/users/{user_id}",method="GET",status="2xx"} 1"#,
            r#"latchkey_http_request_duration_seconds_count{route="unmatched",method="other",status="4xx"} 1"#,
            r#"latchkey_mfa_verifications_total{tenant="tnt_01HZZZZZZZZZZZZZZZZZZZZZZZ",kind="totp",outcome="failure"} 1"#,
            r#"latchkey_deliveries_total{channel="sms",provider="console",country="US",outcome="sent"} 1"#,
            "latchkey_hash_queue_depth 2",
            "latchkey_outbox_depth 3",
            "latchkey_outbox_oldest_age_seconds 65",
            r#"latchkey_db_connections{state="in_use"} 1"#,
            r#"latchkey_db_connections{state="idle"} 3"#,
            "latchkey_db_connections_max 10",
            "# EOF",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("4155550123"), "no phone number in a label");
    }

    #[test]
    fn route_templates_are_interned_once() {
        let a = intern("/v1/test/{a}");
        let b = intern(&String::from("/v1/test/{a}"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(302), "3xx");
    }
}
