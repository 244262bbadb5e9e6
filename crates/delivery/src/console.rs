//! The console providers: development only. They write the whole message, code included, to
//! the server log at WARN level, marked so nobody mistakes it for production delivery.

use crate::{DeliveryError, EmailMessage, EmailSender, Sent, SmsMessage, SmsSender};
use async_trait::async_trait;

#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleSms;

#[async_trait]
impl SmsSender for ConsoleSms {
    fn provider(&self) -> &'static str {
        "console"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        tracing::warn!(
            to = %msg.to,
            body = %msg.body,
            "DEVELOPMENT-ONLY console SMS provider: this message was NOT sent; configure a real provider"
        );
        Ok(Sent {
            provider: "console",
            provider_message_id: None,
        })
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleEmail;

#[async_trait]
impl EmailSender for ConsoleEmail {
    fn provider(&self) -> &'static str {
        "console"
    }

    async fn send(&self, msg: &EmailMessage) -> Result<Sent, DeliveryError> {
        tracing::warn!(
            to = %msg.to,
            subject = %msg.subject,
            text = %msg.text,
            "DEVELOPMENT-ONLY console email provider: this message was NOT sent; configure a real provider"
        );
        Ok(Sent {
            provider: "console",
            provider_message_id: None,
        })
    }
}
