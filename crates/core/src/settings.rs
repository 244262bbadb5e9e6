//! Per-tenant settings: what `GET/PATCH /v1/admin/config` shows and changes. Stored as JSON
//! with every field defaulted, so a setting added later needs no migration and old rows
//! read back with the new default.

use crate::devices::{RememberMode, RememberSettings};
use crate::factor::FactorKind;
use crate::phone::NumberClass;
use crate::policy::engine::{MinAssurance, Requirement, Rule};
use crate::throttle::ThrottlePolicy;
use crate::totp;
use serde::{Deserialize, Serialize};

pub const ACCESS_TTL_RANGE: (u64, u64) = (60, 86_400);
pub const REFRESH_TTL_RANGE: (u64, u64) = (3_600, 365 * 86_400);
pub const CHALLENGE_TTL_RANGE: (u64, u64) = (60, 600);
/// NIST SP 800-63B-4 §3.2.2: no more than 100 consecutive failures on one account.
pub const MAX_MFA_ATTEMPTS: u32 = 100;
/// The longest enrollment grace a tenant or a rule may give (days).
pub const MAX_GRACE_DAYS: u32 = 90;
/// The step-up freshness a tenant or a rule may ask (seconds).
pub const STEP_UP_RANGE: (u32, u32) = (60, 86_400);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// Lifetime of access tokens (seconds). Default 15 minutes.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh-token family from sign-in (seconds). Default 30 days.
    pub refresh_token_ttl_secs: u64,
    /// Whether `POST /v1/auth/signup` is open to the public.
    pub signup_enabled: bool,
    /// Every user must pass a second factor (and enroll one at sign-in if they have none).
    pub mfa_required: bool,
    /// The factor kinds users may enroll and use.
    pub mfa_allowed_factors: Vec<FactorKind>,
    /// The least assurance second factors must reach: `aal2` (any allowed kind) or
    /// `phishing_resistant` (WebAuthn with user verification alone).
    pub mfa_min_assurance: MinAssurance,
    /// Days a user without a factor may still sign in by password after the tenant began
    /// requiring MFA (0 to 90). Unset, the tenant gives no grace of its own.
    pub mfa_enrollment_grace_days: Option<u32>,
    /// How recently a session must have passed a second factor to change factors (60 to
    /// 86400 seconds). Unset, the other levels' or the default (900).
    pub mfa_step_up_secs: Option<u32>,
    /// When `mfa_required` was last switched on (ms), set by the server: the tenant's
    /// enrollment grace counts from here (from the tenant's creation if unset).
    pub mfa_required_at: Option<i64>,
    /// TOTP steps accepted either side of now: 1 (RFC 6238's recommendation) or 0.
    pub totp_window: u8,
    /// The HMAC new TOTP factors use (RFC 6238 §1.2). SHA1 by default: many authenticator
    /// apps ignore `algorithm=` in the key URI and would show wrong codes otherwise.
    pub totp_algorithm: totp::Algorithm,
    /// Failed second-factor attempts per factor before waits begin (at most 100).
    pub mfa_max_attempts: u32,
    /// How long a sign-in challenge stays open (seconds).
    pub challenge_ttl_secs: u64,
    /// Lifetime of SMS codes (seconds; at most 10 minutes, NIST SP 800-63B-4 §3.1.3.2).
    pub sms_otp_expiry_secs: u64,
    /// Lifetime of email codes (seconds; at most 10 minutes).
    pub email_otp_expiry_secs: u64,
    /// Minimum wait before another code for the same challenge or pending enrollment.
    pub otp_resend_cooldown_secs: u64,
    /// ISO 3166 alpha-2 regions SMS may go to; `None` means all, empty means none.
    pub sms_allowed_countries: Option<Vec<String>>,
    /// Risky number classes (satellite, premium rate…) SMS may go to anyway. Empty, the
    /// default, refuses every one of them (SMS pumping: SECURITY.md tests 19 and 76).
    pub sms_allowed_number_classes: Vec<NumberClass>,
    /// Send limits, per destination, user, client address and tenant.
    pub send_limits: SendLimits,
    /// The name messages and authenticator apps show; the tenant's name if unset.
    pub app_name: Option<String>,
    /// Message templates; `{code}`, `{app_name}` and `{minutes}` are filled in.
    pub sms_template: String,
    /// The SMS that confirms a new number (an enrollment's code); unset, `sms_template`.
    pub sms_enrollment_template: Option<String>,
    pub email_subject_template: String,
    pub email_text_template: String,
    pub email_html_template: String,
    /// WebAuthn (passkeys and security keys).
    pub webauthn: WebauthnSettings,
    /// How the hosted pages look for this tenant's users.
    pub branding: Branding,
    /// When a device may stand in for the second factor at later sign-ins, and for how
    /// long (`devices.rs`).
    pub remember_device: RememberSettings,
    /// The tenant's own wording of security notices, by notice (`notices::TEMPLATE_KEYS`);
    /// a notice without one uses the product's words.
    pub notice_templates: std::collections::BTreeMap<String, crate::notices::NoticeTemplate>,
    /// Adaptive MFA: a second factor (or a refusal) when a sign-in looks risky.
    pub adaptive: AdaptiveSettings,
}

/// Adaptive MFA (nauth's `ADAPTIVE` enforcement; `policy::risk` scores a sign-in from 0
/// to 100): at `mfa_score` or above a sign-in must pass a second factor, at `deny_score` or
/// above it is refused. Off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdaptiveSettings {
    pub enabled: bool,
    /// 1 to 100.
    pub mfa_score: u32,
    /// Above `mfa_score`, at most 100; `None` never refuses.
    pub deny_score: Option<u32>,
}

impl Default for AdaptiveSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            mfa_score: 40,
            deny_score: Some(90),
        }
    }
}

impl AdaptiveSettings {
    /// What a sign-in's risk score leads to (only asked while `enabled`).
    pub fn decide(&self, score: u32) -> crate::policy::risk::RiskDecision {
        use crate::policy::risk::RiskDecision;
        if self.deny_score.is_some_and(|d| score >= d) {
            RiskDecision::Deny
        } else if score >= self.mfa_score {
            RiskDecision::RequireMfa
        } else {
            RiskDecision::Allow
        }
    }
}

/// A tenant's look on the hosted pages: the name in their header and titles, a logo beside
/// it, the accent colour of buttons and links. Unset, the product's own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Branding {
    pub display_name: Option<String>,
    /// An `https://` image URL (the pages' policy then allows images from its origin).
    pub logo_url: Option<String>,
    /// `#rrggbb`, dark enough for white text on it (WCAG AA, 4.5:1).
    pub primary_color: Option<String>,
}

/// The `(r, g, b)` of a `#rrggbb` colour.
pub fn parse_hex_color(s: &str) -> Option<(u8, u8, u8)> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some((channel(0)?, channel(2)?, channel(4)?))
}

/// The WCAG 2.x contrast ratio of a colour against white.
pub fn contrast_with_white((r, g, b): (u8, u8, u8)) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    1.05 / (luminance + 0.05)
}

/// Whether `url` may be a logo: `https://host/…`, at most 2048 characters, no credentials,
/// no character that would need escaping in HTML or CSS.
pub fn valid_logo_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    url.len() <= 2048
        && !authority.is_empty()
        && !authority.contains('@')
        && url.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`' | b'(' | b')')
        })
}

/// Whether a WebAuthn authenticator must verify its user (PIN or biometric) each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    /// Always: every credential is then a multi-factor authenticator on its own (passkeys).
    Required,
    /// When the authenticator can: security keys without a PIN are accepted as a second
    /// factor, and a credential that verified its user at registration must always do so.
    Preferred,
}

/// What a WebAuthn registration must prove about the authenticator's make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationPolicy {
    /// Nothing (the default, and what synced passkeys give).
    None,
    /// A verified attestation from a known manufacturer, of an authenticator model (AAGUID)
    /// on the tenant's allow-list.
    Direct,
}

/// A tenant's WebAuthn relying-party settings. Unset, the relying party is the server's
/// public URL (`localhost` when that is a loopback address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebauthnSettings {
    /// The relying-party id: a domain, the public URL's host or one of its parents.
    pub rp_id: Option<String>,
    /// The name authenticators show; the app name if unset.
    pub rp_name: Option<String>,
    /// The exact origins (`https://host[:port]`) ceremonies may come from; the public URL's
    /// origin if empty. No wildcards, no subdomains, no other ports.
    pub origins: Vec<String>,
    pub user_verification: UserVerification,
    pub attestation: AttestationPolicy,
    /// Authenticator models (AAGUIDs) accepted with `attestation: direct`.
    pub allowed_aaguids: Vec<String>,
    /// The manufacturers' attestation root certificates (PEM) those models must chain to,
    /// with `attestation: direct` (e.g. Yubico's published root).
    pub attestation_ca_pems: Vec<String>,
    /// Accept ceremonies run inside a cross-origin frame (`crossOrigin: true`). Off: the
    /// pages are never framed, so such a ceremony is someone else's page using ours.
    pub allow_cross_origin: bool,
}

impl Default for WebauthnSettings {
    fn default() -> Self {
        Self {
            rp_id: None,
            rp_name: None,
            origins: Vec::new(),
            user_verification: UserVerification::Required,
            attestation: AttestationPolicy::None,
            allowed_aaguids: Vec::new(),
            attestation_ca_pems: Vec::new(),
            allow_cross_origin: false,
        }
    }
}

/// Whether `s` is a domain name a relying-party id can be: lowercase labels of letters,
/// digits and hyphens, separated by dots, not an IP address.
pub fn valid_rp_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.parse::<std::net::IpAddr>().is_err()
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The host of an exact origin (`scheme://host[:port]`, nothing after), if it is one:
/// `https`, or `http` for `localhost` only (browsers run WebAuthn nowhere else without TLS).
pub fn origin_host(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    let host = match rest.rsplit_once(':') {
        Some((h, port))
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.len() <= 5 =>
        {
            h
        }
        _ => rest,
    };
    let ok = match scheme {
        "https" => valid_rp_id(host),
        "http" => host == "localhost",
        _ => false,
    };
    ok.then_some(host)
}

/// Whether `host` is `rp_id` or one of its subdomains (WebAuthn's "registrable domain
/// suffix" rule, without the public-suffix list).
pub fn host_within(host: &str, rp_id: &str) -> bool {
    host == rp_id || host.strip_suffix(rp_id).is_some_and(|p| p.ends_with('.'))
}

/// Whether `s` is an AAGUID written as a UUID (`8-4-4-4-12` hex digits).
pub fn valid_aaguid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How many codes may be sent per hour and per day to one destination, for one user, from
/// one client address, and for a whole tenant. Over a limit nothing is sent (SMS pumping and
/// cost exhaustion: SECURITY.md tests 18 and 19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SendLimits {
    pub destination_hourly: u32,
    pub destination_daily: u32,
    pub user_hourly: u32,
    pub user_daily: u32,
    pub ip_hourly: u32,
    pub ip_daily: u32,
    pub tenant_hourly: u32,
    pub tenant_daily: u32,
}

impl Default for SendLimits {
    fn default() -> Self {
        Self {
            destination_hourly: 5,
            destination_daily: 10,
            user_hourly: 10,
            user_daily: 20,
            ip_hourly: 20,
            ip_daily: 100,
            tenant_hourly: 1_000,
            tenant_daily: 10_000,
        }
    }
}

pub const OTP_EXPIRY_RANGE: (u64, u64) = (60, 600);

pub const DEFAULT_SMS_TEMPLATE: &str =
    "{app_name}: your verification code is {code}. It expires in {minutes} minutes.";
pub const DEFAULT_EMAIL_SUBJECT: &str = "Your {app_name} verification code";
pub const DEFAULT_EMAIL_TEXT: &str = "Your {app_name} verification code is {code}.\n\nIt expires in {minutes} minutes. If you did not try to sign in, you can ignore this message, and consider changing your password.";
pub const DEFAULT_EMAIL_HTML: &str = "<p>Your {app_name} verification code is</p><p style=\"font-size:24px;font-weight:bold;letter-spacing:4px\">{code}</p><p>It expires in {minutes} minutes. If you did not try to sign in, you can ignore this message, and consider changing your password.</p>";

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 86_400,
            signup_enabled: true,
            mfa_required: false,
            mfa_allowed_factors: vec![FactorKind::Totp, FactorKind::BackupCodes],
            mfa_min_assurance: MinAssurance::Aal2,
            mfa_enrollment_grace_days: None,
            mfa_step_up_secs: None,
            mfa_required_at: None,
            totp_window: 1,
            totp_algorithm: totp::Algorithm::Sha1,
            mfa_max_attempts: 5,
            challenge_ttl_secs: 300,
            sms_otp_expiry_secs: 600,
            email_otp_expiry_secs: 600,
            otp_resend_cooldown_secs: 60,
            sms_allowed_countries: None,
            sms_allowed_number_classes: Vec::new(),
            send_limits: SendLimits::default(),
            app_name: None,
            sms_template: DEFAULT_SMS_TEMPLATE.into(),
            sms_enrollment_template: None,
            email_subject_template: DEFAULT_EMAIL_SUBJECT.into(),
            email_text_template: DEFAULT_EMAIL_TEXT.into(),
            email_html_template: DEFAULT_EMAIL_HTML.into(),
            webauthn: WebauthnSettings::default(),
            branding: Branding::default(),
            remember_device: RememberSettings::default(),
            notice_templates: Default::default(),
            adaptive: AdaptiveSettings::default(),
        }
    }
}

impl TenantSettings {
    /// Every problem with these settings, as `(field, message)` pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let in_range = |v: u64, (lo, hi): (u64, u64)| v >= lo && v <= hi;
        if !in_range(self.access_token_ttl_secs, ACCESS_TTL_RANGE) {
            out.push(("access_token_ttl", "must be between 1m and 24h".to_string()));
        }
        if !in_range(self.refresh_token_ttl_secs, REFRESH_TTL_RANGE) {
            out.push(("refresh_token_ttl", "must be between 1h and 365d".to_string()));
        }
        if self.refresh_token_ttl_secs < self.access_token_ttl_secs {
            out.push((
                "refresh_token_ttl",
                "must not be shorter than access_token_ttl".to_string(),
            ));
        }
        if self.totp_window > 1 {
            out.push((
                "totp_window",
                "must be 0 or 1 (RFC 6238 allows one step of drift)".to_string(),
            ));
        }
        if self.mfa_max_attempts == 0 || self.mfa_max_attempts > MAX_MFA_ATTEMPTS {
            out.push((
                "mfa_max_attempts",
                format!("must be between 1 and {MAX_MFA_ATTEMPTS}"),
            ));
        }
        for (key, t) in &self.notice_templates {
            if !crate::notices::TEMPLATE_KEYS.contains(&key.as_str()) {
                out.push((
                    "notice_templates",
                    format!(
                        "unknown notice {key:?}; the notices are {}",
                        crate::notices::TEMPLATE_KEYS.join(", ")
                    ),
                ));
            } else if let Some(p) = t.problem() {
                out.push(("notice_templates", format!("{key}: {p}")));
            }
        }
        if self.remember_device.days == 0 || self.remember_device.days > crate::devices::MAX_DAYS {
            out.push((
                "remember_device_days",
                format!("must be between 1 and {}", crate::devices::MAX_DAYS),
            ));
        }
        if !in_range(self.challenge_ttl_secs, CHALLENGE_TTL_RANGE) {
            out.push(("challenge_ttl", "must be between 1m and 10m".to_string()));
        }
        if !in_range(self.sms_otp_expiry_secs, OTP_EXPIRY_RANGE) {
            out.push(("sms_otp_expiry", "must be between 1m and 10m".to_string()));
        }
        if !in_range(self.email_otp_expiry_secs, OTP_EXPIRY_RANGE) {
            out.push(("email_otp_expiry", "must be between 1m and 10m".to_string()));
        }
        if !in_range(self.otp_resend_cooldown_secs, (10, 3600)) {
            out.push(("otp_resend_cooldown", "must be between 10s and 1h".to_string()));
        }
        if let Some(countries) = &self.sms_allowed_countries {
            if countries
                .iter()
                .any(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
            {
                out.push((
                    "sms_allowed_countries",
                    "must be ISO 3166 alpha-2 codes like US, CA".to_string(),
                ));
            }
        }
        let classes = &self.sms_allowed_number_classes;
        if classes.iter().enumerate().any(|(i, c)| classes[..i].contains(c)) {
            out.push((
                "sms_allowed_number_classes",
                "must not name a class twice".to_string(),
            ));
        }
        let l = &self.send_limits;
        let pairs = [
            (l.destination_hourly, l.destination_daily),
            (l.user_hourly, l.user_daily),
            (l.ip_hourly, l.ip_daily),
            (l.tenant_hourly, l.tenant_daily),
        ];
        if pairs.iter().any(|(h, d)| *h == 0 || h > d || *d > 1_000_000) {
            out.push((
                "send_limits",
                "every limit must be at least 1, hourly at most daily, daily at most 1000000".to_string(),
            ));
        }
        if self
            .app_name
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control))
        {
            out.push(("app_name", "must be 1 to 64 printable characters".to_string()));
        }
        for (field, t) in [
            ("sms_template", &self.sms_template),
            ("email_text_template", &self.email_text_template),
            ("email_html_template", &self.email_html_template),
        ] {
            if !t.contains("{code}") || t.len() > 4000 {
                out.push((field, "must contain {code} and be at most 4000 bytes".to_string()));
            }
        }
        if self
            .sms_enrollment_template
            .as_ref()
            .is_some_and(|t| !t.contains("{code}") || t.len() > 4000)
        {
            out.push((
                "sms_enrollment_template",
                "must contain {code} and be at most 4000 bytes".to_string(),
            ));
        }
        if self.email_subject_template.is_empty()
            || self.email_subject_template.len() > 200
            || self.email_subject_template.contains(['\r', '\n'])
        {
            out.push((
                "email_subject_template",
                "must be one line of at most 200 bytes".to_string(),
            ));
        }
        let b = &self.branding;
        if b.display_name.as_ref().is_some_and(|n| {
            n.is_empty() || crate::text::display_name(n, 60).map_or(true, |clean| clean != *n)
        }) {
            out.push((
                "branding.display_name",
                "must be 1 to 60 characters, no control, invisible or bidirectional-control characters"
                    .to_string(),
            ));
        }
        if b.logo_url.as_deref().is_some_and(|u| !valid_logo_url(u)) {
            out.push((
                "branding.logo_url",
                "must be an https:// URL of at most 2048 characters, without credentials or quotes"
                    .to_string(),
            ));
        }
        if let Some(c) = &b.primary_color {
            match parse_hex_color(c) {
                None => out.push(("branding.primary_color", "must be #rrggbb".to_string())),
                Some(rgb) if contrast_with_white(rgb) < 4.5 => out.push((
                    "branding.primary_color",
                    format!(
                        "is too light for white text on it: contrast {:.1}:1, at least 4.5:1 (WCAG AA)",
                        contrast_with_white(rgb)
                    ),
                )),
                Some(_) => {}
            }
        }
        let w = &self.webauthn;
        if w.rp_id.as_deref().is_some_and(|r| !valid_rp_id(r)) {
            out.push((
                "webauthn.rp_id",
                "must be a lowercase domain name (no scheme, port or IP address)".to_string(),
            ));
        }
        if w.rp_name
            .as_ref()
            .is_some_and(|n| n.trim().is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control))
        {
            out.push((
                "webauthn.rp_name",
                "must be 1 to 64 printable characters".to_string(),
            ));
        }
        if w.origins.len() > 20 || w.origins.iter().any(|o| origin_host(o).is_none()) {
            out.push((
                "webauthn.origins",
                "must be at most 20 exact origins like https://app.example.com (http only for localhost)"
                    .to_string(),
            ));
        } else if let Some(rp) = &w.rp_id {
            if w.origins
                .iter()
                .filter_map(|o| origin_host(o))
                .any(|h| !host_within(h, rp))
            {
                out.push((
                    "webauthn.origins",
                    "every origin's host must be the rp_id or a subdomain of it".to_string(),
                ));
            }
        }
        if w.allowed_aaguids.len() > 100 || w.allowed_aaguids.iter().any(|a| !valid_aaguid(a)) {
            out.push((
                "webauthn.allowed_aaguids",
                "must be at most 100 AAGUIDs like cb69481e-8ff7-4039-93ec-0a2729a154a8".to_string(),
            ));
        }
        if w.attestation == AttestationPolicy::Direct && w.allowed_aaguids.is_empty() {
            out.push((
                "webauthn.allowed_aaguids",
                "must name the authenticator models accepted when attestation is direct".to_string(),
            ));
        }
        let pem = |p: &String| {
            let p = p.trim();
            p.len() <= 16_384
                && p.starts_with("-----BEGIN CERTIFICATE-----")
                && p.ends_with("-----END CERTIFICATE-----")
        };
        if w.attestation_ca_pems.len() > 20 || !w.attestation_ca_pems.iter().all(pem) {
            out.push((
                "webauthn.attestation_ca_pems",
                "must be at most 20 PEM certificates".to_string(),
            ));
        } else if w.attestation == AttestationPolicy::Direct && w.attestation_ca_pems.is_empty() {
            out.push((
                "webauthn.attestation_ca_pems",
                "must hold the manufacturers' root certificates when attestation is direct".to_string(),
            ));
        }
        let a = &self.adaptive;
        if !(1..=100).contains(&a.mfa_score) {
            out.push(("adaptive.mfa_score", "must be between 1 and 100".to_string()));
        }
        if a.deny_score.is_some_and(|d| d <= a.mfa_score || d > 100) {
            out.push((
                "adaptive.deny_score",
                "must be above adaptive.mfa_score and at most 100, or null to never refuse".to_string(),
            ));
        }
        if self.mfa_required && !self.mfa_allowed_factors.iter().any(|k| k.enrollable()) {
            out.push((
                "mfa_allowed_factors",
                "must allow a factor users can enroll when MFA is required".to_string(),
            ));
        }
        // The same bounds as a rule's (`/v1/admin/mfa-rules`).
        if self.mfa_enrollment_grace_days.is_some_and(|d| d > MAX_GRACE_DAYS) {
            out.push((
                "mfa_enrollment_grace_days",
                format!("must be 0 to {MAX_GRACE_DAYS}"),
            ));
        }
        if self
            .mfa_step_up_secs
            .is_some_and(|s| !(STEP_UP_RANGE.0..=STEP_UP_RANGE.1).contains(&s))
        {
            out.push((
                "mfa_step_up_secs",
                format!("must be {} to {}", STEP_UP_RANGE.0, STEP_UP_RANGE.1),
            ));
        }
        if self.mfa_min_assurance == MinAssurance::PhishingResistant
            && !self.mfa_allowed_factors.contains(&FactorKind::Webauthn)
        {
            out.push((
                "mfa_min_assurance",
                "phishing_resistant needs webauthn among mfa_allowed_factors".to_string(),
            ));
        }
        out
    }

    /// What the tenant's settings say as a level of the policy engine (`policy::engine`).
    pub fn mfa_rule(&self) -> Rule {
        Rule {
            mfa: self.mfa_required.then_some(Requirement::Required),
            allowed_factors: Some(self.mfa_allowed_factors.clone()),
            min_assurance: Some(self.mfa_min_assurance),
            enrollment_grace_days: self.mfa_enrollment_grace_days,
            step_up_secs: self.mfa_step_up_secs,
        }
    }

    /// The MFA settings `self` (the settings in force) would weaken were `next` saved: MFA
    /// no longer required, a lower assurance, a longer enrollment grace while MFA is
    /// required, devices remembered more often or for longer, adaptive MFA off or asking
    /// less often. Such a change lets
    /// the tenant's users in with less, so it needs the `mfa:admin` scope
    /// (`crate::scope`). Narrowing or widening the allowed kinds, or the step-up freshness,
    /// is everyday configuration and not listed.
    pub fn mfa_weakened_by(&self, next: &TenantSettings) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.mfa_required && !next.mfa_required {
            out.push("mfa_required");
        }
        if next.mfa_min_assurance < self.mfa_min_assurance {
            out.push("mfa_min_assurance");
        }
        // Giving a grace together with switching MFA on asks more than before, not less.
        if self.mfa_required
            && next.mfa_enrollment_grace_days.unwrap_or(0) > self.mfa_enrollment_grace_days.unwrap_or(0)
        {
            out.push("mfa_enrollment_grace_days");
        }
        // Remembered devices skip the second factor: remembering more often, or for longer.
        let (was, will) = (&self.remember_device, &next.remember_device);
        if will.mode.rank() > was.mode.rank() || (will.mode != RememberMode::Never && will.days > was.days) {
            out.push("remember_device");
        }
        // Adaptive MFA asks for a second factor or refuses: off, or asking less often.
        let (was, will) = (&self.adaptive, &next.adaptive);
        if was.enabled
            && (!will.enabled
                || will.mfa_score > was.mfa_score
                || will.deny_score.unwrap_or(u32::MAX) > was.deny_score.unwrap_or(u32::MAX))
        {
            out.push("adaptive");
        }
        out
    }

    /// Whether SMS may go to a number of this region.
    pub fn sms_region_allowed(&self, region: Option<&str>) -> bool {
        match (&self.sms_allowed_countries, region) {
            (None, _) => true,
            (Some(list), Some(r)) => list.iter().any(|c| c == r),
            (Some(_), None) => false,
        }
    }

    /// Whether SMS may go to a number of this class (`None`: an ordinary number).
    pub fn sms_number_class_allowed(&self, class: Option<NumberClass>) -> bool {
        class.is_none_or(|c| self.sms_allowed_number_classes.contains(&c))
    }

    pub fn otp_expiry_secs(&self, channel: crate::factor::Channel) -> u64 {
        match channel {
            crate::factor::Channel::Sms => self.sms_otp_expiry_secs,
            crate::factor::Channel::Email => self.email_otp_expiry_secs,
        }
    }

    pub fn allows(&self, kind: FactorKind) -> bool {
        self.mfa_allowed_factors.contains(&kind)
    }

    /// Second-factor throttling: `mfa_max_attempts` tries, then waits of 30 s doubling up
    /// to an hour (NIST SP 800-63B rev3 §5.2.2's "30 seconds up to an hour"), forgotten
    /// after a day without failures.
    pub fn factor_throttle(&self) -> ThrottlePolicy {
        ThrottlePolicy {
            free_attempts: self.mfa_max_attempts.clamp(1, MAX_MFA_ATTEMPTS),
            base_delay_secs: 30,
            max_delay_secs: 3600,
            reset_after_secs: 86_400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branding_is_checked() {
        let mut t = TenantSettings::default();
        assert!(t.problems().is_empty());
        t.branding = Branding {
            display_name: Some("Acme Notes".into()),
            logo_url: Some("https://cdn.acme.example/logo.svg".into()),
            primary_color: Some("#0a5cc2".into()),
        };
        assert!(t.problems().is_empty(), "{:?}", t.problems());
        let bad = |b: Branding| {
            let t = TenantSettings {
                branding: b,
                ..TenantSettings::default()
            };
            t.problems().into_iter().map(|(f, _)| f).collect::<Vec<_>>()
        };
        for name in ["", " padded ", "Acme\u{202E}", &"x".repeat(61)] {
            let b = Branding {
                display_name: Some(name.into()),
                ..Branding::default()
            };
            assert_eq!(bad(b), ["branding.display_name"], "{name:?}");
        }
        for url in [
            "http://acme.example/logo.png",
            "https://",
            "https://user:pw@acme.example/logo.png",
            "https://acme.example/logo.png\"onerror=\"x",
            "https://acme.example/a b.png",
            "javascript:alert(1)",
            "https://acme.example/x).png",
        ] {
            let b = Branding {
                logo_url: Some(url.into()),
                ..Branding::default()
            };
            assert_eq!(bad(b), ["branding.logo_url"], "{url}");
        }
        for c in ["0a5cc2", "#0a5cc", "#gggggg", "#ffffff", "#ffd700"] {
            let b = Branding {
                primary_color: Some(c.into()),
                ..Branding::default()
            };
            assert_eq!(bad(b), ["branding.primary_color"], "{c}");
        }
        assert!((contrast_with_white((0, 0, 0)) - 21.0).abs() < 0.01);
        assert!((contrast_with_white((255, 255, 255)) - 1.0).abs() < 0.01);
    }

    #[test]
    fn defaults_are_valid_and_old_rows_read_back() {
        assert!(TenantSettings::default().problems().is_empty());
        let old: TenantSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(old, TenantSettings::default());
        let bad = TenantSettings {
            access_token_ttl_secs: 5,
            ..Default::default()
        };
        assert_eq!(bad.problems().len(), 1);
        // Rows written before these settings existed refuse every risky class and keep SHA1.
        let old: TenantSettings = serde_json::from_str(r#"{"totp_window":0}"#).unwrap();
        assert!(old.sms_allowed_number_classes.is_empty());
        assert_eq!(old.totp_algorithm, totp::Algorithm::Sha1);
    }

    #[test]
    fn the_tenant_level_of_the_policy_engine() {
        use crate::policy::engine::{decide, Level, Sourced};
        use FactorKind::*;
        let tenant = |s: &TenantSettings, since: i64| Sourced {
            level: Level::Tenant,
            id: "tnt_1".into(),
            name: None,
            rule: s.mfa_rule(),
            since,
            exempt_until: None,
        };
        let role = |rule: Rule| Sourced {
            level: Level::Role,
            id: "rol_1".into(),
            name: None,
            rule,
            since: 0,
            exempt_until: None,
        };
        const DAY: i64 = 86_400_000;
        let cited = |d: &crate::policy::engine::Decision| -> Vec<(Level, &'static str)> {
            d.because.iter().map(|b| (b.level, b.rule)).collect()
        };
        // Defaults: nothing cited, the engine's defaults.
        let d = decide(&[tenant(&TenantSettings::default(), 0)], 0);
        assert!(!d.required && d.because.is_empty());
        assert_eq!(
            (d.min_aal, d.step_up_secs, d.grace_until),
            (MinAssurance::Aal2, 900, None)
        );
        // (settings, a role's rule, now) -> (allowed, grace_until, step_up, cited)
        type Case = (
            TenantSettings,
            Rule,
            Vec<FactorKind>,
            Option<i64>,
            u32,
            Vec<(Level, &'static str)>,
        );
        let strict = TenantSettings {
            mfa_required: true,
            mfa_allowed_factors: vec![Totp, Webauthn, BackupCodes],
            mfa_min_assurance: MinAssurance::PhishingResistant,
            mfa_enrollment_grace_days: Some(7),
            mfa_step_up_secs: Some(300),
            ..Default::default()
        };
        let table: Vec<Case> = vec![
            (
                strict.clone(),
                Rule::default(),
                vec![Webauthn],
                Some(10 * DAY + 7 * DAY),
                300,
                vec![
                    (Level::Tenant, "required"),
                    (Level::Tenant, "min_assurance"),
                    (Level::Tenant, "step_up_secs"),
                    (Level::Tenant, "enrollment_grace_days"),
                ],
            ),
            // A role asking less does not loosen the tenant; asking more wins.
            (
                strict.clone(),
                Rule {
                    min_assurance: Some(MinAssurance::Aal2),
                    enrollment_grace_days: Some(3),
                    step_up_secs: Some(600),
                    ..Rule::default()
                },
                vec![Webauthn],
                Some(10 * DAY + 3 * DAY),
                300,
                vec![
                    (Level::Tenant, "required"),
                    (Level::Tenant, "min_assurance"),
                    (Level::Tenant, "step_up_secs"),
                    (Level::Role, "enrollment_grace_days"),
                ],
            ),
            // Grace and freshness without the tenant requiring MFA: a role's requirement
            // takes the tenant's grace (the role's rule is older, so it counts from it).
            (
                TenantSettings {
                    mfa_enrollment_grace_days: Some(5),
                    mfa_step_up_secs: Some(120),
                    ..Default::default()
                },
                Rule {
                    mfa: Some(Requirement::Required),
                    ..Rule::default()
                },
                vec![Totp, BackupCodes],
                Some(5 * DAY),
                120,
                vec![
                    (Level::Role, "required"),
                    (Level::Tenant, "step_up_secs"),
                    (Level::Tenant, "enrollment_grace_days"),
                ],
            ),
        ];
        for (i, (settings, rule, allowed, grace, step_up, why)) in table.into_iter().enumerate() {
            assert!(
                settings.problems().is_empty(),
                "case {i}: {:?}",
                settings.problems()
            );
            let d = decide(&[tenant(&settings, 10 * DAY), role(rule)], 11 * DAY);
            assert_eq!(d.allowed, allowed, "case {i}");
            assert_eq!(d.grace_until, grace, "case {i}");
            assert_eq!(d.step_up_secs, step_up, "case {i}");
            assert_eq!(cited(&d), why, "case {i}");
        }
    }

    #[test]
    fn tenant_policy_settings_are_checked_and_weakening_is_named() {
        let base = TenantSettings::default();
        let bad = TenantSettings {
            mfa_enrollment_grace_days: Some(91),
            mfa_step_up_secs: Some(59),
            mfa_min_assurance: MinAssurance::PhishingResistant,
            ..Default::default()
        };
        let fields: Vec<&str> = bad.problems().iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            vec![
                "mfa_enrollment_grace_days",
                "mfa_step_up_secs",
                "mfa_min_assurance"
            ]
        );
        let ok = TenantSettings {
            mfa_enrollment_grace_days: Some(90),
            mfa_step_up_secs: Some(86_400),
            ..Default::default()
        };
        assert!(ok.problems().is_empty());
        // Weakening: off, lower, longer. Stricter changes and everyday ones are not.
        let strict = TenantSettings {
            mfa_required: true,
            mfa_allowed_factors: vec![FactorKind::Webauthn, FactorKind::Totp],
            mfa_min_assurance: MinAssurance::PhishingResistant,
            mfa_enrollment_grace_days: Some(3),
            ..Default::default()
        };
        assert_eq!(
            strict.mfa_weakened_by(&base),
            vec!["mfa_required", "mfa_min_assurance"]
        );
        assert!(base.mfa_weakened_by(&strict).is_empty());
        let longer = TenantSettings {
            mfa_enrollment_grace_days: Some(7),
            ..strict.clone()
        };
        assert_eq!(strict.mfa_weakened_by(&longer), vec!["mfa_enrollment_grace_days"]);
        let everyday = TenantSettings {
            mfa_allowed_factors: FactorKind::ALL.to_vec(),
            mfa_step_up_secs: Some(3600),
            access_token_ttl_secs: 60,
            ..strict.clone()
        };
        assert!(strict.mfa_weakened_by(&everyday).is_empty());
        // Remembering devices more, and asking adaptive questions less, weaken too.
        let remember = |mode, days| TenantSettings {
            remember_device: RememberSettings { mode, days },
            ..base.clone()
        };
        let opt_in = remember(RememberMode::UserOptIn, 30);
        assert_eq!(
            opt_in.mfa_weakened_by(&remember(RememberMode::Always, 30)),
            vec!["remember_device"]
        );
        assert_eq!(
            opt_in.mfa_weakened_by(&remember(RememberMode::UserOptIn, 31)),
            vec!["remember_device"]
        );
        assert!(opt_in
            .mfa_weakened_by(&remember(RememberMode::Never, 365))
            .is_empty());
        assert!(opt_in
            .mfa_weakened_by(&remember(RememberMode::UserOptIn, 7))
            .is_empty());
        let adaptive = |enabled, mfa_score, deny_score| TenantSettings {
            adaptive: AdaptiveSettings {
                enabled,
                mfa_score,
                deny_score,
            },
            ..base.clone()
        };
        let on = adaptive(true, 40, Some(90));
        for weaker in [
            adaptive(false, 40, Some(90)),
            adaptive(true, 50, Some(90)),
            adaptive(true, 40, None),
        ] {
            assert_eq!(
                on.mfa_weakened_by(&weaker),
                vec!["adaptive"],
                "{:?}",
                weaker.adaptive
            );
        }
        assert!(on.mfa_weakened_by(&adaptive(true, 30, Some(80))).is_empty());
        assert!(adaptive(false, 40, Some(90))
            .mfa_weakened_by(&adaptive(false, 90, None))
            .is_empty());
        // Old rows read back with the tenant saying nothing new.
        let old: TenantSettings = serde_json::from_str(r#"{"mfa_required":true}"#).unwrap();
        assert_eq!(old.mfa_min_assurance, MinAssurance::Aal2);
        assert_eq!(
            (old.mfa_enrollment_grace_days, old.mfa_step_up_secs),
            (None, None)
        );
    }

    #[test]
    fn number_classes_are_refused_unless_named() {
        let mut s = TenantSettings::default();
        assert!(s.sms_number_class_allowed(None));
        for c in NumberClass::ALL {
            assert!(!s.sms_number_class_allowed(Some(c)), "{c}");
        }
        s.sms_allowed_number_classes = vec![NumberClass::Satellite];
        assert!(s.sms_number_class_allowed(Some(NumberClass::Satellite)));
        assert!(!s.sms_number_class_allowed(Some(NumberClass::PremiumRate)));
        assert!(s.problems().is_empty());
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["sms_allowed_number_classes"],
            serde_json::json!(["satellite"])
        );
        assert_eq!(json["totp_algorithm"], "SHA1");
        s.sms_allowed_number_classes = vec![NumberClass::Uan, NumberClass::Uan];
        assert_eq!(s.problems().len(), 1);
    }

    #[test]
    fn adaptive_thresholds_are_checked_and_applied() {
        use crate::policy::risk::RiskDecision::*;
        let a = AdaptiveSettings::default();
        assert!(!a.enabled, "off unless a tenant turns it on");
        #[rustfmt::skip]
        let cases = [(0, Allow), (39, Allow), (40, RequireMfa), (89, RequireMfa), (90, Deny), (100, Deny)];
        for (score, want) in cases {
            assert_eq!(a.decide(score), want, "{score}");
        }
        let never = AdaptiveSettings {
            deny_score: None,
            ..a
        };
        assert_eq!(never.decide(100), RequireMfa);
        let problems = |a: AdaptiveSettings| {
            let t = TenantSettings {
                adaptive: a,
                ..TenantSettings::default()
            };
            t.problems().into_iter().map(|(f, _)| f).collect::<Vec<_>>()
        };
        assert!(problems(never).is_empty());
        for (mfa, deny, want) in [
            (0, Some(90), vec!["adaptive.mfa_score"]),
            (101, None, vec!["adaptive.mfa_score"]),
            (40, Some(40), vec!["adaptive.deny_score"]),
            (40, Some(30), vec!["adaptive.deny_score"]),
            (40, Some(101), vec!["adaptive.deny_score"]),
            (100, Some(100), vec!["adaptive.deny_score"]),
            (99, Some(100), vec![]),
        ] {
            let a = AdaptiveSettings {
                enabled: true,
                mfa_score: mfa,
                deny_score: deny,
            };
            assert_eq!(problems(a), want, "{mfa} {deny:?}");
        }
        let json = serde_json::to_value(TenantSettings::default()).unwrap();
        assert_eq!(
            json["adaptive"],
            serde_json::json!({"enabled": false, "mfa_score": 40, "deny_score": 90})
        );
    }

    #[test]
    fn webauthn_relying_party_settings_are_checked() {
        assert!(valid_rp_id("example.com") && valid_rp_id("localhost"));
        for bad in [
            "",
            "Example.com",
            "127.0.0.1",
            "::1",
            "a..b",
            "-a.com",
            "https://x.com",
            "x.com:443",
        ] {
            assert!(!valid_rp_id(bad), "{bad}");
        }
        assert_eq!(
            origin_host("https://login.example.com"),
            Some("login.example.com")
        );
        assert_eq!(origin_host("https://example.com:8443"), Some("example.com"));
        assert_eq!(origin_host("http://localhost:8080"), Some("localhost"));
        for bad in [
            "http://example.com",
            "https://example.com/",
            "null",
            "https://",
            "ftp://x.com",
            "https://1.2.3.4",
        ] {
            assert_eq!(origin_host(bad), None, "{bad}");
        }
        assert!(host_within("login.example.com", "example.com"));
        assert!(host_within("example.com", "example.com"));
        assert!(!host_within("evilexample.com", "example.com"));
        assert!(!host_within("example.com.evil", "example.com"));
        let mut s = TenantSettings::default();
        s.webauthn.rp_id = Some("example.com".into());
        s.webauthn.origins = vec!["https://app.example.com".into()];
        assert!(s.problems().is_empty());
        s.webauthn.origins = vec!["https://example.org".into()];
        assert_eq!(s.problems().len(), 1);
        s.webauthn.origins.clear();
        s.webauthn.attestation = AttestationPolicy::Direct;
        assert_eq!(
            s.problems().len(),
            2,
            "direct attestation needs an allow-list and roots"
        );
        s.webauthn.allowed_aaguids = vec!["cb69481e-8ff7-4039-93ec-0a2729a154a8".into()];
        s.webauthn.attestation_ca_pems =
            vec!["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----".into()];
        assert!(s.problems().is_empty());
        s.webauthn.allowed_aaguids = vec!["not-a-uuid".into()];
        assert_eq!(s.problems().len(), 1);
        let json = serde_json::to_value(TenantSettings::default()).unwrap();
        assert_eq!(json["webauthn"]["user_verification"], "required");
        assert_eq!(json["webauthn"]["attestation"], "none");
    }
}
