//! The attempt throttle.

use super::*;

contract!(
    throttle_counts_locks_and_resets,
    parallel_throttle_burst_cannot_exceed_limit,
    throttle_peek_reads_without_counting,
);

async fn throttle_peek_reads_without_counting(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let k = tkey(&t.id, "app_x");
    assert_eq!(s.throttle_peek(&k).await.unwrap(), None);
    let p = ThrottlePolicy::PASSWORD;
    for _ in 0..5 {
        s.throttle_attempt(&k, &p, T0).await.unwrap();
    }
    // Peeking twice counts nothing; the 5th attempt set a 1 s lock.
    assert_eq!(s.throttle_peek(&k).await.unwrap(), Some((5, T0 + 1000)));
    assert_eq!(s.throttle_peek(&k).await.unwrap(), Some((5, T0 + 1000)));
    assert_eq!(
        s.throttle_peek(&tkey(&tenant("other").id, "app_x"))
            .await
            .unwrap(),
        None,
        "another tenant's subject is another key"
    );
    s.throttle_clear(&k).await.unwrap();
    assert_eq!(s.throttle_peek(&k).await.unwrap(), Some((0, 0)));
}

async fn throttle_counts_locks_and_resets(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let k = tkey(&t.id, "alice@example.com");
    let p = ThrottlePolicy::PASSWORD;
    for n in 1..=5 {
        assert_eq!(
            s.throttle_attempt(&k, &p, T0).await.unwrap(),
            ThrottleDecision::Allowed { failures: n }
        );
    }
    // The 5th attempt set a 1 s delay.
    assert_eq!(
        s.throttle_attempt(&k, &p, T0 + 200).await.unwrap(),
        ThrottleDecision::Locked { retry_after_secs: 1 }
    );
    assert_eq!(
        s.throttle_attempt(&k, &p, T0 + 1000).await.unwrap(),
        ThrottleDecision::Allowed { failures: 6 }
    );
    assert_eq!(
        s.throttle_attempt(&k, &p, T0 + 1000).await.unwrap(),
        ThrottleDecision::Locked { retry_after_secs: 2 }
    );
    // Another subject and another tenant are untouched.
    assert_eq!(
        s.throttle_attempt(&tkey(&t.id, "bob@example.com"), &p, T0)
            .await
            .unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
    // Clearing (a success) starts over.
    s.throttle_clear(&k).await.unwrap();
    assert_eq!(
        s.throttle_attempt(&k, &p, T0 + 1000).await.unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
    // A long quiet period starts over too.
    let later = T0 + 1000 + 3_600_001;
    assert_eq!(
        s.throttle_attempt(&k, &p, later).await.unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
}

async fn parallel_throttle_burst_cannot_exceed_limit(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let k = tkey(&t.id, "victim@example.com");
    let p = ThrottlePolicy::PASSWORD;
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (s, k, barrier) = (s.clone(), k.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.throttle_attempt(&k, &p, T0).await.unwrap()
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if let ThrottleDecision::Allowed { .. } = task.await.unwrap() {
            allowed += 1;
        }
    }
    // Exactly the allowed attempts; the last of them set the first delay.
    assert_eq!(allowed, p.free_attempts);
}
