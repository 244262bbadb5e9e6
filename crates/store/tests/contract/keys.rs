//! Server secrets, signing keys, re-sealing and `meta`.

use super::*;

contract!(
    server_secrets_and_signing_keys,
    one_first_key_per_algorithm,
    concurrent_first_keys_agree,
    rotation_schedules_retirement,
    meta_values_round_trip,
);

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
        signs_from: T0,
        retired_at: None,
    };
    let k2 = SigningKeyRecord {
        kid: "k2".into(),
        created_at: T0 + 1,
        ..k1.clone()
    };
    s.insert_signing_key(&k1).await.unwrap();
    s.insert_signing_key(&k2).await.unwrap();
    assert_eq!(
        s.published_signing_keys(T0).await.unwrap(),
        vec![k2.clone(), k1.clone()]
    );
    assert!(matches!(
        s.insert_signing_key(&k1).await,
        Err(StoreError::Conflict)
    ));
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

fn key(kid: &str, alg: &str, created_at: UnixMillis) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        algorithm: alg.into(),
        public_key: kid.as_bytes().to_vec(),
        private_sealed: format!("sealed-{kid}"),
        created_at,
        signs_from: created_at,
        retired_at: None,
    }
}

fn kids(keys: &[SigningKeyRecord]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

/// The first key of an algorithm is stored once; later offers (another replica's, or one
/// after a restart) do nothing, whatever their kid.
async fn one_first_key_per_algorithm(s: DynStore) {
    s.ensure_first_signing_key(&key("rsa-a", "RS256", T0), T0)
        .await
        .unwrap();
    s.ensure_first_signing_key(&key("rsa-b", "RS256", T0 + 1), T0 + 1)
        .await
        .unwrap();
    s.ensure_first_signing_key(&key("ec-a", "ES256", T0 + 2), T0 + 2)
        .await
        .unwrap();
    assert_eq!(
        kids(&s.published_signing_keys(T0 + 3).await.unwrap()),
        ["ec-a", "rsa-a"]
    );
    // A database whose EdDSA key came before the first-key marker: an offer does nothing.
    s.insert_signing_key(&key("ed-old", "EdDSA", T0)).await.unwrap();
    s.ensure_first_signing_key(&key("ed-new", "EdDSA", T0 + 4), T0 + 4)
        .await
        .unwrap();
    assert_eq!(
        kids(&s.published_signing_keys(T0 + 5).await.unwrap()),
        ["ec-a", "ed-old", "rsa-a"]
    );
    // The stored record reads back whole.
    let stored = s.published_signing_keys(T0).await.unwrap();
    assert!(stored.contains(&key("rsa-a", "RS256", T0)));
}

/// Eight replicas offering their own first key at once: one is kept, per algorithm. The
/// race is run over several rounds (a fresh algorithm name each), so that without the
/// unique marker some round would keep two.
async fn concurrent_first_keys_agree(s: DynStore) {
    for round in 0..6 {
        let alg = format!("TEST{round}");
        let start = Arc::new(tokio::sync::Barrier::new(8));
        let offers: Vec<_> = (0..8)
            .map(|i| {
                let (s, start, alg) = (s.clone(), start.clone(), alg.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    s.ensure_first_signing_key(&key(&format!("{alg}-{i}"), &alg, T0 + i), T0 + 10)
                        .await
                        .unwrap()
                })
            })
            .collect();
        for o in offers {
            o.await.unwrap();
        }
        let keys = s.published_signing_keys(T0 + 10).await.unwrap();
        assert_eq!(
            keys.iter().filter(|k| k.algorithm == alg).count(),
            1,
            "{alg}: {:?}",
            kids(&keys)
        );
    }
}

/// A rotation stores the new key and schedules the others of its algorithm to retire; a
/// retirement is only ever brought forward; other algorithms are untouched; a retired key
/// is no longer listed once its time has come.
async fn rotation_schedules_retirement(s: DynStore) {
    s.insert_signing_key(&key("rsa-1", "RS256", T0)).await.unwrap();
    s.insert_signing_key(&key("ed-1", "EdDSA", T0)).await.unwrap();
    let rsa2 = SigningKeyRecord {
        signs_from: T0 + 3_600_000,
        ..key("rsa-2", "RS256", T0 + 1000)
    };
    let retire_at = T0 + 3_600_000 + 86_400_000;
    assert_eq!(
        s.schedule_signing_rotation(&rsa2, retire_at).await.unwrap(),
        ["rsa-1"]
    );
    let published = s.published_signing_keys(T0 + 2000).await.unwrap();
    assert_eq!(kids(&published), ["rsa-2", "ed-1", "rsa-1"]);
    assert_eq!(published[0], rsa2, "the new key reads back whole");
    assert_eq!(published[2].retired_at, Some(retire_at));
    assert_eq!(published[1].retired_at, None, "other algorithms are untouched");

    // A second rotation before the first took effect: rsa-2 is scheduled too; rsa-1 keeps
    // its earlier time unless the new one is sooner.
    let rsa3 = SigningKeyRecord {
        signs_from: T0 + 3000,
        ..key("rsa-3", "RS256", T0 + 3000)
    };
    let sooner = T0 + 3000 + 86_400_000;
    let mut changed = s.schedule_signing_rotation(&rsa3, sooner).await.unwrap();
    changed.sort();
    assert_eq!(changed, ["rsa-1", "rsa-2"]);
    let later = key("rsa-4", "RS256", T0 + 4000);
    assert_eq!(
        s.schedule_signing_rotation(&later, retire_at + 1).await.unwrap(),
        ["rsa-3"],
        "keys retiring sooner keep their time"
    );
    let at = |kid: &str, keys: &[SigningKeyRecord]| keys.iter().find(|k| k.kid == kid).unwrap().retired_at;
    let published = s.published_signing_keys(T0 + 5000).await.unwrap();
    assert_eq!(at("rsa-1", &published), Some(sooner));
    assert_eq!(at("rsa-2", &published), Some(sooner));
    assert_eq!(at("rsa-3", &published), Some(retire_at + 1));
    assert_eq!(at("rsa-4", &published), None);

    // Published until (not at) the retirement time.
    assert_eq!(
        kids(&s.published_signing_keys(sooner - 1).await.unwrap()),
        ["rsa-4", "rsa-3", "rsa-2", "ed-1", "rsa-1"]
    );
    assert_eq!(
        kids(&s.published_signing_keys(sooner).await.unwrap()),
        ["rsa-4", "rsa-3", "ed-1"]
    );
    assert_eq!(
        kids(&s.published_signing_keys(retire_at + 1).await.unwrap()),
        ["rsa-4", "ed-1"]
    );
    // A kid is never reused.
    assert!(matches!(
        s.schedule_signing_rotation(&key("rsa-1", "RS256", T0 + 6000), retire_at)
            .await,
        Err(StoreError::Conflict)
    ));
}

async fn meta_values_round_trip(s: DynStore) {
    assert_eq!(s.get_meta("contract_key").await.unwrap(), None);
    s.put_meta("contract_key", "1").await.unwrap();
    s.put_meta("contract_key", "2").await.unwrap();
    assert_eq!(s.get_meta("contract_key").await.unwrap().as_deref(), Some("2"));
}
