//! What a sign-in leads to, as a value each surface renders its own way.

use super::tickets::PresentedTicket;
use latchkey_core::assurance::Aal;
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::{ChallengeId, FactorId};

/// What a correct password (at sign-in or sign-up) or a verified challenge leads to. A
/// second factor still to prove or to enroll is an outcome, not a failure: each surface
/// shows it its own way (`/v1` answers 401 `mfa_required` / `mfa_setup_required`; a hosted
/// page would show the challenge).
#[derive(Debug)]
pub enum SignInOutcome<T> {
    /// Signed in: `T` carries the tokens (and what else the use case returns).
    Complete(T),
    /// Prove one of the offered factors with this challenge (`/v1/mfa/verify`).
    Challenge(PendingChallenge),
    /// Enroll a factor of an allowed kind with this challenge first (`/v1/mfa/enroll`).
    Enroll(PendingChallenge),
}

/// A factor offered at a sign-in challenge, as the client sees it.
#[derive(Debug, Clone)]
pub struct OfferedFactor {
    pub id: FactorId,
    pub kind: FactorKind,
    pub name: Option<String>,
    /// Masked (`+1***2671`), for SMS and email factors.
    pub destination: Option<String>,
}

/// A challenge the client must answer, as sign-in reports it.
#[derive(Debug, Clone)]
pub struct PendingChallenge {
    pub challenge_id: ChallengeId,
    pub expires_at: UnixMillis,
    /// For `mfa_required`: the factors the user can answer with.
    pub factors: Vec<OfferedFactor>,
    /// For `mfa_setup_required`: the kinds the user may enroll.
    pub allowed: Vec<FactorKind>,
}

/// What a password sign-in brings besides the email and password.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignInExtras<'a> {
    /// An application waiting for this sign-in asked for at least this (`acr_values`, or
    /// its rule): `aal2` or more means a second factor whatever the tenant says.
    pub requires: Option<Aal>,
    /// A remembered device's token (the `/v1` body's `device_token`, the pages' cookie).
    pub device_token: Option<&'a str>,
    /// Adaptive risk asks for a second factor at this sign-in (set by the sign-in itself):
    /// no remembered device stands in for it.
    pub risky: bool,
    /// An enrollment ticket (the `/enroll` page's): spent once the password verifies, and
    /// then this sign-in asks for a second factor: enrolling one (of the ticket's kind, when
    /// it names one) for a user without, proving one for a user who has.
    pub ticket: Option<PresentedTicket<'a>>,
    /// Set by the sign-in once it spent a ticket: the kind the ticket asks to enroll.
    pub ticket_spent: Option<TicketDemand>,
}

/// What a spent enrollment ticket asks of the rest of its sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketDemand {
    /// The kind to enroll; `None`: any the tenant allows.
    pub kind: Option<FactorKind>,
}

impl SignInExtras<'_> {
    pub fn requires_mfa(&self) -> bool {
        self.risky || self.ticket_spent.is_some() || self.requires.is_some_and(|a| a >= Aal::Aal2)
    }
}
