//! Emailed links and codes that prove control of an account's address: verifying the
//! address, and resetting a forgotten password.
//!
//! Each email carries a link with a 256-bit random token and a six-digit code for the same
//! request; either works, once. The token alone names its account (it is unguessable); the
//! code is short, so it is entered with the email address and checked only against that
//! account's latest request of its purpose, under a per-address attempt throttle (as the
//! second-factor codes are). Both are stored as keyed hashes bound to the purpose (and the
//! code to the account), with the keyed hash of the address the email went to: a link for
//! an address the account no longer has stops working.
//!
//! Lifetimes are fixed: a reset link lives 30 minutes (OWASP Forgot Password Cheat Sheet:
//! short-lived), a verification link 24 hours (it proves only that the address receives
//! mail, and people open such mail later).

use crate::hash::{HashPurpose, KeyedHasher};
use crate::otp;

/// What an emailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkPurpose {
    VerifyEmail,
    ResetPassword,
}

impl LinkPurpose {
    pub const ALL: [LinkPurpose; 2] = [LinkPurpose::VerifyEmail, LinkPurpose::ResetPassword];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::VerifyEmail => "verify_email",
            LinkPurpose::ResetPassword => "reset_password",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// How long a link (and its code) lives, in milliseconds.
    pub fn lifetime_ms(self) -> i64 {
        match self {
            LinkPurpose::VerifyEmail => VERIFY_LIFETIME_MS,
            LinkPurpose::ResetPassword => RESET_LIFETIME_MS,
        }
    }

    /// The hosted page the link opens (relative to the public URL).
    pub fn page(self) -> &'static str {
        match self {
            LinkPurpose::VerifyEmail => "/verify-email",
            LinkPurpose::ResetPassword => "/password/reset",
        }
    }

    /// The token's prefix, so a token pasted in the wrong place is recognised as such.
    pub fn token_prefix(self) -> &'static str {
        match self {
            LinkPurpose::VerifyEmail => "ev_",
            LinkPurpose::ResetPassword => "pr_",
        }
    }
}

/// A password reset link lives 30 minutes.
pub const RESET_LIFETIME_MS: i64 = 30 * 60 * 1000;
/// An email verification link lives 24 hours.
pub const VERIFY_LIFETIME_MS: i64 = 24 * 3600 * 1000;
/// The longest token accepted (prefix and 52 base32 characters, with room to spare); longer
/// input is refused before it is hashed.
pub const MAX_TOKEN_CHARS: usize = 100;

/// The keyed hash a link's token is stored and found under, bound to its purpose.
pub fn token_hash(hasher: &KeyedHasher, purpose: LinkPurpose, token: &str) -> String {
    hasher.hash(HashPurpose::EmailLink, purpose.as_str(), token.as_bytes())
}

/// The keyed hash a link's code is stored under, bound to its purpose and account; `None`
/// for anything that is not six ASCII digits.
pub fn code_hash(hasher: &KeyedHasher, purpose: LinkPurpose, user_id: &str, code: &str) -> Option<String> {
    otp::well_formed(code).then(|| {
        hasher.hash(
            HashPurpose::EmailLink,
            &format!("code:{}:{user_id}", purpose.as_str()),
            code.as_bytes(),
        )
    })
}

/// An email to send: subject, plain text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The email for `purpose`: the link, the code, how long they live, the app's name. The
/// app name and link are escaped in the HTML part (the code is digits).
pub fn render(purpose: LinkPurpose, app_name: &str, link: &str, code: &str) -> LinkMessage {
    let (app, href) = (otp::escape_html(app_name), otp::escape_html(link));
    match purpose {
        LinkPurpose::ResetPassword => LinkMessage {
            subject: format!("Reset your {app_name} password"),
            text: format!(
                "Someone asked to reset the password of your {app_name} account.\n\n\
                 To choose a new password, open this link:\n{link}\n\n\
                 Or enter this code on the password reset page, with your email address: {code}\n\n\
                 The link and the code work once, within 30 minutes. If you did not ask for this, \
                 ignore this message: your password stays as it is."
            ),
            html: format!(
                "<p>Someone asked to reset the password of your {app} account.</p>\
                 <p><a href=\"{href}\">Choose a new password</a></p>\
                 <p>Or enter this code on the password reset page, with your email address:</p>\
                 <p style=\"font-size:24px;font-weight:bold;letter-spacing:4px\">{code}</p>\
                 <p>The link and the code work once, within 30 minutes. If you did not ask for this, \
                 ignore this message: your password stays as it is.</p>"
            ),
        },
        LinkPurpose::VerifyEmail => LinkMessage {
            subject: format!("Confirm your email address for {app_name}"),
            text: format!(
                "Confirm that this is your email address for your {app_name} account by opening \
                 this link:\n{link}\n\n\
                 Or enter this code on the email confirmation page, with your email address: {code}\n\n\
                 The link and the code work once, within 24 hours. If you did not create an account, \
                 ignore this message."
            ),
            html: format!(
                "<p>Confirm that this is your email address for your {app} account.</p>\
                 <p><a href=\"{href}\">Confirm my email address</a></p>\
                 <p>Or enter this code on the email confirmation page, with your email address:</p>\
                 <p style=\"font-size:24px;font-weight:bold;letter-spacing:4px\">{code}</p>\
                 <p>The link and the code work once, within 24 hours. If you did not create an \
                 account, ignore this message.</p>"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> KeyedHasher {
        KeyedHasher::new(zeroize::Zeroizing::new(vec![7u8; 32]))
    }

    #[test]
    fn purposes_round_trip_and_differ() {
        for p in LinkPurpose::ALL {
            assert_eq!(LinkPurpose::parse(p.as_str()), Some(p));
        }
        assert_ne!(
            LinkPurpose::VerifyEmail.token_prefix(),
            LinkPurpose::ResetPassword.token_prefix()
        );
        assert_eq!(RESET_LIFETIME_MS, 1_800_000);
    }

    #[test]
    fn hashes_are_bound_to_purpose_and_account() {
        let h = hasher();
        let (v, r) = (LinkPurpose::VerifyEmail, LinkPurpose::ResetPassword);
        assert_ne!(token_hash(&h, v, "t"), token_hash(&h, r, "t"));
        let a = code_hash(&h, r, "usr_a", "123456").unwrap();
        assert_ne!(Some(a.clone()), code_hash(&h, r, "usr_b", "123456"));
        assert_ne!(Some(a), code_hash(&h, v, "usr_a", "123456"));
        assert_eq!(code_hash(&h, r, "usr_a", "12345"), None);
        assert_eq!(code_hash(&h, r, "usr_a", "１２３４５６"), None);
    }

    #[test]
    fn messages_carry_link_and_code_and_escape_html() {
        let m = render(
            LinkPurpose::ResetPassword,
            "A<b>&\"",
            "https://id.test/password/reset?token=pr_x&y=\"",
            "012345",
        );
        assert!(m.text.contains("https://id.test/password/reset?token=pr_x&y=\""));
        assert!(m.text.contains("012345") && m.html.contains("012345"));
        assert!(m.html.contains("A&lt;b&gt;&amp;&quot;"));
        assert!(m
            .html
            .contains("href=\"https://id.test/password/reset?token=pr_x&amp;y=&quot;\""));
        assert!(!m.subject.contains('\n'));
        let v = render(LinkPurpose::VerifyEmail, "Acme", "https://l", "999999");
        assert!(v.subject.contains("Acme") && v.text.contains("24 hours"));
    }
}
