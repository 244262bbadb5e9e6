//! Senders built from each tenant's provider configuration, kept while the configuration is
//! unchanged (a changed configuration has a new version and builds new senders), or the
//! senders an embedding application gave in code.

use crate::service::providers::ProviderSource;
use crate::service::ServiceResult;
use crate::App;
use latchkey_delivery::{EmailSender, SmsSender};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(super) struct SmsChain {
    pub(super) primary: Arc<dyn SmsSender>,
    pub(super) fallback: Option<Arc<dyn SmsSender>>,
}

/// Values by tenant, each with the configuration version it was built from.
struct Versioned<T>(Mutex<HashMap<String, (String, T)>>);

impl<T> Default for Versioned<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T: Clone> Versioned<T> {
    fn get(&self, key: &str, version: &str) -> Option<T> {
        let map = self.0.lock().ok()?;
        map.get(key).filter(|(v, _)| v == version).map(|(_, t)| t.clone())
    }

    fn put(&self, key: String, version: String, value: T) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, (version, value));
        }
    }
}

/// Senders built from configurations, reused while the configuration is unchanged.
#[derive(Default)]
pub struct SenderCache {
    sms: Versioned<Arc<SmsChain>>,
    email: Versioned<Arc<dyn EmailSender>>,
}

impl App {
    pub(super) async fn sms_chain(
        &self,
        tenant: &latchkey_core::ids::TenantId,
    ) -> ServiceResult<Arc<SmsChain>> {
        let (providers, source, version) = self.sms_providers(tenant).await?;
        if let (ProviderSource::Host, Some(sender)) = (source, &self.host_senders.sms) {
            return Ok(Arc::new(SmsChain {
                primary: sender.clone(),
                fallback: None,
            }));
        }
        let key = tenant.to_string();
        if let Some(chain) = self.senders.sms.get(&key, &version) {
            return Ok(chain);
        }
        let opts = &self.delivery;
        let chain = Arc::new(SmsChain {
            primary: providers.primary.build_sms(opts),
            fallback: providers.fallback.as_ref().map(|f| f.build_sms(opts)),
        });
        self.senders.sms.put(key, version, chain.clone());
        Ok(chain)
    }

    pub(super) async fn email_sender(
        &self,
        tenant: &latchkey_core::ids::TenantId,
    ) -> ServiceResult<Arc<dyn EmailSender>> {
        let (providers, source, version) = self.email_providers(tenant).await?;
        if let (ProviderSource::Host, Some(sender)) = (source, &self.host_senders.email) {
            return Ok(sender.clone());
        }
        let key = tenant.to_string();
        if let Some(sender) = self.senders.email.get(&key, &version) {
            return Ok(sender);
        }
        let sender = providers.primary.build_email(&self.delivery);
        self.senders.email.put(key, version, sender.clone());
        Ok(sender)
    }
}
