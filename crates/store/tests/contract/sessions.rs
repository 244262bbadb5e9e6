//! Sessions and refresh-token rotation.

use super::*;

contract!(
    refresh_tokens_rotate_once_and_reuse_revokes_family,
    parallel_refresh_rotates_exactly_once,
);

async fn refresh_tokens_rotate_once_and_reuse_revokes_family(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let ses = session(&u, T0 + 1_000_000);
    s.create_session(&ses, "r1").await.unwrap();
    assert_eq!(s.get_session(&ses.id).await.unwrap(), Some(ses.clone()));
    assert_eq!(
        s.rotate_refresh_token("r1", "r2", T0 + 1).await.unwrap(),
        RotateOutcome::Rotated(Box::new(ses.clone()))
    );
    assert_eq!(
        s.rotate_refresh_token("nope", "x", T0 + 2).await.unwrap(),
        RotateOutcome::Unknown
    );
    // Replaying r1 is theft: the family dies, so r2 stops working too.
    assert_eq!(
        s.rotate_refresh_token("r1", "r3", T0 + 3).await.unwrap(),
        RotateOutcome::Reused
    );
    assert!(s
        .get_session(&ses.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert_eq!(
        s.rotate_refresh_token("r2", "r4", T0 + 4).await.unwrap(),
        RotateOutcome::Dead
    );
    // Expiry.
    let short = session(&u, T0 + 10);
    s.create_session(&short, "s1").await.unwrap();
    assert_eq!(
        s.rotate_refresh_token("s1", "s2", T0 + 10).await.unwrap(),
        RotateOutcome::Dead
    );
    // Explicit revocation.
    let other = session(&u, T0 + 1_000_000);
    s.create_session(&other, "o1").await.unwrap();
    assert_eq!(
        s.session_for_refresh("o1").await.unwrap().map(|x| x.id),
        Some(other.id.clone())
    );
    assert!(s.revoke_session(&other.id, T0 + 5).await.unwrap());
    assert!(!s.revoke_session(&other.id, T0 + 6).await.unwrap());
    assert_eq!(
        s.rotate_refresh_token("o1", "o2", T0 + 7).await.unwrap(),
        RotateOutcome::Dead
    );
}

async fn parallel_refresh_rotates_exactly_once(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let ses = session(&u, T0 + 1_000_000);
    s.create_session(&ses, "p1").await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.rotate_refresh_token("p1", &format!("next-{i}"), T0 + 1)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    for t in tasks {
        match t.await.unwrap() {
            RotateOutcome::Rotated(_) => rotated += 1,
            RotateOutcome::Reused => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rotated, 1);
}
