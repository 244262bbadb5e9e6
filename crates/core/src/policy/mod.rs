//! Who must present what: from a user's factors and the tenant's settings, whether a sign-in
//! completes with the password, asks for a second factor (and which), or asks to enroll one;
//! and what a change to a user's factors requires. Pure functions over facts the callers
//! bring, so every rule is in one place and unit-tested here (the policy engine to come
//! builds on them).

pub mod engine;
pub mod risk;

use crate::factor::{FactorKind, FactorStatus};

/// How recently a session must have passed a second factor to change factors (ASVS 5.0
/// V7.5.1; Supabase and Kratos use similar windows).
pub const STEP_UP_SECS: i64 = 900;

/// One of the user's factors, as far as policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorFact {
    pub kind: FactorKind,
    pub status: FactorStatus,
}

/// What the MFA settings in force say, for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaPolicy<'a> {
    /// Every user must pass a second factor (the tenant's flag or the server's switch).
    pub required: bool,
    /// The kinds users may enroll and use.
    pub allowed: &'a [FactorKind],
}

impl MfaPolicy<'_> {
    fn allows(&self, kind: FactorKind) -> bool {
        self.allowed.contains(&kind)
    }

    /// The kinds a user may enroll now, in the tenant's order.
    pub fn enrollable(&self) -> Vec<FactorKind> {
        self.allowed.iter().copied().filter(|k| k.enrollable()).collect()
    }
}

/// What a correct password leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInDecision {
    /// The password alone completes sign-in.
    Complete,
    /// Prove one of these factors (indexes into the facts given).
    Prove {
        offer: Vec<usize>,
        /// The user's factors are all of kinds no longer allowed: after proving one, they
        /// must enroll an allowed kind before the sign-in completes (never a silent
        /// downgrade to the password, SECURITY.md test 71).
        then_enroll: bool,
    },
    /// MFA is required and the user has no factor: enroll one of these kinds first.
    Enroll { kinds: Vec<FactorKind> },
}

/// Decides what a correct password leads to.
///
/// - Active factors of allowed kinds are offered (backup codes only beside a real factor).
/// - A user whose active factors are all of kinds no longer allowed keeps being challenged
///   with them (and their backup codes), then enrolls an allowed kind, if any can be.
/// - Otherwise MFA, if required, means enrolling first; else the password completes it.
pub fn sign_in(factors: &[FactorFact], policy: &MfaPolicy<'_>) -> SignInDecision {
    let active = |f: &FactorFact| f.status == FactorStatus::Active;
    let real = |f: &FactorFact| f.kind != FactorKind::BackupCodes;
    let usable: Vec<usize> = indexes(factors, |f| active(f) && policy.allows(f.kind));
    if usable.iter().any(|&i| real(&factors[i])) {
        return SignInDecision::Prove {
            offer: usable,
            then_enroll: false,
        };
    }
    let legacy: Vec<usize> = indexes(factors, |f| active(f) && real(f));
    if !legacy.is_empty() {
        let backup = indexes(factors, |f| active(f) && !real(f));
        return SignInDecision::Prove {
            offer: legacy.into_iter().chain(backup).collect(),
            then_enroll: !policy.enrollable().is_empty(),
        };
    }
    if policy.required {
        return SignInDecision::Enroll {
            kinds: policy.enrollable(),
        };
    }
    SignInDecision::Complete
}

/// The kinds whose active presence ends a forced enrollment's purpose: an enrollment
/// challenge is issued because the user has none of these, and may complete only while
/// that still holds.
pub fn enrollment_challenge_kinds(policy: &MfaPolicy<'_>) -> Vec<FactorKind> {
    policy.enrollable()
}

/// Whether the user has a second factor at all (backup codes are not one by themselves).
pub fn has_factor(factors: &[FactorFact]) -> bool {
    factors
        .iter()
        .any(|f| f.status == FactorStatus::Active && f.kind != FactorKind::BackupCodes)
}

/// What a user's own session needs to change factors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRule {
    /// Allowed; the change re-checks nothing when it completes.
    Allowed,
    /// Allowed because the account has no factor yet; the change may complete only while
    /// the account still has none of these kinds (SECURITY.md test 70).
    WhileWithout(Vec<FactorKind>),
    /// Pass a second factor again first.
    StepUpRequired,
}

/// The rule for a user changing their own factors with a session that last passed a second
/// factor at `mfa_time` (seconds), at `now_secs`: with a factor on the account, only a
/// session that passed one within `step_up_secs` (the policy's; [`STEP_UP_SECS`] by default) (NIST SP 800-63B-4 §4.1.2.1: bind at the
/// AAL the account already has).
pub fn self_service_change(
    factors: &[FactorFact],
    mfa_time: Option<i64>,
    now_secs: i64,
    step_up_secs: i64,
) -> ChangeRule {
    if mfa_time.is_some_and(|t| now_secs - t <= step_up_secs) {
        return ChangeRule::Allowed;
    }
    if has_factor(factors) {
        return ChangeRule::StepUpRequired;
    }
    ChangeRule::WhileWithout(
        FactorKind::ALL
            .into_iter()
            .filter(|k| *k != FactorKind::BackupCodes)
            .collect(),
    )
}

fn indexes(factors: &[FactorFact], keep: impl Fn(&FactorFact) -> bool) -> Vec<usize> {
    factors
        .iter()
        .enumerate()
        .filter(|(_, f)| keep(f))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use FactorKind::*;
    use FactorStatus::*;

    fn f(kind: FactorKind, status: FactorStatus) -> FactorFact {
        FactorFact { kind, status }
    }

    const ALL: &[FactorKind] = &[Totp, Sms, EmailOtp, BackupCodes];

    #[test]
    fn usable_factors_are_offered() {
        let facts = [f(Totp, Active), f(Sms, Pending), f(BackupCodes, Active)];
        let p = MfaPolicy {
            required: false,
            allowed: ALL,
        };
        assert_eq!(
            sign_in(&facts, &p),
            SignInDecision::Prove {
                offer: vec![0, 2],
                then_enroll: false
            }
        );
    }

    #[test]
    fn pending_factors_and_lone_backup_codes_change_nothing() {
        let p = MfaPolicy {
            required: false,
            allowed: ALL,
        };
        assert_eq!(sign_in(&[f(Totp, Pending)], &p), SignInDecision::Complete);
        assert_eq!(sign_in(&[f(BackupCodes, Active)], &p), SignInDecision::Complete);
        let required = MfaPolicy {
            required: true,
            allowed: &[Totp, BackupCodes],
        };
        assert_eq!(
            sign_in(&[f(BackupCodes, Active)], &required),
            SignInDecision::Enroll { kinds: vec![Totp] }
        );
    }

    #[test]
    fn narrowing_never_downgrades() {
        let facts = [f(Totp, Active), f(BackupCodes, Active)];
        for required in [false, true] {
            let p = MfaPolicy {
                required,
                allowed: &[Sms, BackupCodes],
            };
            assert_eq!(
                sign_in(&facts, &p),
                SignInDecision::Prove {
                    offer: vec![0, 1],
                    then_enroll: true
                },
                "required={required}"
            );
        }
        // Nothing enrollable is allowed: the old factors keep working as they are.
        let p = MfaPolicy {
            required: false,
            allowed: &[BackupCodes],
        };
        assert_eq!(
            sign_in(&facts, &p),
            SignInDecision::Prove {
                offer: vec![0, 1],
                then_enroll: false
            }
        );
        // Backup codes of a disallowed kind still count beside an allowed factor only if
        // allowed themselves.
        let p = MfaPolicy {
            required: false,
            allowed: &[Totp],
        };
        assert_eq!(
            sign_in(&facts, &p),
            SignInDecision::Prove {
                offer: vec![0],
                then_enroll: false
            }
        );
    }

    #[test]
    fn changes_need_a_recent_second_factor_once_there_is_one() {
        let none = [f(Totp, Pending)];
        let some = [f(Sms, Active)];
        let now = 10_000;
        assert_eq!(
            self_service_change(&none, None, now, STEP_UP_SECS),
            ChangeRule::WhileWithout(vec![Totp, Sms, EmailOtp, Webauthn])
        );
        assert_eq!(
            self_service_change(&some, None, now, STEP_UP_SECS),
            ChangeRule::StepUpRequired
        );
        assert_eq!(
            self_service_change(&some, Some(now - STEP_UP_SECS - 1), now, STEP_UP_SECS),
            ChangeRule::StepUpRequired
        );
        assert_eq!(
            self_service_change(&some, Some(now - STEP_UP_SECS), now, STEP_UP_SECS),
            ChangeRule::Allowed
        );
        // A policy's shorter freshness.
        assert_eq!(
            self_service_change(&some, Some(now - 301), now, 300),
            ChangeRule::StepUpRequired
        );
    }
}
