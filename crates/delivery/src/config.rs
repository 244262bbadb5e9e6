//! Provider configurations, as tenants PUT them (`/v1/admin/sms-provider`,
//! `/v1/admin/email-provider`) and as they are stored (sealed, as JSON). `redacted()` is the
//! only form ever returned: secrets show their last four characters at most.

pub use crate::options::{BuildError, BuildOptions};
use crate::outbound::{config_problem, Destinations};
use crate::smtp::SmtpEmail;
pub use crate::smtp::SmtpTls;
use crate::sns::{SnsSender, SnsSms};
use crate::twilio::TwilioSms;
use crate::vonage::VonageSms;
use crate::webhook::WebhookSms;
use crate::{console, EmailSender, SmsSender};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One SMS provider. The admin API's `fallback` wraps a second one of these.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case", deny_unknown_fields)]
pub enum SmsProviderConfig {
    /// Twilio Messages API: `POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`.
    Twilio {
        account_sid: String,
        auth_token: String,
        from_number: String,
        /// Default `https://api.twilio.com`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<String>,
    },
    /// AWS SNS `Publish` to a phone number, SigV4-signed.
    AwsSns {
        region: String,
        access_key_id: String,
        secret_access_key: String,
        /// Default `https://sns.{region}.amazonaws.com`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint_url: Option<String>,
        /// The number messages come from (E.164), for countries that require one (e.g. the
        /// US, for toll-free and 10DLC numbers): `AWS.MM.SMS.OriginationNumber`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origination_number: Option<String>,
        /// The alphanumeric sender shown where countries support one (1 to 11 letters and
        /// digits, at least one letter): `AWS.SNS.SMS.SenderID`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_id: Option<String>,
    },
    /// Vonage SMS API: `POST {base_url}/sms/json`.
    Vonage {
        api_key: String,
        api_secret: String,
        from: String,
        /// Default `https://rest.nexmo.com`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<String>,
    },
    /// A custom gateway: JSON POSTed to `url`, signed with HMAC-SHA-256 under `secret`.
    Webhook { url: String, secret: String },
    /// Development only: the message is written to the server log.
    Console,
}

impl std::fmt::Debug for SmsProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmsProviderConfig({})", self.name())
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case", deny_unknown_fields)]
pub enum EmailProviderConfig {
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// `Acme <no-reply@acme.test>` or a bare address.
        from: String,
    },
    /// Development only: the message is written to the server log.
    Console,
}

impl std::fmt::Debug for EmailProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmailProviderConfig({})", self.name())
    }
}

impl SmsProviderConfig {
    pub fn name(&self) -> &'static str {
        match self {
            SmsProviderConfig::Twilio { .. } => "twilio",
            SmsProviderConfig::AwsSns { .. } => "aws_sns",
            SmsProviderConfig::Vonage { .. } => "vonage",
            SmsProviderConfig::Webhook { .. } => "webhook",
            SmsProviderConfig::Console => "console",
        }
    }
}

impl EmailProviderConfig {
    pub fn name(&self) -> &'static str {
        match self {
            EmailProviderConfig::Smtp { .. } => "smtp",
            EmailProviderConfig::Console => "console",
        }
    }
}

impl SmsProviderConfig {
    /// Every problem with this configuration, each a sentence naming its field; empty when
    /// it is usable. Messages never quote a value: some of them are secrets.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self {
            SmsProviderConfig::Twilio {
                account_sid,
                auth_token,
                from_number,
                base_url,
            } => {
                // Twilio account SIDs are `AC` and 32 hex digits; an API key SID (`SK…`) in its
                // place is the usual mistake, and Twilio would answer it with a bare 401.
                let sid_ok = account_sid.len() == 34
                    && account_sid.starts_with("AC")
                    && account_sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
                if account_sid.is_empty() {
                    problems.push("account_sid must not be empty".into());
                } else if !sid_ok {
                    problems.push("account_sid must be AC followed by 32 hexadecimal digits".into());
                }
                check_credential(&mut problems, "auth_token", auth_token);
                if !is_e164(from_number) {
                    problems.push(format!("from_number {E164_RULE}"));
                }
                if let Some(url) = base_url {
                    check_url(&mut problems, "base_url", url, UrlKind::Base);
                }
            }
            SmsProviderConfig::AwsSns {
                region,
                access_key_id,
                secret_access_key,
                endpoint_url,
                origination_number,
                sender_id,
            } => {
                if !is_aws_region(region) {
                    problems.push("region must be an AWS region name, like us-east-1".into());
                }
                // IAM access key ids are 16 to 128 upper-case letters and digits (IAM API
                // reference, AccessKey); `AKIA…` for long-term keys.
                let id_ok = (16..=128).contains(&access_key_id.len())
                    && access_key_id
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
                if access_key_id.is_empty() {
                    problems.push("access_key_id must not be empty".into());
                } else if !id_ok {
                    problems.push("access_key_id must be 16 to 128 upper-case letters and digits".into());
                }
                check_credential(&mut problems, "secret_access_key", secret_access_key);
                if let Some(url) = endpoint_url {
                    check_url(&mut problems, "endpoint_url", url, UrlKind::Base);
                }
                if origination_number.as_deref().is_some_and(|n| !is_e164(n)) {
                    problems.push(format!("origination_number {E164_RULE}"));
                }
                if sender_id.as_deref().is_some_and(|id| !is_sns_sender_id(id)) {
                    problems.push(
                        "sender_id must be 1 to 11 letters and digits, at least one of them a letter, \
                         without spaces"
                            .into(),
                    );
                }
            }
            SmsProviderConfig::Vonage {
                api_key,
                api_secret,
                from,
                base_url,
            } => {
                check_credential(&mut problems, "api_key", api_key);
                check_credential(&mut problems, "api_secret", api_secret);
                if !is_vonage_sender(from) {
                    problems.push(
                        "from must be a phone number in digits (E.164 without +, like 14155552671) \
                         or an alphanumeric sender id of at most 11 letters, digits and spaces"
                            .into(),
                    );
                }
                if let Some(url) = base_url {
                    check_url(&mut problems, "base_url", url, UrlKind::Base);
                }
            }
            SmsProviderConfig::Webhook { url, secret } => {
                check_url(&mut problems, "url", url, UrlKind::Endpoint);
                if secret.chars().count() < MIN_WEBHOOK_SECRET_CHARS {
                    // 32 characters of hex are 128 bits: comfortably above the 112-bit floor NIST
                    // SP 800-107 sets for HMAC keys.
                    problems.push(format!(
                        "secret must be at least {MIN_WEBHOOK_SECRET_CHARS} characters \
                         (a random value, e.g. `openssl rand -hex 32`)"
                    ));
                } else {
                    check_credential(&mut problems, "secret", secret);
                }
            }
            SmsProviderConfig::Console => {}
        }
        problems
    }

    /// Every destination of this configuration the policy refuses before any lookup: an IP
    /// literal or `localhost` pointing inside. Names are checked at every send instead (see
    /// [`crate::outbound`]), since DNS answers change.
    pub fn destination_problems(&self, destinations: Destinations) -> Vec<String> {
        let (field, url) = match self {
            SmsProviderConfig::Twilio { base_url, .. } | SmsProviderConfig::Vonage { base_url, .. } => {
                ("base_url", base_url.as_deref())
            }
            SmsProviderConfig::AwsSns { endpoint_url, .. } => ("endpoint_url", endpoint_url.as_deref()),
            SmsProviderConfig::Webhook { url, .. } => ("url", Some(url.as_str())),
            SmsProviderConfig::Console => ("", None),
        };
        url.and_then(|raw| reqwest::Url::parse(raw).ok())
            .and_then(|url| config_problem(destinations, field, url.host_str().unwrap_or_default()))
            .into_iter()
            .collect()
    }

    /// The configuration as the admin API shows it: the same shape, with the secret
    /// replaced by `****` and at most its last four characters.
    pub fn redacted(&self) -> serde_json::Value {
        redact(self, self.name(), self.secret_field())
    }

    /// The field holding this provider's secret, named once here so a new provider cannot
    /// be shown unredacted by forgetting a list elsewhere.
    fn secret_field(&self) -> Option<&'static str> {
        match self {
            SmsProviderConfig::Twilio { .. } => Some("auth_token"),
            SmsProviderConfig::AwsSns { .. } => Some("secret_access_key"),
            SmsProviderConfig::Vonage { .. } => Some("api_secret"),
            SmsProviderConfig::Webhook { .. } => Some("secret"),
            SmsProviderConfig::Console => None,
        }
    }

    /// The sender for this configuration. Building never fails; a configuration that
    /// `validate` would refuse fails at `send`, permanently.
    pub fn build_sms(&self, opts: &BuildOptions) -> Arc<dyn SmsSender> {
        match self {
            SmsProviderConfig::Twilio {
                account_sid,
                auth_token,
                from_number,
                base_url,
            } => Arc::new(TwilioSms::new(
                account_sid,
                auth_token,
                from_number,
                base_url.as_deref(),
                opts,
            )),
            SmsProviderConfig::AwsSns {
                region,
                access_key_id,
                secret_access_key,
                endpoint_url,
                origination_number,
                sender_id,
            } => Arc::new(SnsSms::new(
                region,
                access_key_id,
                secret_access_key,
                endpoint_url.as_deref(),
                SnsSender {
                    origination_number: origination_number.as_deref(),
                    sender_id: sender_id.as_deref(),
                },
                opts,
            )),
            SmsProviderConfig::Vonage {
                api_key,
                api_secret,
                from,
                base_url,
            } => Arc::new(VonageSms::new(
                api_key,
                api_secret,
                from,
                base_url.as_deref(),
                opts,
            )),
            SmsProviderConfig::Webhook { url, secret } => Arc::new(WebhookSms::new(url, secret, opts)),
            SmsProviderConfig::Console => Arc::new(console::ConsoleSms),
        }
    }
}

impl EmailProviderConfig {
    /// Every problem with this configuration; see [`SmsProviderConfig::validate`].
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self {
            EmailProviderConfig::Smtp {
                host,
                port,
                tls,
                username,
                password,
                from,
            } => {
                if host.is_empty() {
                    problems.push("host must not be empty".into());
                } else if host.contains("://") || host.contains('/') || host.chars().any(char::is_whitespace)
                {
                    problems.push("host must be a host name or IP address, without scheme or path".into());
                }
                if *port == 0 {
                    problems.push("port must not be 0".into());
                }
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    problems.push(
                        "from must be a mailbox, like `Acme <no-reply@acme.test>` or `no-reply@acme.test`"
                            .into(),
                    );
                }
                match (username, password) {
                    (Some(user), Some(pass)) => {
                        if user.is_empty() {
                            problems.push("username must not be empty".into());
                        }
                        check_credential(&mut problems, "password", pass);
                        // lettre would send AUTH PLAIN over a plain connection; credentials in
                        // clear text are acceptable only to a relay on this very machine.
                        if *tls == SmtpTls::None && !is_loopback_host(host) {
                            problems.push(
                                "username and password need tls `starttls` or `tls`: with `none` they \
                                 would cross the network in clear text"
                                    .into(),
                            );
                        }
                    }
                    (Some(_), None) | (None, Some(_)) => {
                        problems.push("username and password must be given together, or neither".into());
                    }
                    (None, None) => {}
                }
            }
            EmailProviderConfig::Console => {}
        }
        problems
    }

    /// See [`SmsProviderConfig::destination_problems`].
    pub fn destination_problems(&self, destinations: Destinations) -> Vec<String> {
        match self {
            EmailProviderConfig::Smtp { host, .. } => {
                // Through the URL parser, as HTTP hosts go, so every IPv4 spelling (`127.1`,
                // `0x7f000001`), which the system resolver would also accept, is recognised.
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                let normalised = match bare.parse::<std::net::IpAddr>() {
                    Ok(ip) => ip.to_string(),
                    Err(_) => reqwest::Url::parse(&format!("http://{bare}/"))
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_owned))
                        .unwrap_or_else(|| bare.to_owned()),
                };
                config_problem(destinations, "host", &normalised)
                    .into_iter()
                    .collect()
            }
            EmailProviderConfig::Console => Vec::new(),
        }
    }

    /// See [`SmsProviderConfig::redacted`].
    pub fn redacted(&self) -> serde_json::Value {
        redact(self, self.name(), self.secret_field())
    }

    fn secret_field(&self) -> Option<&'static str> {
        match self {
            EmailProviderConfig::Smtp { .. } => Some("password"),
            EmailProviderConfig::Console => None,
        }
    }

    /// See [`SmsProviderConfig::build_sms`].
    pub fn build_email(&self, opts: &BuildOptions) -> Arc<dyn EmailSender> {
        match self {
            EmailProviderConfig::Smtp {
                host,
                port,
                tls,
                username,
                password,
                from,
            } => {
                let credentials = username.as_deref().zip(password.as_deref());
                Arc::new(SmtpEmail::new(host, *port, *tls, credentials, from, opts))
            }
            EmailProviderConfig::Console => Arc::new(console::ConsoleEmail),
        }
    }
}

const E164_RULE: &str = "must be E.164: + then 8 to 15 digits without a leading 0, like +14155552671";
const MIN_WEBHOOK_SECRET_CHARS: usize = 32;

/// E.164 as Latchkey accepts it: `+`, then 8 to 15 digits, the first not 0 (ITU-T E.164
/// caps numbers at 15 digits; country codes never start with 0).
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// Vonage's `from`: a number in digits (its SMS API takes E.164 without `+`; a leading `+`
/// is tolerated and dropped when sending), or an alphanumeric sender id, which GSM caps at
/// 11 characters.
fn is_vonage_sender(from: &str) -> bool {
    let digits = from.strip_prefix('+').unwrap_or(from);
    let numeric = (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    let alphanumeric = (1..=11).contains(&from.len())
        && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && from.bytes().any(|b| b.is_ascii_alphabetic())
        && from.trim() == from;
    numeric || alphanumeric
}

/// An SNS sender id: 1 to 11 ASCII letters and digits, at least one letter, no spaces (Amazon
/// SNS Developer Guide, *Sender IDs*).
fn is_sns_sender_id(id: &str) -> bool {
    (1..=11).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && id.bytes().any(|b| b.is_ascii_alphabetic())
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `cn-north-1`: a two-letter area, one or
/// more lower-case words, and a number.
fn is_aws_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    parts.len() >= 3
        && words[0].len() == 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_credential(problems: &mut Vec<String>, field: &str, value: &str) {
    if value.is_empty() {
        problems.push(format!("{field} must not be empty"));
    } else if value.trim() != value {
        // Almost always a copy-and-paste accident, which the provider would answer with a
        // confusing authentication failure.
        problems.push(format!("{field} must not start or end with whitespace"));
    }
}

#[derive(PartialEq, Eq)]
enum UrlKind {
    /// A base the provider's path is appended to: no query or fragment.
    Base,
    /// A complete endpoint, posted to as given.
    Endpoint,
}

fn check_url(problems: &mut Vec<String>, field: &str, raw: &str, kind: UrlKind) {
    let Ok(url) = reqwest::Url::parse(raw) else {
        problems.push(format!("{field} must be an http:// or https:// URL"));
        return;
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        problems.push(format!("{field} must be an http:// or https:// URL with a host"));
    }
    // Credentials inside a URL end up in logs and error messages; they belong in the
    // provider's secret field.
    if !url.username().is_empty() || url.password().is_some() {
        problems.push(format!("{field} must not contain a user name or password"));
    }
    if kind == UrlKind::Base && (url.query().is_some() || url.fragment().is_some()) {
        problems.push(format!("{field} must not have a query or fragment"));
    }
}

/// `****` and the last four characters, or only `****` when the secret is too short for
/// four characters to be a safe hint (at most 8).
pub(crate) fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        "****".into()
    } else {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("****{tail}")
    }
}

fn redact<T: Serialize>(config: &T, name: &str, secret_field: Option<&str>) -> serde_json::Value {
    // Serialising these plain structs cannot fail; should it ever, show the provider alone
    // rather than anything half-redacted.
    let mut value = serde_json::to_value(config).unwrap_or_else(|_| serde_json::json!({ "provider": name }));
    if let (Some(field), Some(object)) = (secret_field, value.as_object_mut()) {
        if let Some(secret) = object.get_mut(field) {
            let masked = secret.as_str().map_or_else(|| "****".to_owned(), mask_secret);
            *secret = serde_json::Value::String(masked);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn debug_output_carries_no_secret() {
        let opts = BuildOptions::new(Duration::from_secs(1), Destinations::PublicOnly).unwrap();
        let secret = "s3cr3t-value-that-must-never-print";
        let sid = "AC0123456789abcdef0123456789abcdef";
        let hook = "https://gw.acme.test/hook?token=gateway-token";
        let twilio = SmsProviderConfig::Twilio {
            account_sid: sid.into(),
            auth_token: secret.into(),
            from_number: "+15005550006".into(),
            base_url: None,
        };
        let smtp = EmailProviderConfig::Smtp {
            host: "smtp.acme.test".into(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: Some("mailer".into()),
            password: Some(secret.into()),
            from: "no-reply@acme.test".into(),
        };
        let printed = [
            format!("{twilio:?} {smtp:?}"),
            format!("{:?}", TwilioSms::new(sid, secret, "+15005550006", None, &opts)),
            format!(
                "{:?}",
                SnsSms::new(
                    "us-east-1",
                    "AKIAIOSFODNN7EXAMPLE",
                    secret,
                    None,
                    SnsSender::default(),
                    &opts
                )
            ),
            format!("{:?}", VonageSms::new("a1b2c3d4", secret, "Acme", None, &opts)),
            format!("{:?}", WebhookSms::new(hook, secret, &opts)),
            format!(
                "{:?}",
                SmtpEmail::new(
                    "smtp.acme.test",
                    587,
                    SmtpTls::Starttls,
                    Some(("mailer", secret)),
                    "a@b.c",
                    &opts
                )
            ),
        ];
        for text in printed {
            assert!(!text.contains(secret), "{text}");
            assert!(!text.contains("gateway-token"), "{text}");
        }
    }

    #[test]
    fn secrets_are_masked_to_their_last_four_characters() {
        assert_eq!(mask_secret(""), "****");
        assert_eq!(mask_secret("12345678"), "****");
        assert_eq!(mask_secret("123456789"), "****6789");
        assert_eq!(mask_secret("pässwörtchen"), "****chen");
    }
}
