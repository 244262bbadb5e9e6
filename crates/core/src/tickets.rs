//! Enrollment tickets: a single-use link an administrator makes for one user (Auth0's
//! `POST /api/v2/guardian/enrollments/ticket`), which opens the hosted sign-in for that
//! account and leads it into enrolling a second factor.
//!
//! The ticket is not a credential: the user still signs in with their password, and a user
//! who already has a second factor proves it before adding another (SECURITY.md 35, the
//! Authelia #135 lesson: a password and a mailbox must not be enough to bind a factor next to
//! an existing one). What the ticket adds is the demand: the sign-in that spends it must end
//! in an enrollment (of the ticket's kind, when it names one), whatever the tenant's policy.
//!
//! Its token is 256 random bits, stored as a keyed hash, spent by one conditional write at
//! the sign-in that uses it; a newer ticket for the same user ends the older ones. It lives
//! five days, as Auth0's do (an administrator's invitation is read later than a reset email).

use crate::hash::{HashPurpose, KeyedHasher};
use crate::otp;

/// A ticket lives five days.
pub const LIFETIME_MS: i64 = 5 * 24 * 3600 * 1000;
/// The token's prefix, so a token pasted in the wrong place is recognised as such.
pub const TOKEN_PREFIX: &str = "et_";
/// The ticket id's prefix (the id names it in the audit log and the API; it opens nothing).
pub const ID_PREFIX: &str = "etk_";
/// The longest token accepted; longer input is refused before it is hashed.
pub const MAX_TOKEN_CHARS: usize = 100;
/// The hosted page a ticket's link opens (relative to the tenant's public URL).
pub const PAGE: &str = "/enroll";

/// The keyed hash a ticket's token is stored and found under.
pub fn token_hash(hasher: &KeyedHasher, token: &str) -> String {
    hasher.hash(HashPurpose::EnrollmentTicket, "ticket", token.as_bytes())
}

/// Whether `token` could be a ticket's token at all (prefix and length), before any lookup.
pub fn plausible(token: &str) -> bool {
    token.len() <= MAX_TOKEN_CHARS
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// An email to send: subject, plain text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The email that carries a ticket's link. The app name and link are escaped in the HTML
/// part. No code: the link alone opens the page, and the page asks for the password.
pub fn render(app_name: &str, link: &str) -> TicketMessage {
    let (app, href) = (otp::escape_html(app_name), otp::escape_html(link));
    TicketMessage {
        subject: format!("Set up two-step verification for {app_name}"),
        text: format!(
            "An administrator of {app_name} asks you to set up two-step verification for your \
             account.\n\nOpen this link, sign in with your password and follow the steps:\n{link}\n\n\
             The link works once, within 5 days. If you did not expect this, ignore this message \
             and tell your administrator: nothing changes on your account until you sign in \
             through the link."
        ),
        html: format!(
            "<p>An administrator of {app} asks you to set up two-step verification for your \
             account.</p>\
             <p><a href=\"{href}\">Set up two-step verification</a></p>\
             <p>Sign in with your password and follow the steps. The link works once, within 5 \
             days. If you did not expect this, ignore this message and tell your administrator: \
             nothing changes on your account until you sign in through the link.</p>"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_recognised_and_hashed_apart() {
        let hasher = KeyedHasher::new(zeroize::Zeroizing::new(vec![7u8; 32]));
        assert!(plausible("et_abc123"));
        assert!(!plausible("pr_abc123"), "a reset token is not a ticket");
        assert!(!plausible("et_ABC"));
        assert!(!plausible(&format!("et_{}", "a".repeat(MAX_TOKEN_CHARS))));
        let h = token_hash(&hasher, "et_abc");
        assert_ne!(h, token_hash(&hasher, "et_abd"));
        assert_ne!(
            h,
            crate::links::token_hash(&hasher, crate::links::LinkPurpose::ResetPassword, "et_abc"),
            "a ticket's hash is of its own purpose"
        );
    }

    #[test]
    fn the_email_escapes_what_it_quotes() {
        let m = render("<Acme>", "https://id.example/enroll?ticket=et_x&a=1");
        assert!(m.html.contains("&lt;Acme&gt;"));
        assert!(m.html.contains("ticket=et_x&amp;a=1"));
        assert!(m.text.contains("https://id.example/enroll?ticket=et_x&a=1"));
        assert!(!m.text.contains("code"), "a ticket's email carries no code");
    }
}
