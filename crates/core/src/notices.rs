//! Security notices emailed to a user when something happens to their account's
//! authenticators (NIST SP 800-63B-4 §4.6: the subscriber is notified of authenticator
//! binding and removal, so an attacker who adds or removes one cannot do it unseen), and
//! when their second factor is under attack. Every word of them is here. They never carry
//! a code, a token or a link that does anything: they say what happened and what to do if
//! it was not the user.

use crate::factor::FactorKind;
use crate::links::LinkMessage;
use crate::otp::escape_html;

/// What a notice is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A second factor was added (confirmed, or created confirmed by an admin).
    FactorAdded(FactorKind),
    /// A second factor was removed.
    FactorRemoved(FactorKind),
    /// A backup code was used to sign in; `remaining` are left.
    BackupCodeUsed { remaining: u32 },
    /// New backup codes replaced the old ones.
    BackupCodesRegenerated,
    /// An administrator removed every second factor.
    MfaReset,
    /// Wrong second-factor answers locked a factor for a while.
    SecondFactorLocked(FactorKind),
    /// A device was remembered: it skips the second step at sign-in for `days` days.
    DeviceRemembered { device: String, days: u16 },
}

/// The name of a kind, as a user knows it.
fn kind_words(kind: FactorKind) -> &'static str {
    match kind {
        FactorKind::Totp => "an authenticator app",
        FactorKind::BackupCodes => "backup codes",
        FactorKind::Sms => "text-message codes",
        FactorKind::EmailOtp => "email codes",
        FactorKind::Webauthn => "a passkey or security key",
    }
}

const NOT_YOU: &str = "If this was not you, change your password now and review the sign-in \
     methods of your account, or contact your administrator.";

/// The email for `notice`, for an account of the app called `app_name`, about what
/// happened at `at` (as RFC 3339) from the client address `from`, if known.
pub fn render(notice: &Notice, app_name: &str, at: &str, from: Option<&str>) -> LinkMessage {
    let (subject, body) = match *notice {
        Notice::FactorAdded(kind) => (
            format!("A sign-in method was added to your {app_name} account"),
            format!(
                "{} was added as a second step for signing in to your {app_name} account.",
                capitalised(kind_words(kind))
            ),
        ),
        Notice::FactorRemoved(kind) => (
            format!("A sign-in method was removed from your {app_name} account"),
            format!(
                "{} was removed from the second steps for signing in to your {app_name} account.",
                capitalised(kind_words(kind))
            ),
        ),
        Notice::BackupCodeUsed { remaining } => (
            format!("A backup code was used to sign in to {app_name}"),
            format!(
                "A backup code was just used to sign in to your {app_name} account. {} Each code \
                 works once; make new ones before they run out.",
                match remaining {
                    0 => "You have no backup codes left.".to_owned(),
                    1 => "You have 1 backup code left.".to_owned(),
                    n => format!("You have {n} backup codes left."),
                }
            ),
        ),
        Notice::BackupCodesRegenerated => (
            format!("New backup codes were made for your {app_name} account"),
            format!("New backup codes were made for your {app_name} account; the old ones no longer work."),
        ),
        Notice::MfaReset => (
            format!("The second sign-in step of your {app_name} account was reset"),
            format!(
                "An administrator removed every second sign-in step of your {app_name} account. \
                 You will be asked to set one up again."
            ),
        ),
        Notice::SecondFactorLocked(kind) => (
            format!("Repeated failed sign-in attempts on your {app_name} account"),
            format!(
                "Someone who knows your {app_name} password entered wrong codes for {} several \
                 times, so it is locked for a while. Your account is still protected.",
                kind_words(kind)
            ),
        ),
        Notice::DeviceRemembered { ref device, days } => (
            format!("A device was remembered for your {app_name} account"),
            format!(
                "A device will skip the second sign-in step of your {app_name} account for the \
                 next {days} days: {device}. You can forget it in your account's settings."
            ),
        ),
    };
    let when = match from {
        Some(ip) => format!("When: {at}, from the address {ip}."),
        None => format!("When: {at}."),
    };
    let text = format!("{body}\n\n{when}\n\n{NOT_YOU}");
    let html = format!(
        "<p>{}</p><p>{}</p><p>{}</p>",
        escape_html(&body),
        escape_html(&when),
        escape_html(NOT_YOU)
    );
    LinkMessage { subject, text, html }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_what_happened_and_escape_the_app_name() {
        let at = "2026-12-01T15:00:00Z";
        let m = render(
            &Notice::BackupCodeUsed { remaining: 3 },
            "Acme <b>",
            at,
            Some("203.0.113.9"),
        );
        assert!(m
            .text
            .contains("When: 2026-12-01T15:00:00Z, from the address 203.0.113.9."));
        assert!(m.text.contains("You have 3 backup codes left."), "{}", m.text);
        assert!(
            m.html.contains("Acme &lt;b&gt;") && !m.html.contains("<b>"),
            "{}",
            m.html
        );
        assert!(render(&Notice::BackupCodeUsed { remaining: 1 }, "A", at, None)
            .text
            .contains("1 backup code left"));
        let added = render(&Notice::FactorAdded(FactorKind::Totp), "Acme", at, None);
        assert!(
            added.text.starts_with("An authenticator app was added"),
            "{}",
            added.text
        );
        for n in [
            Notice::FactorRemoved(FactorKind::Sms),
            Notice::BackupCodesRegenerated,
            Notice::MfaReset,
            Notice::SecondFactorLocked(FactorKind::Webauthn),
            Notice::DeviceRemembered {
                device: "Firefox <on> Linux".into(),
                days: 30,
            },
        ] {
            let m = render(&n, "Acme", at, None);
            assert!(
                m.subject.contains("Acme") && m.text.contains("If this was not you"),
                "{n:?}"
            );
            assert!(!m.html.contains("<on>"), "{}", m.html);
        }
    }
}
