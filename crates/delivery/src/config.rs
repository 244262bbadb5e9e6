//! Provider configurations, as tenants PUT them (`/v1/admin/sms-provider`,
//! `/v1/admin/email-provider`) and as they are stored (sealed, as JSON). `redacted()` is the
//! only form ever returned: secrets show their last four characters at most.

use serde::{Deserialize, Serialize};

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

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text (loopback relays and tests only).
    None,
    /// Upgrade with STARTTLS (required, not opportunistic).
    Starttls,
    /// Implicit TLS from the first byte (port 465).
    Tls,
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
