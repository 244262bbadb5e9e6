//! Prefixed, sortable, unguessable identifiers (`tnt_01H…`, `usr_…`, `fac_…`, `chl_…`).
//!
//! The part after the prefix is a ULID: 48 bits of millisecond time (so ids sort by
//! creation) and 80 bits from the CSPRNG (so they cannot be guessed or enumerated).
//! Ids are not secrets; they are never the only thing that authorises an action.

use crate::clock::UnixMillis;
use crate::rand::{self, SecureRandom};
use std::fmt;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new ULID string (26 Crockford base32 characters).
pub fn ulid(now_ms: UnixMillis, rng: &dyn SecureRandom) -> String {
    let random: [u8; 10] = rand::bytes(rng);
    let mut value: u128 = (u128::from(now_ms.max(0) as u64) & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (25 - i);
        *slot = CROCKFORD[((value >> shift) & 0x1F) as usize];
    }
    out.iter().map(|&c| c as char).collect()
}

fn is_ulid(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|b| CROCKFORD.contains(&b)) && s.as_bytes()[0] <= b'7'
}

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id")]
pub struct InvalidId {
    pub kind: &'static str,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate(now_ms: UnixMillis, rng: &dyn SecureRandom) -> Self {
                Self(format!("{}{}", $prefix, ulid(now_ms, rng)))
            }

            /// Parses an id received from outside, checking prefix and shape.
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                match s.strip_prefix($prefix) {
                    Some(rest) if is_ulid(rest) => Ok(Self(s.to_owned())),
                    _ => Err(InvalidId { kind: $kind }),
                }
            }

            /// Wraps a value read back from our own storage, which only ever holds ids we made.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A tenant: the unit of isolation. Every row but server-wide keys belongs to one.
    TenantId, "tnt_", "tenant");
prefixed_id!(
    /// An end user of one tenant.
    UserId, "usr_", "user");
prefixed_id!(
    /// The public identifier of a tenant secret key (the key itself is `sk_live_…`).
    ApiKeyId, "key_", "key");
prefixed_id!(
    /// A sign-in session: one refresh-token family.
    SessionId, "ses_", "session");
prefixed_id!(
    /// An enrolled MFA factor.
    FactorId, "fac_", "factor");
prefixed_id!(
    /// A sign-in challenge awaiting its second factor.
    ChallengeId, "chl_", "challenge");
prefixed_id!(
    /// An application (an OAuth 2.0 / OpenID Connect client) of one tenant; also its
    /// `client_id`.
    ApplicationId, "app_", "application");
prefixed_id!(
    /// An organization of one tenant: a group of its users that MFA policy can name.
    OrganizationId, "org_", "organization");
prefixed_id!(
    /// A role of one tenant, assigned to users (in the tenant, or within an organization).
    RoleId, "rol_", "role");
prefixed_id!(
    /// A remembered device of one user (docs/policy.md); its token is a separate secret.
    DeviceId, "dev_", "device");
prefixed_id!(
    /// A webhook endpoint of one tenant (docs/events.md).
    WebhookId, "whk_", "webhook");

/// The id of one webhook message: `msg_`, then the ULIDs of the event and of the endpoint
/// (the store derives it in SQL when it fans an event out, so the same event reaches the same
/// endpoint under one id, on every retry and redelivery: the Standard Webhooks `webhook-id`).
pub fn is_delivery_id(s: &str) -> bool {
    s.strip_prefix("msg_")
        .is_some_and(|rest| rest.len() == 52 && is_ulid(&rest[..26]) && is_ulid(&rest[26..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Never panics; whatever parses is the prefix plus 26 Crockford characters that fit
        /// in 128 bits, and is returned unchanged.
        #[test]
        fn parse_accepts_only_the_exact_shape(s in "(chl_|usr_|fac_|)\\PC{0,30}") {
            if let Ok(id) = ChallengeId::parse(&s) {
                prop_assert_eq!(id.as_str(), s.as_str());
                let rest = &s[4..];
                prop_assert!(s.starts_with("chl_") && rest.len() == 26);
                prop_assert!(rest.bytes().all(|b| CROCKFORD.contains(&b)));
                prop_assert!(rest.as_bytes()[0] <= b'7');
            }
            // One kind's id is never another's.
            prop_assert!(!(ChallengeId::parse(&s).is_ok() && UserId::parse(&s).is_ok()));
        }

        #[test]
        fn generated_ids_parse_back(now in 0i64..(1i64 << 48), seed in any::<[u8; 10]>()) {
            struct Fixed([u8; 10]);
            impl SecureRandom for Fixed {
                fn fill(&self, buf: &mut [u8]) {
                    for (b, s) in buf.iter_mut().zip(self.0.iter().cycle()) {
                        *b = *s;
                    }
                }
            }
            let id = FactorId::generate(now, &Fixed(seed));
            prop_assert_eq!(FactorId::parse(id.as_str()), Ok(id.clone()));
            // Lower case, or a character outside the alphabet, is refused.
            if id.as_str()[4..].bytes().any(|b| b.is_ascii_alphabetic()) {
                prop_assert!(FactorId::parse(&id.as_str().to_lowercase()).is_err());
            }
            let mut bad = id.as_str().to_owned();
            bad.replace_range(10..11, "U");
            prop_assert!(FactorId::parse(&bad).is_err());
        }
    }

    #[test]
    fn ids_sort_by_time_and_parse_back() {
        let a = UserId::generate(1_700_000_000_000, &OsRandom);
        let b = UserId::generate(1_700_000_000_001, &OsRandom);
        assert!(a < b);
        assert!(a.as_str().starts_with("usr_01H"));
        assert_eq!(UserId::parse(a.as_str()), Ok(a.clone()));
        assert!(TenantId::parse(a.as_str()).is_err());
        assert!(UserId::parse("usr_").is_err());
        assert!(UserId::parse("usr_01HABCDEFGHJKMNPQRSTVWXYZI").is_err());
        assert!(UserId::parse("usr_81HABCDEFGHJKMNPQRSTVWXYZ").is_err());
    }

    #[test]
    fn random_part_differs() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| TenantId::generate(5, &OsRandom)).collect();
        assert_eq!(ids.len(), 1000);
    }
}
