//! Adaptive MFA at sign-in (the tenant's `adaptive` settings): gathers a password sign-in's
//! facts (the client's network prefix, where the GeoIP database puts it, the user's recent
//! history), has `core::policy::risk` score them, and keeps the history the next sign-in is
//! compared with. Nothing here runs, reads or writes while a tenant has adaptive MFA off.
//! What a decision leads to (a second factor, a refusal) is `auth.rs`'s.

use super::audit::RequestMeta;
use super::ServiceResult;
use crate::App;
use latchkey_core::ids::{ChallengeId, UserId};
use latchkey_core::policy::risk::{
    self, Assessment, Attempt, Coords, PastOutcome, PastSignIn, Place, RiskDecision,
};
use latchkey_store::model::{HistoryBounds, SignInRecord, Tenant};
use std::net::IpAddr;

/// A password sign-in's risk, and the facts it was assessed on (kept with its outcome).
#[derive(Debug, Clone)]
pub struct RiskCheck {
    pub assessment: Assessment,
    pub decision: RiskDecision,
    network: Option<String>,
    place: Place,
}

impl RiskCheck {
    /// A `signin` audit record's detail with the risk after it:
    /// `mfa_challenge risk=60 reasons=new_device,new_country`.
    pub fn detail(&self, what: &str) -> String {
        let reasons = self.assessment.reasons_text();
        format!(
            "{what} risk={} reasons={}",
            self.assessment.score,
            if reasons.is_empty() { "none" } else { &reasons }
        )
    }
}

/// A stored record as the scoring reads it; `None` for an outcome this version does not
/// know (written by a newer one).
fn past(r: &SignInRecord) -> Option<PastSignIn> {
    let coords = match (r.lat_tenths, r.lon_tenths) {
        (Some(lat), Some(lon)) => Some(Coords {
            lat: lat as f64 / 10.0,
            lon: lon as f64 / 10.0,
            accuracy_km: r.accuracy_km.unwrap_or(0) as f64,
        }),
        _ => None,
    };
    Some(PastSignIn {
        at: r.at,
        network: r.network.clone(),
        place: Place {
            country: r.country.clone(),
            coords,
        },
        outcome: PastOutcome::parse(&r.outcome)?,
    })
}

/// Tenths of a degree: a coarse place (about 11 km), all the travel signal needs.
fn tenths(degrees: f64) -> i64 {
    (degrees * 10.0).round() as i64
}

impl App {
    /// The client's network prefix and the place the GeoIP database (if any) gives it.
    fn whereabouts(&self, meta: &RequestMeta) -> (Option<String>, Place) {
        let Some(ip) = meta.ip.as_deref().and_then(|s| s.parse::<IpAddr>().ok()) else {
            return (None, Place::default());
        };
        let place = self.geo.as_ref().map(|g| g.locate(ip)).unwrap_or_default();
        (Some(risk::network_prefix(ip)), place)
    }

    /// How risky this sign-in with the right password looks, and what the tenant's
    /// thresholds make of it; `None` while the tenant has adaptive MFA off.
    /// `known_device`: a remembered-device token of this user came with the sign-in;
    /// `password_failures`: wrong passwords for the account since its last right one (the
    /// password throttle's count).
    pub(super) async fn assess_signin(
        &self,
        tenant: &Tenant,
        user: &UserId,
        meta: &RequestMeta,
        known_device: bool,
        password_failures: u32,
    ) -> ServiceResult<Option<RiskCheck>> {
        let settings = &tenant.settings.adaptive;
        if !settings.enabled {
            return Ok(None);
        }
        let now = self.now();
        let rows = self
            .store
            .recent_signins(&tenant.id, user, &HistoryBounds::at(now))
            .await?;
        let history: Vec<PastSignIn> = rows.iter().filter_map(past).collect();
        let (network, place) = self.whereabouts(meta);
        let attempt = Attempt {
            now,
            network,
            place,
            known_device,
            password_failures,
        };
        let assessment = risk::assess(&attempt, &history);
        let decision = settings.decide(assessment.score);
        tracing::info!(
            tenant_id = %tenant.id,
            user_id = %user,
            score = assessment.score,
            reasons = %assessment.reasons_text(),
            decision = ?decision,
            "sign-in risk assessed"
        );
        Ok(Some(RiskCheck {
            assessment,
            decision,
            network: attempt.network,
            place: attempt.place,
        }))
    }

    /// Keeps an assessed sign-in and how it ended (`challenge`: the second factor it waits
    /// on), pruning the user's older history as it goes.
    pub(super) async fn record_signin(
        &self,
        tenant: &Tenant,
        user: &UserId,
        check: &RiskCheck,
        outcome: PastOutcome,
        challenge: Option<&ChallengeId>,
    ) -> ServiceResult<()> {
        let (network, place) = (check.network.clone(), check.place.clone());
        self.keep(
            tenant,
            user,
            network,
            place,
            outcome,
            &check.assessment,
            challenge,
        )
        .await
    }

    /// Keeps a wrong second factor, for the recent-failures signal; nothing while adaptive
    /// MFA is off. (Wrong passwords are the password throttle's count: recording them here
    /// would make a known account's wrong password slower than an unknown one's.)
    pub(super) async fn record_second_factor_failure(
        &self,
        tenant: &Tenant,
        user: &UserId,
        meta: &RequestMeta,
    ) -> ServiceResult<()> {
        if !tenant.settings.adaptive.enabled {
            return Ok(());
        }
        let (network, place) = self.whereabouts(meta);
        let none = Assessment {
            score: 0,
            reasons: Vec::new(),
        };
        self.keep(tenant, user, network, place, PastOutcome::MfaFailed, &none, None)
            .await
    }

    /// A challenged sign-in passed its second factor: it becomes part of the user's usual
    /// networks and places. Only then: whoever has the password gets as far as the challenge.
    pub(super) async fn confirm_signin(&self, tenant: &Tenant, challenge: &ChallengeId) -> ServiceResult<()> {
        if tenant.settings.adaptive.enabled {
            self.store.confirm_signin(&tenant.id, challenge).await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // one record's fields, named at the two call sites
    async fn keep(
        &self,
        tenant: &Tenant,
        user: &UserId,
        network: Option<String>,
        place: Place,
        outcome: PastOutcome,
        assessment: &Assessment,
        challenge: Option<&ChallengeId>,
    ) -> ServiceResult<()> {
        let now = self.now();
        let record = SignInRecord {
            id: format!("sgn_{}", latchkey_core::ids::ulid(now, self.rng.as_ref())),
            tenant_id: tenant.id.clone(),
            user_id: user.clone(),
            at: now,
            network,
            country: place.country,
            lat_tenths: place.coords.map(|c| tenths(c.lat)),
            lon_tenths: place.coords.map(|c| tenths(c.lon)),
            accuracy_km: place.coords.map(|c| c.accuracy_km.round() as i64),
            outcome: outcome.as_str().to_owned(),
            score: i64::from(assessment.score),
            reasons: assessment.reasons_text(),
            challenge_id: challenge.cloned(),
        };
        self.store.record_signin(&record, &HistoryBounds::at(now)).await?;
        Ok(())
    }
}
