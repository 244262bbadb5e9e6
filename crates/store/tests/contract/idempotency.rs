//! `Idempotency-Key` records.

use super::*;

contract!(idempotency_keys_start_once_and_replay,);

async fn idempotency_keys_start_once_and_replay(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let rec = IdempotencyRecord {
        tenant_id: u.tenant_id.clone(),
        scope: "ses_x POST /v1/users/me/mfa/factors".into(),
        key_hash: "k1".into(),
        request_hash: "r1".into(),
        created_at: T0,
        expires_at: T0 + 86_400_000,
    };
    // Of many concurrent first uses, one starts.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (s, rec) = (s.clone(), rec.clone());
        tasks.push(tokio::spawn(async move {
            s.idempotency_begin(&rec, T0).await.unwrap()
        }));
    }
    let mut started = 0;
    for t in tasks {
        match t.await.unwrap() {
            IdempotencyBegin::Started => started += 1,
            other => assert_eq!(other, IdempotencyBegin::InFlight),
        }
    }
    assert_eq!(started, 1);
    let other_body = IdempotencyRecord {
        request_hash: "r2".into(),
        ..rec.clone()
    };
    assert_eq!(
        s.idempotency_begin(&other_body, T0 + 1).await.unwrap(),
        IdempotencyBegin::Mismatch
    );
    s.idempotency_finish(&rec, 201, "lk1.sealed").await.unwrap();
    assert_eq!(
        s.idempotency_begin(&rec, T0 + 2).await.unwrap(),
        IdempotencyBegin::Done {
            status: 201,
            response_sealed: "lk1.sealed".into()
        }
    );
    // Abandoning leaves a finished record alone; an abandoned in-flight one starts again.
    s.idempotency_abandon(&rec).await.unwrap();
    assert!(matches!(
        s.idempotency_begin(&rec, T0 + 3).await.unwrap(),
        IdempotencyBegin::Done { .. }
    ));
    let k2 = IdempotencyRecord {
        key_hash: "k2".into(),
        ..rec.clone()
    };
    assert_eq!(
        s.idempotency_begin(&k2, T0).await.unwrap(),
        IdempotencyBegin::Started
    );
    s.idempotency_abandon(&k2).await.unwrap();
    assert_eq!(
        s.idempotency_begin(&k2, T0).await.unwrap(),
        IdempotencyBegin::Started
    );
    // A record left in flight (a crash before finishing) is given up after a minute.
    let k3 = IdempotencyRecord {
        key_hash: "k3".into(),
        ..rec.clone()
    };
    assert_eq!(
        s.idempotency_begin(&k3, T0).await.unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        s.idempotency_begin(&k3, T0 + IDEMPOTENCY_IN_FLIGHT_MS - 1)
            .await
            .unwrap(),
        IdempotencyBegin::InFlight
    );
    let later = IdempotencyRecord {
        created_at: T0 + IDEMPOTENCY_IN_FLIGHT_MS,
        ..k3.clone()
    };
    assert_eq!(
        s.idempotency_begin(&later, T0 + IDEMPOTENCY_IN_FLIGHT_MS)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    // Expired records are forgotten.
    assert_eq!(
        s.idempotency_begin(&rec, T0 + 86_400_000).await.unwrap(),
        IdempotencyBegin::Started
    );
}
