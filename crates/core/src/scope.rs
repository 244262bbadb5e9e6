//! What a tenant secret key may do beyond everyday administration. Every live key manages
//! users, factors, settings, rules and applications; the operations that can take a
//! user's second factor away, put one in the admin's hands or send their codes elsewhere
//! (resetting MFA or removing a factor, creating a factor already confirmed or new backup
//! codes for a user, weakening the tenant's MFA policy, changing a delivery provider) need
//! a key that was given [`KeyScope::MfaAdmin`] explicitly: one leaked
//! integration key is then not enough to strip MFA from an account (issue 13; ASVS 5.0
//! V8.2.2, least privilege).

use serde::{Deserialize, Serialize};

/// A permission a key holds only if it was created with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyScope {
    /// `mfa:admin`: the destructive MFA administration listed above.
    #[serde(rename = "mfa:admin")]
    MfaAdmin,
}

impl KeyScope {
    pub const ALL: [KeyScope; 1] = [KeyScope::MfaAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::MfaAdmin => "mfa:admin",
        }
    }

    pub fn parse(s: &str) -> Option<KeyScope> {
        KeyScope::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Parses scope names, deduplicated and sorted, or names the unknown ones.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<KeyScope>, String> {
        let mut scopes = Vec::new();
        let mut unknown = Vec::new();
        for n in names {
            match KeyScope::parse(n.as_ref().trim()) {
                Some(s) => scopes.push(s),
                None => unknown.push(n.as_ref().escape_debug().to_string()),
            }
        }
        if !unknown.is_empty() {
            return Err(format!(
                "unknown scope(s): {}; known: {}",
                unknown.join(", "),
                KeyScope::ALL.map(KeyScope::as_str).join(", ")
            ));
        }
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }

    /// The stored form: names separated by single spaces (as OAuth writes scopes).
    pub fn join(scopes: &[KeyScope]) -> String {
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// Reads the stored form. A name this version does not know is left out: the key then
    /// lacks it, which fails closed.
    pub fn split(stored: &str) -> Vec<KeyScope> {
        let mut scopes: Vec<KeyScope> = stored.split_whitespace().filter_map(KeyScope::parse).collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }
}

/// The Auth0 Management API v2 scopes an application's management token can carry that
/// weaken a tenant's MFA or take a user's factors away (or hand them out): the same
/// operations [`KeyScope::MfaAdmin`] guards for secret keys. Only a key holding
/// `mfa:admin` may grant them to an application, or give such an application a new
/// secret; else a plain key could mint itself the rights it lacks.
pub const PRIVILEGED_MANAGEMENT_SCOPES: [&str; 7] = [
    "update:guardian_factors",
    "update:mfa_policies",
    "create:authentication_methods",
    "update:authentication_methods",
    "delete:authentication_methods",
    "delete:guardian_enrollments",
    "create:guardian_enrollment_tickets",
];

/// Whether `scope` (an application's scope name) is one of [`PRIVILEGED_MANAGEMENT_SCOPES`].
pub fn is_privileged_management_scope(scope: &str) -> bool {
    PRIVILEGED_MANAGEMENT_SCOPES.contains(&scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_store_and_fail_closed() {
        assert_eq!(KeyScope::parse("mfa:admin"), Some(KeyScope::MfaAdmin));
        assert_eq!(KeyScope::parse("MFA:ADMIN"), None);
        assert_eq!(
            KeyScope::parse_list(&["mfa:admin", " mfa:admin "]),
            Ok(vec![KeyScope::MfaAdmin])
        );
        let err = KeyScope::parse_list(&["mfa:admin", "root"]).unwrap_err();
        assert!(err.contains("root") && err.contains("mfa:admin"), "{err}");
        assert_eq!(KeyScope::join(&[KeyScope::MfaAdmin]), "mfa:admin");
        assert_eq!(KeyScope::split("mfa:admin"), vec![KeyScope::MfaAdmin]);
        // Empty (every key before scopes existed) and unknown names grant nothing.
        assert!(KeyScope::split("").is_empty());
        assert!(KeyScope::split("admin:all mfa:root").is_empty());
        assert_eq!(
            serde_json::to_string(&KeyScope::MfaAdmin).unwrap(),
            "\"mfa:admin\""
        );
    }

    #[test]
    fn weakening_management_scopes_are_privileged_and_reading_ones_are_not() {
        for s in [
            "update:guardian_factors",
            "delete:authentication_methods",
            "delete:guardian_enrollments",
        ] {
            assert!(is_privileged_management_scope(s), "{s}");
        }
        for s in [
            "read:guardian_factors",
            "read:authentication_methods",
            "read:users",
            "UPDATE:guardian_factors",
        ] {
            assert!(!is_privileged_management_scope(s), "{s}");
        }
    }
}
