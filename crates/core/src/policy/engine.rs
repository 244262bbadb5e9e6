//! The MFA policy engine: every level that may say something about a user's second factor
//! (the server, the tenant, the user's organizations and roles, the application signing
//! them in, the user), combined into one decision that says what it is and why.
//!
//! **The strictest rule wins**, field by field: `required` over `optional` over `off`; the
//! allowed kinds are the intersection of every list given; the highest minimum assurance;
//! the shortest enrollment grace and the shortest step-up freshness. A level that says
//! nothing about a field leaves it to the others. **An exemption** is the one way down: an
//! explicit user-level rule with an expiry (and a reason, audited by the caller) under which
//! MFA is optional for that user until it expires, whatever the other levels require. It
//! never widens the allowed kinds nor lowers the assurance a factor must reach when one is
//! used.
//!
//! Pure: the callers bring the rules (`Sourced`) and the time.

use crate::factor::FactorKind;
use serde::{Deserialize, Serialize};

/// Where a rule comes from, weakest scope first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The server's configuration (`mfa_required`).
    Global,
    /// The tenant's settings.
    Tenant,
    Organization,
    Role,
    /// The OpenID Connect application the user signs in to.
    Application,
    User,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Global => "global",
            Level::Tenant => "tenant",
            Level::Organization => "organization",
            Level::Role => "role",
            Level::Application => "application",
            Level::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        [
            Level::Global,
            Level::Tenant,
            Level::Organization,
            Level::Role,
            Level::Application,
            Level::User,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }
}

/// Whether a second factor is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// Not asked, even of users who have one, unless another level asks for more
    /// ("off where allowed").
    Off,
    /// Asked of users who have a factor (the default).
    Optional,
    /// Every user must pass one, enrolling first if they have none.
    Required,
}

impl Requirement {
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Off => "off",
            Requirement::Optional => "optional",
            Requirement::Required => "required",
        }
    }
}

/// The least assurance the second factor must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MinAssurance {
    /// Any allowed second factor.
    Aal2,
    /// WebAuthn with user verification only (phishing resistant).
    PhishingResistant,
}

impl MinAssurance {
    pub fn as_str(self) -> &'static str {
        match self {
            MinAssurance::Aal2 => "aal2",
            MinAssurance::PhishingResistant => "phishing_resistant",
        }
    }

    /// The kinds able to reach it.
    pub fn kinds(self) -> &'static [FactorKind] {
        match self {
            MinAssurance::Aal2 => &FactorKind::ALL,
            MinAssurance::PhishingResistant => &[FactorKind::Webauthn],
        }
    }
}

/// What one level says; `None` is "nothing", left to the others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<Requirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_factors: Option<Vec<FactorKind>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_assurance: Option<MinAssurance>,
    /// Days a user without a factor may still sign in by password alone (reminded each
    /// time) after MFA became required for them, before enrolling is forced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_grace_days: Option<u32>,
    /// How recently a session must have passed a second factor for sensitive changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up_secs: Option<u32>,
}

/// A rule of one level, from one place (an organization, a role…), since when it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced {
    pub level: Level,
    /// The organization's, role's, application's or user's id; the tenant's; `server`.
    pub id: String,
    /// Its name, for the explanation.
    pub name: Option<String>,
    pub rule: Rule,
    /// When the rule was set (ms): an enrollment grace counts from here at the latest.
    pub since: i64,
    /// A user-level exemption until this time (ms): MFA optional for the user meanwhile.
    pub exempt_until: Option<i64>,
}

/// One reason for the decision: which rule said what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Because {
    pub level: Level,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it decided: `required`, `off`, `allowed_factors`, `min_assurance`,
    /// `enrollment_grace_days`, `step_up_secs`, `exempt`.
    pub rule: &'static str,
}

/// The decision for one user (signing in to one application, or none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub mfa: Requirement,
    /// `mfa == Required`: every sign-in passes a second factor.
    pub required: bool,
    /// The kinds that may be enrolled and used (the intersection of every list given, and
    /// of what the minimum assurance admits; backup codes are kept as recovery unless a
    /// list leaves them out or the assurance is phishing resistant).
    pub allowed: Vec<FactorKind>,
    pub min_aal: MinAssurance,
    /// Until when (ms) a user without a factor may still sign in without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<i64>,
    pub step_up_secs: u32,
    /// Until when (ms) the user is exempt, if they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt_until: Option<i64>,
    pub because: Vec<Because>,
}

/// Defaults where no level says anything.
pub const DEFAULT_STEP_UP_SECS: u32 = super::STEP_UP_SECS as u32;

/// Combines the rules in force into one decision at `now` (ms). The tenant's
/// `allowed_factors` (its settings' list) is one of the lists intersected; it is cited only
/// when another level narrows it too.
pub fn decide(rules: &[Sourced], now: i64) -> Decision {
    let mut because = Vec::new();
    let cite = |because: &mut Vec<Because>, s: &Sourced, rule: &'static str| {
        because.push(Because {
            level: s.level,
            id: s.id.clone(),
            name: s.name.clone(),
            rule,
        })
    };

    // Requirement: the strictest; who said it.
    let mut mfa = Requirement::Optional;
    let strictest = rules.iter().filter_map(|s| s.rule.mfa).max();
    let mut required_since: Option<i64> = None;
    if let Some(top) = strictest {
        // "off" only where nobody asks for more: if any level says optional (or is silent
        // but another says optional), optional stands. A silent level leaves it be.
        let everyone_off = rules
            .iter()
            .all(|s| s.rule.mfa.is_none_or(|m| m == Requirement::Off));
        mfa = if top == Requirement::Off && !everyone_off {
            Requirement::Optional
        } else {
            top
        };
        for s in rules.iter().filter(|s| s.rule.mfa == Some(mfa)) {
            if mfa != Requirement::Optional {
                cite(&mut because, s, mfa.as_str());
            }
            if mfa == Requirement::Required {
                required_since = Some(required_since.map_or(s.since, |t: i64| t.min(s.since)));
            }
        }
    }

    // Allowed kinds: the intersection, in the first list's order.
    let mut allowed: Vec<FactorKind> = FactorKind::ALL.to_vec();
    let mut first_list = true;
    for s in rules {
        if let Some(list) = &s.rule.allowed_factors {
            if first_list {
                allowed = list.iter().copied().filter(|k| allowed.contains(k)).collect();
                first_list = false;
            } else {
                allowed.retain(|k| list.contains(k));
            }
            if s.level != Level::Tenant
                || rules
                    .iter()
                    .any(|o| o.level > Level::Tenant && o.rule.allowed_factors.is_some())
            {
                cite(&mut because, s, "allowed_factors");
            }
        }
    }

    // Assurance.
    let min_aal = rules
        .iter()
        .filter_map(|s| s.rule.min_assurance)
        .max()
        .unwrap_or(MinAssurance::Aal2);
    if min_aal == MinAssurance::PhishingResistant {
        for s in rules.iter().filter(|s| s.rule.min_assurance == Some(min_aal)) {
            cite(&mut because, s, "min_assurance");
        }
        allowed.retain(|k| min_aal.kinds().contains(k));
    }

    // Freshness: the shortest.
    let step_up = rules
        .iter()
        .filter_map(|s| s.rule.step_up_secs.map(|v| (v, s)))
        .min_by_key(|(v, _)| *v);
    let step_up_secs = match step_up {
        Some((v, s)) => {
            cite(&mut because, s, "step_up_secs");
            v
        }
        None => DEFAULT_STEP_UP_SECS,
    };

    // Grace: the shortest, counted from when the requirement began.
    let grace_until = if mfa == Requirement::Required {
        let grace = rules
            .iter()
            .filter_map(|s| s.rule.enrollment_grace_days.map(|d| (d, s)))
            .min_by_key(|(d, _)| *d);
        match (grace, required_since) {
            (Some((days, s)), Some(since)) if days > 0 => {
                cite(&mut because, s, "enrollment_grace_days");
                Some(since + i64::from(days) * 86_400_000)
            }
            _ => None,
        }
    } else {
        None
    };

    // An exemption: explicit, user-level, unexpired.
    let exempt_until = rules
        .iter()
        .filter(|s| s.level == Level::User)
        .filter_map(|s| s.exempt_until.map(|t| (t, s)))
        .find(|(t, _)| *t > now);
    if let Some((_, s)) = exempt_until {
        if mfa == Requirement::Required {
            mfa = Requirement::Optional;
            because.retain(|b| b.rule != "required" && b.rule != "enrollment_grace_days");
        }
        cite(&mut because, s, "exempt");
    }

    Decision {
        required: mfa == Requirement::Required,
        mfa,
        allowed,
        min_aal,
        grace_until: if mfa == Requirement::Required {
            grace_until
        } else {
            None
        },
        step_up_secs,
        exempt_until: exempt_until.map(|(t, _)| t),
        because,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FactorKind::*;
    use Requirement::*;

    const DAY: i64 = 86_400_000;

    fn at(level: Level, rule: Rule) -> Sourced {
        Sourced {
            level,
            id: format!("{}_1", level.as_str()),
            name: None,
            rule,
            since: 0,
            exempt_until: None,
        }
    }

    fn mfa(m: Requirement) -> Rule {
        Rule {
            mfa: Some(m),
            ..Rule::default()
        }
    }

    fn kinds(list: &[FactorKind]) -> Rule {
        Rule {
            allowed_factors: Some(list.to_vec()),
            ..Rule::default()
        }
    }

    fn cited(d: &Decision) -> Vec<(Level, &'static str)> {
        d.because.iter().map(|b| (b.level, b.rule)).collect()
    }

    #[test]
    fn the_strictest_requirement_wins_at_every_level() {
        use Level::*;
        // (rules by level, expected requirement, cited)
        type Case = (Vec<Sourced>, Requirement, Vec<(Level, &'static str)>);
        let table: Vec<Case> = vec![
            (vec![], Optional, vec![]),
            (vec![at(Tenant, mfa(Optional))], Optional, vec![]),
            (
                vec![at(Global, mfa(Required)), at(Tenant, mfa(Off))],
                Required,
                vec![(Global, "required")],
            ),
            (
                vec![at(Tenant, mfa(Off)), at(Role, mfa(Required))],
                Required,
                vec![(Role, "required")],
            ),
            (
                vec![at(Tenant, mfa(Optional)), at(Organization, mfa(Required))],
                Required,
                vec![(Organization, "required")],
            ),
            (
                vec![at(Tenant, mfa(Optional)), at(Application, mfa(Required))],
                Required,
                vec![(Application, "required")],
            ),
            (
                vec![at(Tenant, mfa(Optional)), at(User, mfa(Required))],
                Required,
                vec![(User, "required")],
            ),
            // A user can't switch off what the tenant requires (only an exemption can).
            (
                vec![at(Tenant, mfa(Required)), at(User, mfa(Off))],
                Required,
                vec![(Tenant, "required")],
            ),
            // Off only where nobody asks for more.
            (vec![at(Tenant, mfa(Off))], Off, vec![(Tenant, "off")]),
            (
                vec![at(Tenant, mfa(Off)), at(Role, mfa(Optional))],
                Optional,
                vec![],
            ),
            (
                vec![at(Tenant, mfa(Off)), at(Role, mfa(Off))],
                Off,
                vec![(Tenant, "off"), (Role, "off")],
            ),
        ];
        for (i, (rules, want, why)) in table.into_iter().enumerate() {
            let d = decide(&rules, 0);
            assert_eq!(d.mfa, want, "case {i}");
            assert_eq!(d.required, want == Required, "case {i}");
            assert_eq!(cited(&d), why, "case {i}");
        }
    }

    #[test]
    fn allowed_kinds_intersect_and_assurance_narrows_them() {
        let d = decide(
            &[
                at(Level::Tenant, kinds(&[Totp, Sms, Webauthn, BackupCodes])),
                at(Level::Role, kinds(&[Totp, Webauthn, BackupCodes])),
            ],
            0,
        );
        assert_eq!(d.allowed, vec![Totp, Webauthn, BackupCodes]);
        assert_eq!(
            cited(&d),
            vec![
                (Level::Tenant, "allowed_factors"),
                (Level::Role, "allowed_factors")
            ]
        );
        // The tenant's list alone is not a reason worth citing.
        let d = decide(&[at(Level::Tenant, kinds(&[Totp, BackupCodes]))], 0);
        assert_eq!(d.allowed, vec![Totp, BackupCodes]);
        assert!(d.because.is_empty());
        // Phishing resistant: WebAuthn alone, whoever asked.
        let d = decide(
            &[
                at(Level::Tenant, kinds(&[Totp, Webauthn, BackupCodes])),
                at(
                    Level::Application,
                    Rule {
                        min_assurance: Some(MinAssurance::PhishingResistant),
                        ..Rule::default()
                    },
                ),
            ],
            0,
        );
        assert_eq!(d.allowed, vec![Webauthn]);
        assert_eq!(d.min_aal, MinAssurance::PhishingResistant);
        assert!(cited(&d).contains(&(Level::Application, "min_assurance")));
        // Disjoint lists leave nothing (the explanation shows why).
        let d = decide(
            &[at(Level::Tenant, kinds(&[Sms])), at(Level::User, kinds(&[Totp]))],
            0,
        );
        assert!(d.allowed.is_empty());
    }

    #[test]
    fn grace_and_freshness_take_the_shortest() {
        let mut tenant = at(
            Level::Tenant,
            Rule {
                mfa: Some(Required),
                enrollment_grace_days: Some(7),
                step_up_secs: Some(900),
                ..Rule::default()
            },
        );
        tenant.since = 10 * DAY;
        let role = at(
            Level::Role,
            Rule {
                enrollment_grace_days: Some(3),
                step_up_secs: Some(300),
                ..Rule::default()
            },
        );
        let d = decide(&[tenant.clone(), role], 11 * DAY);
        assert_eq!(d.grace_until, Some(13 * DAY));
        assert_eq!(d.step_up_secs, 300);
        // No grace unless required; the default freshness without a rule.
        let d = decide(
            &[at(
                Level::Tenant,
                Rule {
                    enrollment_grace_days: Some(7),
                    ..Rule::default()
                },
            )],
            0,
        );
        assert_eq!(d.grace_until, None);
        assert_eq!(d.step_up_secs, DEFAULT_STEP_UP_SECS);
        // Zero days: no grace.
        tenant.rule.enrollment_grace_days = Some(0);
        assert_eq!(decide(&[tenant], 11 * DAY).grace_until, None);
    }

    #[test]
    fn an_exemption_is_explicit_user_level_and_expires() {
        let mut user = at(Level::User, Rule::default());
        user.exempt_until = Some(5 * DAY);
        let rules = [at(Level::Role, mfa(Required)), user.clone()];
        let d = decide(&rules, 4 * DAY);
        assert_eq!(d.mfa, Optional);
        assert_eq!(d.exempt_until, Some(5 * DAY));
        assert_eq!(cited(&d), vec![(Level::User, "exempt")]);
        // Expired: required again.
        let d = decide(&rules, 5 * DAY);
        assert!(d.required);
        assert_eq!(d.exempt_until, None);
        // Only a user-level rule exempts.
        let mut role = at(Level::Role, mfa(Required));
        role.exempt_until = Some(9 * DAY);
        assert!(decide(&[role], 0).required);
        // It never widens the kinds nor lowers the assurance.
        user.rule.allowed_factors = Some(vec![Totp, Sms]);
        let d = decide(
            &[
                at(Level::Tenant, kinds(&[Totp])),
                at(
                    Level::Organization,
                    Rule {
                        min_assurance: Some(MinAssurance::Aal2),
                        ..Rule::default()
                    },
                ),
                user,
            ],
            0,
        );
        assert_eq!(d.allowed, vec![Totp]);
    }

    #[test]
    fn rules_read_and_refuse_as_json() {
        let r: Rule = serde_json::from_str(
            r#"{"mfa":"required","allowed_factors":["totp","webauthn"],"min_assurance":"phishing_resistant","enrollment_grace_days":7,"step_up_secs":300}"#,
        )
        .unwrap();
        assert_eq!(r.mfa, Some(Required));
        assert_eq!(
            serde_json::to_value(&r).unwrap()["min_assurance"],
            "phishing_resistant"
        );
        assert!(serde_json::from_str::<Rule>(r#"{"mfa":"sometimes"}"#).is_err());
        assert!(serde_json::from_str::<Rule>(r#"{"mfaa":"required"}"#).is_err());
        assert_eq!(serde_json::to_string(&Rule::default()).unwrap(), "{}");
        assert_eq!(Level::parse("role"), Some(Level::Role));
        assert_eq!(Level::parse("nope"), None);
    }
}
