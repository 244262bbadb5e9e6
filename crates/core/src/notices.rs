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

impl Notice {
    /// The name a tenant's template for this notice goes by (`notice_templates`).
    pub fn key(&self) -> &'static str {
        match self {
            Notice::FactorAdded(_) => "factor_added",
            Notice::FactorRemoved(_) => "factor_removed",
            Notice::BackupCodeUsed { .. } => "backup_code_used",
            Notice::BackupCodesRegenerated => "backup_codes_regenerated",
            Notice::MfaReset => "mfa_reset",
            Notice::SecondFactorLocked(_) => "second_factor_locked",
            Notice::DeviceRemembered { .. } => "device_remembered",
        }
    }
}

/// Every notice a tenant may word its own way.
pub const TEMPLATE_KEYS: [&str; 7] = [
    "factor_added",
    "factor_removed",
    "backup_code_used",
    "backup_codes_regenerated",
    "mfa_reset",
    "second_factor_locked",
    "device_remembered",
];

/// A tenant's own wording of one notice. Placeholders: `{app_name}`, `{what}` (what
/// happened, in the product's words: which method, how many codes are left, which device),
/// `{when}` (RFC 3339), `{from}` (the client address, or `unknown`). `{what}` is required in
/// the text (and in the HTML when given), so no wording can drop the facts the notice is for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeTemplate {
    /// One line, at most 200 bytes.
    pub subject: String,
    /// At most 4000 bytes.
    pub text: String,
    /// At most 4000 bytes; without it the HTML part is the text, escaped, in paragraphs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl NoticeTemplate {
    /// What is wrong with it, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        if self.subject.trim().is_empty() || self.subject.len() > 200 || self.subject.contains(['\r', '\n']) {
            return Some("subject must be one line of at most 200 bytes");
        }
        if !self.text.contains("{what}") || self.text.len() > 4000 {
            return Some("text must contain {what} and be at most 4000 bytes");
        }
        if self
            .html
            .as_ref()
            .is_some_and(|h| !h.contains("{what}") || h.len() > 4000)
        {
            return Some("html must contain {what} and be at most 4000 bytes");
        }
        None
    }
}

/// The email for `notice` in a tenant's own wording (see [`NoticeTemplate`]); the
/// product's own ([`render`]) where the tenant has none.
pub fn render_with(
    notice: &Notice,
    template: Option<&NoticeTemplate>,
    app_name: &str,
    at: &str,
    from: Option<&str>,
) -> LinkMessage {
    let Some(t) = template else {
        return render(notice, app_name, at, from);
    };
    let (_, what) = wording(notice, app_name);
    let from = from.unwrap_or("unknown");
    let fill = |s: &str, escape: bool| {
        let e = |v: &str| if escape { escape_html(v) } else { v.to_owned() };
        s.replace("{app_name}", &e(app_name))
            .replace("{what}", &e(&what))
            .replace("{when}", &e(at))
            .replace("{from}", &e(from))
    };
    let text = fill(&t.text, false);
    let html = match &t.html {
        Some(h) => fill(h, true),
        None => text
            .split("\n\n")
            .map(|p| format!("<p>{}</p>", escape_html(p)))
            .collect(),
    };
    LinkMessage {
        subject: fill(&t.subject, false).replace(['\r', '\n'], " "),
        text,
        html,
    }
}

/// The email for `notice`, for an account of the app called `app_name`, about what
/// happened at `at` (as RFC 3339) from the client address `from`, if known.
pub fn render(notice: &Notice, app_name: &str, at: &str, from: Option<&str>) -> LinkMessage {
    let (subject, body) = wording(notice, app_name);
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

/// The subject and the sentence that says what happened.
fn wording(notice: &Notice, app_name: &str) -> (String, String) {
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
    (subject, body)
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
            assert!(TEMPLATE_KEYS.contains(&n.key()), "{n:?}");
        }
    }

    #[test]
    fn a_tenant_template_keeps_the_facts_and_escapes_them() {
        let t = NoticeTemplate {
            subject: "{app_name}: security notice".into(),
            text: "Hello,\n\n{what}\n\n({when}, {from})".into(),
            html: None,
        };
        assert_eq!(t.problem(), None);
        let m = render_with(
            &Notice::BackupCodeUsed { remaining: 2 },
            Some(&t),
            "Acme <b>",
            "2026-12-01T15:00:00Z",
            None,
        );
        assert_eq!(m.subject, "Acme <b>: security notice");
        assert!(
            m.text.contains("You have 2 backup codes left.")
                && m.text.contains("(2026-12-01T15:00:00Z, unknown)"),
            "{}",
            m.text
        );
        assert!(
            m.html.starts_with("<p>Hello,</p>") && m.html.contains("Acme &lt;b&gt;"),
            "{}",
            m.html
        );
        let html = NoticeTemplate {
            html: Some("<h1>{app_name}</h1><p>{what}</p>".into()),
            ..t.clone()
        };
        let m = render_with(&Notice::MfaReset, Some(&html), "A&B", "t", Some("203.0.113.9"));
        assert!(m.html.starts_with("<h1>A&amp;B</h1>"), "{}", m.html);
        for bad in [
            NoticeTemplate {
                subject: "two\nlines".into(),
                ..t.clone()
            },
            NoticeTemplate {
                text: "no facts".into(),
                ..t.clone()
            },
            NoticeTemplate {
                html: Some("<p>none</p>".into()),
                ..t.clone()
            },
            NoticeTemplate {
                text: format!("{{what}}{}", "x".repeat(4000)),
                ..t.clone()
            },
        ] {
            assert!(bad.problem().is_some(), "{bad:?}");
        }
        // Without a template: the product's words.
        assert_eq!(
            render_with(&Notice::MfaReset, None, "A", "t", None),
            render(&Notice::MfaReset, "A", "t", None)
        );
    }
}
