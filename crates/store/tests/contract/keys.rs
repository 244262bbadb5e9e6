//! Server secrets, signing keys, re-sealing and `meta`.

use super::*;

contract!(server_secrets_and_signing_keys, meta_values_round_trip,);

async fn server_secrets_and_signing_keys(s: DynStore) {
    assert_eq!(
        s.ensure_server_secret("pepper", "sealed-a", T0).await.unwrap(),
        "sealed-a"
    );
    assert_eq!(
        s.ensure_server_secret("pepper", "sealed-b", T0).await.unwrap(),
        "sealed-a"
    );
    let k1 = SigningKeyRecord {
        kid: "k1".into(),
        algorithm: "EdDSA".into(),
        public_key: vec![1; 32],
        private_sealed: "lk1.x.y".into(),
        created_at: T0,
    };
    let k2 = SigningKeyRecord {
        kid: "k2".into(),
        created_at: T0 + 1,
        ..k1.clone()
    };
    s.insert_signing_key(&k1).await.unwrap();
    s.insert_signing_key(&k2).await.unwrap();
    assert_eq!(
        s.active_signing_keys().await.unwrap(),
        vec![k2.clone(), k1.clone()]
    );
    let sealed = s.list_sealed(SealedColumn::SigningKeyPrivate).await.unwrap();
    assert_eq!(sealed.len(), 2);
    assert!(s
        .replace_sealed(SealedColumn::SigningKeyPrivate, "k1", "lk1.x.y", "lk1.z.w")
        .await
        .unwrap());
    assert!(!s
        .replace_sealed(SealedColumn::SigningKeyPrivate, "k1", "lk1.x.y", "lk1.q.q")
        .await
        .unwrap());
    assert!(s
        .replace_sealed(SealedColumn::ServerSecret, "pepper", "sealed-a", "sealed-c")
        .await
        .unwrap());
    assert_eq!(
        s.ensure_server_secret("pepper", "sealed-d", T0).await.unwrap(),
        "sealed-c"
    );
}

async fn meta_values_round_trip(s: DynStore) {
    assert_eq!(s.get_meta("contract_key").await.unwrap(), None);
    s.put_meta("contract_key", "1").await.unwrap();
    s.put_meta("contract_key", "2").await.unwrap();
    assert_eq!(s.get_meta("contract_key").await.unwrap().as_deref(), Some("2"));
}
