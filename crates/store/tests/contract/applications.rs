//! Applications (OAuth 2.0 / OpenID Connect clients): stored as given, paged, changed without
//! touching the type or the secret, and never visible from another tenant.

use super::*;
use latchkey_core::application::ApplicationSettings;
use latchkey_core::oidc::{ClientType, GrantType, SigningAlg};

contract!(
    applications_round_trip_and_page,
    applications_are_tenant_scoped,
    application_updates_leave_type_and_secret_alone,
    application_secrets_are_replaced_for_confidential_clients_only,
);

fn application(t: &TenantId, client_type: ClientType) -> Application {
    let confidential = client_type == ClientType::Confidential;
    Application {
        id: ApplicationId::generate(T0, &OsRandom),
        tenant_id: t.clone(),
        name: "Acme web".into(),
        client_type,
        secret_hash: confidential.then(|| "a".repeat(64)),
        secret_prefix: confidential.then(|| "cs_abcd".into()),
        redirect_uris: vec![
            "https://app.example.com/callback".into(),
            "com.example.app:/cb".into(),
        ],
        post_logout_redirect_uris: vec!["https://app.example.com/".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        settings: ApplicationSettings {
            access_token_ttl_secs: Some(300),
            id_token_signed_response_alg: SigningAlg::EdDSA,
            audience: Some("https://api.example.com".into()),
            scopes: vec!["read:users".into()],
            ..Default::default()
        },
        created_at: T0,
        updated_at: T0,
    }
}

async fn applications_round_trip_and_page(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let a = application(&t.id, ClientType::Confidential);
    s.insert_application(&a).await.unwrap();
    assert_eq!(s.get_application(&t.id, &a.id).await.unwrap(), Some(a.clone()));
    assert!(matches!(
        s.insert_application(&a).await,
        Err(StoreError::Conflict)
    ));
    let p = application(&t.id, ClientType::Public);
    s.insert_application(&p).await.unwrap();
    assert_eq!(s.get_application(&t.id, &p.id).await.unwrap(), Some(p.clone()));
    for _ in 0..3 {
        s.insert_application(&application(&t.id, ClientType::Public))
            .await
            .unwrap();
    }
    let page1 = s.list_applications(&t.id, None, 3).await.unwrap();
    assert_eq!(page1.len(), 3);
    let page2 = s.list_applications(&t.id, Some(&page1[2].id), 3).await.unwrap();
    assert_eq!(page2.len(), 2);
    let mut ids: Vec<_> = page1.iter().chain(&page2).map(|a| a.id.clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "id order");
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert!(ids.contains(&a.id) && ids.contains(&p.id));

    assert!(s.delete_application(&t.id, &a.id).await.unwrap());
    assert_eq!(s.get_application(&t.id, &a.id).await.unwrap(), None);
    assert!(!s.delete_application(&t.id, &a.id).await.unwrap(), "deleted once");
    assert_eq!(s.list_applications(&t.id, None, 10).await.unwrap().len(), 4);
}

async fn applications_are_tenant_scoped(s: DynStore) {
    let (a, b) = (tenant("a"), tenant("b"));
    s.insert_tenant(&a).await.unwrap();
    s.insert_tenant(&b).await.unwrap();
    let app = application(&a.id, ClientType::Confidential);
    s.insert_application(&app).await.unwrap();
    assert_eq!(s.get_application(&b.id, &app.id).await.unwrap(), None);
    assert!(s.list_applications(&b.id, None, 10).await.unwrap().is_empty());
    // Writes naming the other tenant find nothing and change nothing.
    let hijack = Application {
        tenant_id: b.id.clone(),
        name: "mine now".into(),
        redirect_uris: vec!["https://evil.example/cb".into()],
        ..app.clone()
    };
    assert!(!s.update_application(&hijack).await.unwrap());
    assert!(!s
        .set_application_secret(&b.id, &app.id, &"b".repeat(64), "cs_evil", T0 + 1)
        .await
        .unwrap());
    assert!(!s.delete_application(&b.id, &app.id).await.unwrap());
    assert_eq!(s.get_application(&a.id, &app.id).await.unwrap(), Some(app));
}

async fn application_updates_leave_type_and_secret_alone(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let app = application(&t.id, ClientType::Confidential);
    s.insert_application(&app).await.unwrap();
    let changed = Application {
        name: "Acme".into(),
        redirect_uris: vec!["https://new.example.com/cb".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::ClientCredentials],
        settings: ApplicationSettings::default(),
        updated_at: T0 + 5,
        // A stale copy's type and secret: neither may be written by an update.
        client_type: ClientType::Public,
        secret_hash: Some("0".repeat(64)),
        secret_prefix: Some("cs_old0".into()),
        ..app.clone()
    };
    assert!(s.update_application(&changed).await.unwrap());
    let stored = s.get_application(&t.id, &app.id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        Application {
            client_type: ClientType::Confidential,
            secret_hash: app.secret_hash.clone(),
            secret_prefix: app.secret_prefix.clone(),
            ..changed
        }
    );
    assert_eq!(stored.created_at, T0);
}

async fn application_secrets_are_replaced_for_confidential_clients_only(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let app = application(&t.id, ClientType::Confidential);
    s.insert_application(&app).await.unwrap();
    assert!(s
        .set_application_secret(&t.id, &app.id, &"c".repeat(64), "cs_new1", T0 + 9)
        .await
        .unwrap());
    let stored = s.get_application(&t.id, &app.id).await.unwrap().unwrap();
    assert_eq!(stored.secret_hash.as_deref(), Some("c".repeat(64).as_str()));
    assert_eq!(stored.secret_prefix.as_deref(), Some("cs_new1"));
    assert_eq!(stored.updated_at, T0 + 9);
    let public = application(&t.id, ClientType::Public);
    s.insert_application(&public).await.unwrap();
    assert!(!s
        .set_application_secret(&t.id, &public.id, &"d".repeat(64), "cs_nope", T0 + 9)
        .await
        .unwrap());
    assert_eq!(
        s.get_application(&t.id, &public.id)
            .await
            .unwrap()
            .unwrap()
            .secret_hash,
        None
    );
    let unknown = ApplicationId::generate(T0, &OsRandom);
    assert!(!s
        .set_application_secret(&t.id, &unknown, &"d".repeat(64), "cs_nope", T0)
        .await
        .unwrap());
}
