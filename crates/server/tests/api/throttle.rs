//! First-factor throttling: increasing delays, counted in the database.

use crate::both_stores;
use crate::helpers::*;

both_stores!(
    failures_slow_the_account_down_then_let_it_go,
    the_count_survives_a_restart,
    a_parallel_burst_is_bounded,
    unknown_accounts_are_throttled_alike,
);

async fn failures_slow_the_account_down_then_let_it_go(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    for _ in 0..5 {
        let (status, _) = s.signin("alice@example.com", "wrong password").await;
        assert_eq!(status, 401);
    }
    // Locked: even the right password gets the same 429, with Retry-After.
    let resp = s
        .post("/v1/auth/signin")
        .json(&serde_json::json!({ "email": "ALICE@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "too_many_attempts");

    // Each further failure doubles the wait…
    s.clock.advance_secs(1);
    assert_eq!(s.signin("alice@example.com", "wrong password").await.0, 401);
    let resp = s
        .post("/v1/auth/signin")
        .json(&serde_json::json!({ "email": "alice@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            resp.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "2")
    );
    // …and after it, the right password works and clears the count.
    s.clock.advance_secs(2);
    assert_eq!(s.signin("alice@example.com", PASSWORD).await.0, 200);
    for _ in 0..4 {
        assert_eq!(s.signin("alice@example.com", "wrong password").await.0, 401);
    }
    assert_eq!(s.signin("alice@example.com", PASSWORD).await.0, 200);

    // The delay is capped: a victim never waits more than a minute.
    for _ in 0..40 {
        let (status, _) = s.signin("alice@example.com", "wrong password").await;
        if status == 429 {
            s.clock.advance_secs(60);
        }
    }
    s.clock.advance_secs(60);
    assert_eq!(s.signin("alice@example.com", PASSWORD).await.0, 200);
    s.stop().await;
}

async fn the_count_survives_a_restart(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    for _ in 0..5 {
        s.signin("alice@example.com", "wrong password").await;
    }
    let (b, dir, schema, clock) = s.stop().await;
    let s = spawn_with(b, dir, schema, clock, |_| {}).await;
    assert_eq!(s.signin("alice@example.com", PASSWORD).await.0, 429);
    s.stop().await;
}

async fn a_parallel_burst_is_bounded(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    let requests: Vec<_> = (0..40)
        .map(|_| s.signin("alice@example.com", "wrong password"))
        .collect();
    let results = futures_join_all(requests).await;
    let evaluated = results.iter().filter(|(status, _)| *status == 401).count();
    let throttled = results.iter().filter(|(status, _)| *status == 429).count();
    assert_eq!(
        evaluated, 5,
        "five attempts, the last of which sets the first delay"
    );
    assert_eq!(throttled, 35);
    s.stop().await;
}

async fn unknown_accounts_are_throttled_alike(b: Backend) {
    let s = spawn(b).await;
    for _ in 0..5 {
        assert_eq!(s.signin("ghost@example.com", "wrong password").await.0, 401);
    }
    assert_eq!(s.signin("ghost@example.com", "wrong password").await.0, 429);
    s.stop().await;
}

async fn futures_join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(futs.len());
    let handles: Vec<_> = futs.into_iter().map(Box::pin).collect();
    // Poll them all concurrently on this task.
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().map(|r| r.unwrap()));
    out
}
