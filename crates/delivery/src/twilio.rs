//! Twilio: one SMS is one `POST` to the Programmable Messaging API's Message resource.
//!
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic
//! authentication (`AccountSid:AuthToken`) and the form fields `To`, `From` and `Body`
//! (Twilio docs, "Message resource", *Create a Message resource*). Twilio answers
//! `201 Created` with the new Message, whose `sid` (`SM…`) we keep as the provider's id.
//! Failures carry `{"code", "message", "more_info", "status"}` ("Twilio's response", *Error
//! and warning dictionary*): we keep the numeric `code` only, because `message` quotes the
//! destination number ("The 'To' number +1… is not a valid phone number"), and errors are
//! stored and logged. The HTTP status decides the class: 429 (Twilio error 20429, too many
//! requests) and 5xx are worth retrying; 400 (e.g. 21211, invalid `To`), 401 (20003, bad
//! credentials) and 404 (unknown account) are not.

use crate::http;
use crate::outbound::Outbound;
use crate::{sms_attempt, BuildOptions, DeliveryError, Sent, SmsMessage, SmsSender};
use async_trait::async_trait;
use latchkey_core::secret::SecretString;
use std::time::Duration;

const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

pub struct TwilioSms {
    client: reqwest::Client,
    outbound: Outbound,
    url: String,
    account_sid: String,
    auth_token: SecretString,
    from_number: String,
    timeout: Duration,
}

impl TwilioSms {
    pub(crate) fn new(
        account_sid: &str,
        auth_token: &str,
        from_number: &str,
        base_url: Option<&str>,
        opts: &BuildOptions,
    ) -> Self {
        let base = base_url.unwrap_or(DEFAULT_BASE_URL).trim_end_matches('/');
        Self {
            client: opts.http.clone(),
            outbound: opts.outbound.clone(),
            url: format!("{base}/2010-04-01/Accounts/{account_sid}/Messages.json"),
            account_sid: account_sid.to_owned(),
            auth_token: SecretString::new(auth_token.to_owned()),
            from_number: from_number.to_owned(),
            timeout: opts.timeout,
        }
    }

    async fn attempt(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        let request = self
            .client
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&[
                ("To", msg.to.as_str()),
                ("From", &self.from_number),
                ("Body", &msg.body),
            ]);
        let response = http::send("twilio", &self.outbound, request).await?;
        let (status, body) = http::read("twilio", response).await?;
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        if status.is_success() {
            // A 2xx means Twilio took the message; a body we cannot read must not turn that
            // into a failure, or the retry would send the code twice.
            let sid = json.as_ref().and_then(|j| j["sid"].as_str()).map(str::to_owned);
            return Ok(Sent {
                provider: "twilio",
                provider_message_id: sid,
            });
        }
        let detail = match json.as_ref().and_then(|j| j["code"].as_i64()) {
            Some(code) => format!("Twilio error {code}"),
            None => String::new(),
        };
        Err(http::status_failure("twilio", status, &detail))
    }
}

#[async_trait]
impl SmsSender for TwilioSms {
    fn provider(&self) -> &'static str {
        "twilio"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        sms_attempt("twilio", self.timeout, &msg.to, self.attempt(msg)).await
    }
}

impl std::fmt::Debug for TwilioSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSms")
            .field("url", &self.url)
            .field("from_number", &self.from_number)
            .finish_non_exhaustive()
    }
}
