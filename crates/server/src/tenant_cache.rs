//! Tenants read on every request, kept for a moment.
//!
//! Every unauthenticated request (sign-in, verify) resolves its tenant and parses the
//! tenant's settings; this keeps the parsed tenant for [`TTL`]. A settings change made
//! through this process takes effect at once here; other replicas see it within `TTL`.

use latchkey_core::ids::TenantId;
use latchkey_store::model::Tenant;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long another replica's change of a tenant's settings can go unseen.
pub const TTL: Duration = Duration::from_secs(1);
/// Above this many tenants the cache starts over rather than grow.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct TenantCache {
    entries: Mutex<HashMap<TenantId, (Instant, Tenant)>>,
}

impl TenantCache {
    pub fn get(&self, id: &TenantId) -> Option<Tenant> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(id)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, t)| t.clone())
    }

    pub fn put(&self, tenant: &Tenant) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(tenant.id.clone(), (Instant::now(), tenant.clone()));
        }
    }

    pub fn forget(&self, id: &TenantId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::rand::OsRandom;
    use latchkey_core::settings::TenantSettings;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn keeps_forgets_and_expires() {
        let cache = TenantCache::default();
        let t = Tenant {
            id: TenantId::generate(0, &OsRandom),
            name: "t".into(),
            settings: TenantSettings::default(),
            created_at: 0,
            slug: None,
            host: None,
            mfa_rules: 0,
            webhooks: 0,
        };
        assert_eq!(cache.get(&t.id), None);
        cache.put(&t);
        assert_eq!(cache.get(&t.id), Some(t.clone()));
        cache.forget(&t.id);
        assert_eq!(cache.get(&t.id), None);
        cache.put(&t);
        if let Some((at, _)) = cache.entries.lock().unwrap().get_mut(&t.id) {
            *at -= TTL;
        }
        assert_eq!(cache.get(&t.id), None);
    }
}
