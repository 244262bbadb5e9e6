//! AWS SNS: one SMS is one `Publish` to a phone number, through SNS's Query API.
//!
//! `POST {endpoint}/` with the form body `Action=Publish&Version=2010-03-31&PhoneNumber=…&
//! Message=…` (Amazon SNS API Reference, *Publish*; *Query API requests*), signed with
//! Signature Version 4 for the service `sns` in the configured region (AWS IAM User Guide,
//! *Signature Version 4 signing process*). The signature comes from `aws-sigv4`, the AWS SDK's
//! own signer; the rest of the SDK is left out, since one form POST does not need it.
//!
//! Every message is marked `AWS.SNS.SMS.SMSType=Transactional`: AWS routes transactional
//! messages for reliability rather than cost, which is what a one-time code needs (Amazon
//! SNS Developer Guide, *Publishing SMS messages*). A configured `origination_number` goes as
//! `AWS.MM.SMS.OriginationNumber` and a `sender_id` as `AWS.SNS.SMS.SenderID`, both String
//! attributes (same guide, *Publishing to a mobile phone*, and *SMS message attributes*).
//!
//! SNS answers XML. Success: `<PublishResponse><PublishResult><MessageId>`. Failure:
//! `<ErrorResponse><Error><Type/><Code/><Message/></Error>` (*Common Errors*). The class
//! comes from the status and the code: 5xx and throttling are worth retrying; a refused
//! signature, unknown key, missing permission or invalid parameter is not. Only the code is
//! kept: the message may quote the phone number.

use crate::http;
use crate::outbound::Outbound;
use crate::{sms_attempt, BuildOptions, DeliveryError, Sent, SmsMessage, SmsSender};
use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use latchkey_core::secret::SecretString;
use std::time::{Duration, SystemTime};

const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Error codes that mean "slow down" or "our side failed", even when the status is a 400:
/// the AWS Query protocol reports throttling as `400 Throttling` (*Common Errors*).
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "KMSThrottling",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
];

pub struct SnsSms {
    client: reqwest::Client,
    outbound: Outbound,
    endpoint: String,
    region: String,
    access_key_id: String,
    secret_access_key: SecretString,
    origination_number: Option<String>,
    sender_id: Option<String>,
    timeout: Duration,
}

/// Who an SMS says it is from: both optional, both checked by `validate`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SnsSender<'a> {
    pub origination_number: Option<&'a str>,
    pub sender_id: Option<&'a str>,
}

impl SnsSms {
    pub(crate) fn new(
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
        endpoint_url: Option<&str>,
        sender: SnsSender<'_>,
        opts: &BuildOptions,
    ) -> Self {
        let endpoint = match endpoint_url {
            Some(url) => format!("{}/", url.trim_end_matches('/')),
            None => format!("https://sns.{region}.{}/", dns_suffix(region)),
        };
        Self {
            client: opts.http.clone(),
            outbound: opts.outbound.clone(),
            endpoint,
            region: region.to_owned(),
            access_key_id: access_key_id.to_owned(),
            secret_access_key: SecretString::new(secret_access_key.to_owned()),
            origination_number: sender.origination_number.map(str::to_owned),
            sender_id: sender.sender_id.map(str::to_owned),
            timeout: opts.timeout,
        }
    }

    async fn attempt(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        let mut attributes = vec![("AWS.SNS.SMS.SMSType", "Transactional")];
        if let Some(number) = &self.origination_number {
            attributes.push(("AWS.MM.SMS.OriginationNumber", number));
        }
        if let Some(id) = &self.sender_id {
            attributes.push(("AWS.SNS.SMS.SenderID", id));
        }
        let mut fields: Vec<(String, &str)> = vec![
            ("Action".into(), "Publish"),
            ("Version".into(), "2010-03-31"),
            ("PhoneNumber".into(), &msg.to),
            ("Message".into(), &msg.body),
        ];
        // The Query API's map encoding, entries numbered from 1 (*Query API requests*).
        for (i, (name, value)) in attributes.into_iter().enumerate() {
            let entry = format!("MessageAttributes.entry.{}", i + 1);
            fields.push((format!("{entry}.Name"), name));
            fields.push((format!("{entry}.Value.DataType"), "String"));
            fields.push((format!("{entry}.Value.StringValue"), value));
        }
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let body = form_body(&pairs);

        let mut request = self
            .client
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE);
        for (name, value) in self.signature_headers(body.as_bytes())? {
            request = request.header(name, value);
        }
        let request = request.body(body);
        let response = http::send("aws_sns", &self.outbound, request).await?;
        let (status, body) = http::read("aws_sns", response).await?;
        let body = String::from_utf8_lossy(&body);
        if status.is_success() {
            let id = xml_element(&body, "MessageId");
            return Ok(Sent {
                provider: "aws_sns",
                provider_message_id: id,
            });
        }
        let code = xml_element(&body, "Code").unwrap_or_default();
        let detail = if code.is_empty() {
            String::new()
        } else {
            format!("AWS error {code}")
        };
        if TRANSIENT_CODES.contains(&code.as_str()) {
            return Err(DeliveryError::Transient(format!(
                "aws_sns: HTTP {}, {detail}",
                status.as_u16()
            )));
        }
        Err(http::status_failure("aws_sns", status, &detail))
    }

    /// The SigV4 headers (`x-amz-date`, `authorization`) for a POST of `body` to the
    /// endpoint. The signed headers are `host` (from the endpoint, as reqwest will send it)
    /// and `content-type`; the body is covered by its SHA-256.
    fn signature_headers(&self, body: &[u8]) -> Result<Vec<(String, String)>, DeliveryError> {
        let unsignable = |e: &dyn std::error::Error| {
            DeliveryError::Permanent(format!(
                "aws_sns: cannot sign the request: {}",
                http::error_chain(e)
            ))
        };
        let identity = Credentials::new(
            &self.access_key_id,
            self.secret_access_key.expose(),
            None,
            None,
            "latchkey-config",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("sns")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| unsignable(&e))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &self.endpoint,
            [("content-type", CONTENT_TYPE)].into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| unsignable(&e))?;
        let (instructions, _signature) = sign(signable, &params).map_err(|e| unsignable(&e))?.into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect())
    }
}

/// `application/x-www-form-urlencoded`, byte for byte as the AWS SDKs write Query API bodies:
/// RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) kept, space as `+`, every other
/// byte of the UTF-8 as `%XX`. AWS hashes the bytes as sent, so any correct encoding signs;
/// matching the SDKs also satisfies a verifier that decodes the form and re-encodes it the
/// SDKs' way before checking the signature, as moto does.
fn form_body(pairs: &[(&str, &str)]) -> String {
    fn encode(out: &mut String, text: &str) {
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(char::from(byte))
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(&mut out, name);
        out.push('=');
        encode(&mut out, value);
    }
    out
}

/// AWS's China partition lives under its own domain (AWS General Reference, *Service
/// endpoints*).
fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// The text of the first `<name>…</name>` in `xml`, entities decoded. SNS's answers are
/// small, flat and fixed in shape, and this reads two fields of them; a general XML parser
/// would add a dependency for nothing more.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    let raw = xml[start..start + len].trim();
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[async_trait]
impl SmsSender for SnsSms {
    fn provider(&self) -> &'static str {
        "aws_sns"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        sms_attempt("aws_sns", self.timeout, &msg.to, self.attempt(msg)).await
    }
}

impl std::fmt::Debug for SnsSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsSms")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("origination_number", &self.origination_number)
            .field("sender_id", &self.sender_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_sns_answers_with() {
        let ok = r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult>
  <ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata>
</PublishResponse>"#;
        assert_eq!(
            xml_element(ok, "MessageId").as_deref(),
            Some("567910cd-659e-55d4-8ccb-5aaf14679dc0")
        );
        let err = r#"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>
<Message>Rate exceeded &amp; &lt;slow down&gt;</Message></Error></ErrorResponse>"#;
        assert_eq!(xml_element(err, "Code").as_deref(), Some("Throttling"));
        assert_eq!(
            xml_element(err, "Message").as_deref(),
            Some("Rate exceeded & <slow down>")
        );
        assert_eq!(xml_element(err, "MessageId"), None);
    }

    #[test]
    fn form_bodies_are_encoded_as_the_sdks_encode_them() {
        // Python's urllib.parse.urlencode (what botocore uses) gives the same bytes.
        assert_eq!(
            form_body(&[("Message", "Code 1: a&b=c ~*+/%'é"), ("Action", "Publish")]),
            "Message=Code+1%3A+a%26b%3Dc+~%2A%2B%2F%25%27%C3%A9&Action=Publish"
        );
    }

    #[test]
    fn default_endpoints_follow_the_partition() {
        assert_eq!(dns_suffix("eu-west-1"), "amazonaws.com");
        assert_eq!(dns_suffix("cn-north-1"), "amazonaws.com.cn");
    }
}
