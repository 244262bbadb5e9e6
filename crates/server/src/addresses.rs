//! The tenants' addresses (`/t/{slug}` and host names): the table that routes a request
//! to its tenant's issuer and pages, held in memory so the lookup costs a hash probe, not
//! a query.
//!
//! A change made through this process takes effect at once; other replicas re-read the
//! table every [`REFRESH`].

use latchkey_core::ids::TenantId;
use latchkey_store::model::Tenant;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long another replica's change of a slug or host can go unseen here.
pub const REFRESH: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Table {
    by_slug: HashMap<String, TenantId>,
    by_host: HashMap<String, TenantId>,
    of: HashMap<TenantId, (Option<String>, Option<String>)>,
}

#[derive(Default)]
pub struct Addresses {
    table: RwLock<Arc<Table>>,
}

impl Addresses {
    /// Replaces the table with these tenants' addresses.
    pub fn replace(&self, tenants: &[Tenant]) {
        let mut t = Table::default();
        for tenant in tenants {
            if let Some(s) = &tenant.slug {
                t.by_slug.insert(s.clone(), tenant.id.clone());
            }
            if let Some(h) = &tenant.host {
                t.by_host.insert(h.clone(), tenant.id.clone());
            }
            t.of.insert(tenant.id.clone(), (tenant.slug.clone(), tenant.host.clone()));
        }
        if let Ok(mut table) = self.table.write() {
            *table = Arc::new(t);
        }
    }

    fn read(&self) -> Arc<Table> {
        self.table.read().map(|t| t.clone()).unwrap_or_default()
    }

    pub fn by_slug(&self, slug: &str) -> Option<TenantId> {
        self.read().by_slug.get(slug).cloned()
    }

    /// The tenant whose host this is. Host names compare case-insensitively (RFC 9110
    /// §4.2.3); the table holds them lower-cased.
    pub fn by_host(&self, host: &str) -> Option<TenantId> {
        let table = self.read();
        if table.by_host.is_empty() {
            return None;
        }
        table.by_host.get(&host.to_ascii_lowercase()).cloned()
    }

    /// The tenant's slug and host.
    pub fn of(&self, id: &TenantId) -> (Option<String>, Option<String>) {
        self.read().of.get(id).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::rand::OsRandom;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn routes_by_slug_and_host() {
        let a = Addresses::default();
        let mut t = Tenant {
            id: TenantId::generate(0, &OsRandom),
            name: "t".into(),
            settings: Default::default(),
            created_at: 0,
            slug: Some("acme".into()),
            host: Some("login.acme.test".into()),
            mfa_rules: 0,
            webhooks: 0,
        };
        a.replace(std::slice::from_ref(&t));
        assert_eq!(a.by_slug("acme"), Some(t.id.clone()));
        assert_eq!(a.by_host("Login.ACME.test"), Some(t.id.clone()));
        assert_eq!(a.by_slug("other"), None);
        assert_eq!(a.of(&t.id).1.as_deref(), Some("login.acme.test"));
        t.slug = None;
        t.host = None;
        a.replace(&[]);
        assert_eq!(a.by_slug("acme"), None);
        assert_eq!(a.by_host("login.acme.test"), None);
        assert_eq!(a.of(&t.id), (None, None));
    }
}
