//! Tenants, the default tenant and API keys.

use super::*;

contract!(
    tenants_round_trip,
    default_tenant_is_created_once,
    tenant_addresses_are_unique,
    api_keys_are_found_by_hash_and_revoked,
    api_key_scopes_are_stored,
);

async fn tenants_round_trip(s: DynStore) {
    let mut t = tenant("Acme");
    s.insert_tenant(&t).await.unwrap();
    assert_eq!(s.get_tenant(&t.id).await.unwrap(), Some(t.clone()));
    assert!(matches!(s.insert_tenant(&t).await, Err(StoreError::Conflict)));
    t.settings.access_token_ttl_secs = 120;
    assert!(s.update_tenant_settings(&t, T0 + 1).await.unwrap());
    assert_eq!(
        s.get_tenant(&t.id)
            .await
            .unwrap()
            .unwrap()
            .settings
            .access_token_ttl_secs,
        120
    );
    assert_eq!(
        s.get_tenant(&TenantId::generate(T0, &OsRandom)).await.unwrap(),
        None
    );
}

async fn default_tenant_is_created_once(s: DynStore) {
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let t = tenant("default");
                let k = key(&t.id, &format!("hash-{i}"));
                s.ensure_default_tenant(&t, Some(&k)).await.unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    let mut created = 0;
    for a in attempts {
        let (id, c) = a.await.unwrap();
        ids.push(id);
        created += usize::from(c);
    }
    assert_eq!(created, 1, "exactly one caller creates the default tenant");
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    assert!(s.get_tenant(&ids[0]).await.unwrap().is_some());
    assert_eq!(s.list_api_keys(&ids[0]).await.unwrap().len(), 1);
}

async fn api_keys_are_found_by_hash_and_revoked(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let k = key(&t.id, "h1");
    s.insert_api_key(&k).await.unwrap();
    assert!(matches!(
        s.insert_api_key(&key(&t.id, "h1")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.find_api_key_by_hash("h1").await.unwrap(), Some(k.clone()));
    assert_eq!(s.find_api_key_by_hash("h2").await.unwrap(), None);
    assert!(s.revoke_api_key(&k.id, T0 + 5).await.unwrap());
    assert!(!s.revoke_api_key(&k.id, T0 + 6).await.unwrap());
    assert_eq!(
        s.find_api_key_by_hash("h1").await.unwrap().unwrap().revoked_at,
        Some(T0 + 5)
    );
    assert_eq!(s.list_api_keys(&t.id).await.unwrap().len(), 1);
}

async fn api_key_scopes_are_stored(s: DynStore) {
    use latchkey_core::scope::KeyScope;
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let plain = key(&t.id, "plain");
    let scoped = ApiKeyRecord {
        scopes: vec![KeyScope::MfaAdmin],
        ..key(&t.id, "scoped")
    };
    s.insert_api_key(&plain).await.unwrap();
    s.insert_api_key(&scoped).await.unwrap();
    assert_eq!(
        s.find_api_key_by_hash("plain").await.unwrap().unwrap().scopes,
        vec![]
    );
    assert_eq!(
        s.find_api_key_by_hash("scoped").await.unwrap().unwrap().scopes,
        vec![KeyScope::MfaAdmin]
    );
    let listed = s.list_api_keys(&t.id).await.unwrap();
    assert_eq!(listed.iter().filter(|k| !k.scopes.is_empty()).count(), 1);
}

async fn tenant_addresses_are_unique(s: DynStore) {
    let a = tenant("A");
    let mut b = tenant("B");
    b.slug = Some("bravo".into());
    s.insert_tenant(&a).await.unwrap();
    s.insert_tenant(&b).await.unwrap();
    assert_eq!(s.get_tenant(&b.id).await.unwrap(), Some(b.clone()));
    // Neither a slug nor a host can belong to two tenants.
    assert!(matches!(
        s.set_tenant_addresses(&a.id, Some("bravo"), None, T0 + 1).await,
        Err(StoreError::Conflict)
    ));
    assert!(s
        .set_tenant_addresses(&a.id, Some("alpha"), Some("login.alpha.test"), T0 + 1)
        .await
        .unwrap());
    assert!(matches!(
        s.set_tenant_addresses(&b.id, Some("bravo"), Some("login.alpha.test"), T0 + 1)
            .await,
        Err(StoreError::Conflict)
    ));
    let listed = s.list_addressed_tenants().await.unwrap();
    let mine: Vec<_> = listed
        .iter()
        .filter(|t| t.id == a.id || t.id == b.id)
        .map(|t| (t.slug.clone(), t.host.clone()))
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(mine.contains(&(Some("alpha".into()), Some("login.alpha.test".into()))));
    assert!(mine.contains(&(Some("bravo".into()), None)));
    // Cleared: freed for another tenant, and no longer listed.
    assert!(s.set_tenant_addresses(&a.id, None, None, T0 + 2).await.unwrap());
    assert!(s
        .set_tenant_addresses(&b.id, Some("bravo"), Some("login.alpha.test"), T0 + 2)
        .await
        .unwrap());
    assert!(!s
        .list_addressed_tenants()
        .await
        .unwrap()
        .iter()
        .any(|t| t.id == a.id));
    assert!(!s
        .set_tenant_addresses(&TenantId::generate(T0, &OsRandom), None, None, T0)
        .await
        .unwrap());
}
