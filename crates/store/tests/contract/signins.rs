//! Sign-in history for adaptive MFA: recorded, read back in two lists, confirmed after a
//! second factor, and pruned per user as it is recorded.

use super::*;

contract!(
    history_reads_back_newest_first_per_user,
    a_challenged_signin_becomes_a_success_once_confirmed,
    history_is_pruned_by_age_and_count,
    failures_cannot_crowd_out_the_successes,
);

const DAY: i64 = 86_400_000;

fn rec(u: &User, at: UnixMillis, outcome: &str) -> SignInRecord {
    SignInRecord {
        id: format!("sgn_{}", ulid(at)),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        at,
        network: Some("198.51.100.0/24".into()),
        country: Some("DE".into()),
        lat_tenths: Some(525),
        lon_tenths: Some(134),
        accuracy_km: Some(20),
        outcome: outcome.into(),
        score: 30,
        reasons: "new_network,new_device".into(),
        challenge_id: None,
    }
}

/// Wide enough to keep everything the cases write.
fn wide(now: UnixMillis) -> HistoryBounds {
    HistoryBounds {
        successes_since: now - 1000 * DAY,
        successes: 1000,
        others_since: now - 1000 * DAY,
        others: 1000,
    }
}

async fn history_reads_back_newest_first_per_user(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let other = user(&u.tenant_id, "bob@example.com");
    s.insert_user(&other).await.unwrap();
    let first = rec(&u, T0, "success");
    let mut bare = rec(&u, T0 + 1, "mfa_failed");
    bare.network = None;
    bare.country = None;
    bare.lat_tenths = None;
    bare.lon_tenths = None;
    bare.accuracy_km = None;
    bare.reasons = String::new();
    let second = rec(&u, T0 + 2, "success");
    for r in [&first, &bare, &second, &rec(&other, T0 + 3, "success")] {
        s.record_signin(r, &wide(T0)).await.unwrap();
    }
    let got = s.recent_signins(&u.tenant_id, &u.id, &wide(T0)).await.unwrap();
    assert_eq!(
        got,
        vec![second, first, bare],
        "successes newest first, then the others"
    );
    // Another tenant's user of the same id sees nothing.
    let t2 = tenant("t2");
    s.insert_tenant(&t2).await.unwrap();
    assert!(s
        .recent_signins(&t2.id, &u.id, &wide(T0))
        .await
        .unwrap()
        .is_empty());
}

async fn a_challenged_signin_becomes_a_success_once_confirmed(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let challenge = ChallengeId::generate(T0, &OsRandom);
    let mut r = rec(&u, T0, "challenged");
    r.challenge_id = Some(challenge.clone());
    s.record_signin(&r, &wide(T0)).await.unwrap();
    let t2 = tenant("t2");
    s.insert_tenant(&t2).await.unwrap();
    assert!(
        !s.confirm_signin(&t2.id, &challenge).await.unwrap(),
        "another tenant's"
    );
    assert!(s.confirm_signin(&u.tenant_id, &challenge).await.unwrap());
    assert!(!s.confirm_signin(&u.tenant_id, &challenge).await.unwrap(), "once");
    let got = s.recent_signins(&u.tenant_id, &u.id, &wide(T0)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].outcome, "success");
    assert_eq!(got[0].challenge_id, Some(challenge));
}

async fn history_is_pruned_by_age_and_count(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let other = user(&u.tenant_id, "bob@example.com");
    s.insert_user(&other).await.unwrap();
    let keep = |now| HistoryBounds {
        successes_since: now - 10 * DAY,
        successes: 3,
        others_since: now - DAY,
        others: 2,
    };
    // Old rows, written while they were recent.
    s.record_signin(&rec(&u, T0, "success"), &keep(T0)).await.unwrap();
    s.record_signin(&rec(&u, T0 + 1, "mfa_failed"), &keep(T0))
        .await
        .unwrap();
    s.record_signin(&rec(&other, T0, "success"), &keep(T0))
        .await
        .unwrap();
    let now = T0 + 20 * DAY;
    for i in 0..5 {
        s.record_signin(&rec(&u, now + i, "success"), &keep(now))
            .await
            .unwrap();
        s.record_signin(&rec(&u, now + i, "mfa_failed"), &keep(now))
            .await
            .unwrap();
    }
    let got = s.recent_signins(&u.tenant_id, &u.id, &wide(now)).await.unwrap();
    let seen: Vec<(i64, &str)> = got.iter().map(|r| (r.at - now, r.outcome.as_str())).collect();
    assert_eq!(
        seen,
        [
            (4, "success"),
            (3, "success"),
            (2, "success"),
            (4, "mfa_failed"),
            (3, "mfa_failed")
        ],
        "the 20-day-old rows are gone, and only the newest 3 and 2 are kept"
    );
    // Pruning is per user: the other user's old row waits for their next sign-in.
    assert_eq!(
        s.recent_signins(&u.tenant_id, &other.id, &wide(now))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn failures_cannot_crowd_out_the_successes(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let bounds = HistoryBounds {
        successes_since: T0 - 90 * DAY,
        successes: 50,
        others_since: T0 - DAY,
        others: 10,
    };
    s.record_signin(&rec(&u, T0 - 30 * DAY, "success"), &bounds)
        .await
        .unwrap();
    for i in 0..30 {
        s.record_signin(&rec(&u, T0 + i, "mfa_failed"), &bounds)
            .await
            .unwrap();
    }
    let got = s.recent_signins(&u.tenant_id, &u.id, &bounds).await.unwrap();
    assert_eq!(got.len(), 11);
    assert_eq!(got[0].outcome, "success");
    assert_eq!(got[0].at, T0 - 30 * DAY);
    // The default bounds read the same success back.
    let got = s
        .recent_signins(&u.tenant_id, &u.id, &HistoryBounds::at(T0))
        .await
        .unwrap();
    assert_eq!(got.iter().filter(|r| r.outcome == "success").count(), 1);
}
