//! A tenant's (or the server's) provider choice for each channel, as stored sealed and as the
//! admin API and the configuration file take it: one SMS provider with an optional fallback,
//! one email provider. Parsing refuses unknown fields and lists every problem, outbound
//! destinations the operator's policy refuses included, without repeating a secret.

use crate::config::{EmailProviderConfig, SmsProviderConfig};
use crate::Destinations;
use serde::{Deserialize, Serialize};

/// A tenant's SMS providers as stored (sealed JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmsProviders {
    pub primary: SmsProviderConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<SmsProviderConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailProviders {
    pub primary: EmailProviderConfig,
}

impl SmsProviders {
    /// See [`SmsProviderConfig::destination_problems`]; the fallback's are marked as such.
    pub fn destination_problems(&self, destinations: Destinations) -> Vec<String> {
        let mut problems = self.primary.destination_problems(destinations);
        if let Some(f) = &self.fallback {
            let theirs = f.destination_problems(destinations);
            problems.extend(theirs.into_iter().map(|p| format!("fallback: {p}")));
        }
        problems
    }
}

impl EmailProviders {
    pub fn destination_problems(&self, destinations: Destinations) -> Vec<String> {
        self.primary.destination_problems(destinations)
    }
}

/// Parses an SMS provider document: one provider object, optionally with a `fallback`
/// object of the same shape. Every problem is listed, destinations `destinations` refuses
/// included; no secret value is repeated.
pub fn parse_sms_providers(text: &str, destinations: Destinations) -> Result<SmsProviders, Vec<String>> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| vec!["must be a JSON object".to_string()])?;
    let fallback = value.as_object_mut().and_then(|o| o.remove("fallback"));
    only_provider_key_for_console(&value)?;
    if let Some(f) = &fallback {
        only_provider_key_for_console(f).map_err(|p| {
            p.into_iter()
                .map(|m| format!("fallback: {m}"))
                .collect::<Vec<_>>()
        })?;
    }
    let primary: SmsProviderConfig = serde_json::from_value(value).map_err(|e| vec![config_error(&e)])?;
    let fallback: Option<SmsProviderConfig> = match fallback {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => {
            Some(serde_json::from_value(v).map_err(|e| vec![format!("fallback: {}", config_error(&e))])?)
        }
    };
    let mut problems = primary.validate();
    if let Some(f) = &fallback {
        problems.extend(f.validate().into_iter().map(|p| format!("fallback: {p}")));
        if matches!(f, SmsProviderConfig::Console) || matches!(primary, SmsProviderConfig::Console) {
            problems.push("fallback: the console provider cannot be part of a fallback pair".into());
        }
    }
    let providers = SmsProviders { primary, fallback };
    problems.extend(providers.destination_problems(destinations));
    if problems.is_empty() {
        Ok(providers)
    } else {
        Err(problems)
    }
}

pub fn parse_email_providers(text: &str, destinations: Destinations) -> Result<EmailProviders, Vec<String>> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| vec!["must be a JSON object".to_string()])?;
    let primary: EmailProviderConfig = serde_json::from_value(value).map_err(|e| vec![config_error(&e)])?;
    let mut problems = primary.validate();
    let providers = EmailProviders { primary };
    problems.extend(providers.destination_problems(destinations));
    if problems.is_empty() {
        Ok(providers)
    } else {
        Err(problems)
    }
}

/// serde accepts extra fields beside a unit variant's tag (`{"provider":"console","x":1}`);
/// refuse them like every other unknown field.
fn only_provider_key_for_console(value: &serde_json::Value) -> Result<(), Vec<String>> {
    match value.as_object() {
        Some(o) if o.get("provider").and_then(|p| p.as_str()) == Some("console") => {
            let extra: Vec<String> = o
                .keys()
                .filter(|k| *k != "provider")
                .map(|k| format!("unknown field `{}`", k.escape_debug()))
                .collect();
            if extra.is_empty() {
                Ok(())
            } else {
                Err(extra)
            }
        }
        _ => Ok(()),
    }
}

/// A serde error about a provider document, without any submitted value.
fn config_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let name = text.split('`').nth(1).unwrap_or("");
    if text.starts_with("missing field") {
        format!("missing field `{name}`")
    } else if text.starts_with("unknown field") {
        format!("unknown field `{}`", name.escape_debug())
    } else if text.starts_with("unknown variant") {
        "unknown provider; expected twilio, aws_sns, vonage, webhook, smtp or console".to_string()
    } else if text.contains("missing field `provider`") {
        "missing field `provider`".to_string()
    } else {
        "a field has the wrong type".to_string()
    }
}
