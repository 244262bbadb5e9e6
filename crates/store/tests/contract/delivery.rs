//! Sent codes, the outbox, statistics and providers.

use super::*;

contract!(
    issuing_codes_respects_cooldown_limits_and_supersedes,
    outbox_messages_are_claimed_once,
    sent_codes_complete_challenges_once,
    providers_and_stats,
    a_sent_code_keeps_its_challenge_open,
);

async fn issuing_codes_respects_cooldown_limits_and_supersedes(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    // Align to the start of an hour window so the limit test is deterministic.
    let t = T0 - T0.rem_euclid(3_600_000);
    let f = sms_factor(&u, FactorStatus::Pending);
    let mut f = f;
    f.expires_at = Some(t + 600_000);
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h1", true, t), t)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    assert_eq!(
        s.get_factor(&u.tenant_id, &f.id)
            .await
            .unwrap()
            .unwrap()
            .destination_sealed
            .as_deref(),
        Some("+14155552671")
    );
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h2", false, t + 1000), t + 1000)
            .await
            .unwrap(),
        IssueOutcome::Cooldown { retry_after_secs: 59 }
    );
    // After the cooldown a resend replaces the code: the first no longer confirms.
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h2", false, t + 60_000), t + 60_000)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let b = backup(&u, &["x"]);
    let old = Check::SentCode {
        code_hash: "h1".into(),
        challenge_id: None,
    };
    assert_eq!(
        s.activate_factor(&f.id, &old, &b, &ActivationRules::default(), t + 61_000)
            .await
            .unwrap(),
        ActivateOutcome::Rejected
    );
    assert_eq!(
        s.get_factor(&u.tenant_id, &f.id).await.unwrap().unwrap().status,
        FactorStatus::Pending,
        "rolled back"
    );
    // The third send this hour reaches the destination limit of 3 only on the fourth.
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h3", false, t + 120_000), t + 120_000)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let limited = s
        .issue_code(&issue(&u, &f, None, "h4", false, t + 180_000), t + 180_000)
        .await
        .unwrap();
    assert_eq!(
        limited,
        IssueOutcome::Limited {
            scope: "destination_hourly",
            retry_after_secs: 3420
        }
    );
    // Nothing of the refused issue was written: h4 does not exist, h3 still confirms.
    let h4 = Check::SentCode {
        code_hash: "h4".into(),
        challenge_id: None,
    };
    assert_eq!(
        s.activate_factor(&f.id, &h4, &b, &ActivationRules::default(), t + 181_000)
            .await
            .unwrap(),
        ActivateOutcome::Rejected
    );
    let h3 = Check::SentCode {
        code_hash: "h3".into(),
        challenge_id: None,
    };
    assert_eq!(
        s.activate_factor(&f.id, &h3, &b, &ActivationRules::default(), t + 182_000)
            .await
            .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: true
        }
    );
    assert_eq!(
        s.activate_factor(&f.id, &h3, &b, &ActivationRules::default(), t + 183_000)
            .await
            .unwrap(),
        ActivateOutcome::Rejected,
        "used once"
    );
    let stats = s.delivery_stats(&u.tenant_id).await.unwrap();
    assert_eq!(
        stats,
        vec![("sms_sent_by_country".to_string(), "US".to_string(), 3)]
    );
    // A new hour window starts a new count.
    let next_hour = t + 3_600_000;
    let c = challenge(&u, next_hour + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let active = s.get_factor(&u.tenant_id, &f.id).await.unwrap().unwrap();
    assert_eq!(
        s.issue_code(
            &issue(&u, &active, Some(&c.id), "h5", false, next_hour),
            next_hour
        )
        .await
        .unwrap(),
        IssueOutcome::Issued
    );
}

async fn outbox_messages_are_claimed_once(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let f = sms_factor(&u, FactorStatus::Pending);
    assert_eq!(s.outbox_backlog().await.unwrap(), (0, None));
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h1", true, T0), T0)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    assert_eq!(s.outbox_backlog().await.unwrap(), (1, Some(T0)), "queued");
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.claim_outbox(T0, 30_000, 10).await.unwrap()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    assert_eq!(claimed.len(), 1, "one worker gets the message");
    let m = &claimed[0];
    assert_eq!((m.status, m.attempts), (DeliveryStatus::Sending, 1));
    assert!(
        s.claim_outbox(T0 + 29_000, 30_000, 10).await.unwrap().is_empty(),
        "leased"
    );
    // A worker that died mid-send: the lease runs out and the message is tried again.
    let again = s.claim_outbox(T0 + 30_000, 30_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(s.outbox_backlog().await.unwrap(), (1, Some(T0)), "being sent");
    let retry = DeliveryUpdate {
        status: DeliveryStatus::Queued,
        next_attempt_at: T0 + 40_000,
        last_error: Some("503 from provider".into()),
        provider: Some("twilio".into()),
        provider_message_id: None,
    };
    s.finish_outbox(&m.id, &retry, T0 + 31_000).await.unwrap();
    assert!(
        s.claim_outbox(T0 + 39_000, 30_000, 10).await.unwrap().is_empty(),
        "backoff respected"
    );
    assert_eq!(s.claim_outbox(T0 + 40_000, 30_000, 10).await.unwrap().len(), 1);
    let sent = DeliveryUpdate {
        status: DeliveryStatus::Sent,
        next_attempt_at: T0 + 40_000,
        last_error: None,
        provider: Some("twilio".into()),
        provider_message_id: Some("SM123".into()),
    };
    s.finish_outbox(&m.id, &sent, T0 + 41_000).await.unwrap();
    assert_eq!(s.outbox_backlog().await.unwrap(), (0, None), "delivered");
    assert!(s.claim_outbox(T0 + 100_000, 30_000, 10).await.unwrap().is_empty());
    let last = s.last_delivery(&f.id).await.unwrap().unwrap();
    assert_eq!(
        (last.status, last.attempts, last.provider_message_id.as_deref()),
        (DeliveryStatus::Sent, 3, Some("SM123"))
    );
    assert_eq!(last.provider.as_deref(), Some("twilio"));
}

async fn sent_codes_complete_challenges_once(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let mut f = sms_factor(&u, FactorStatus::Active);
    f.expires_at = None;
    s.insert_factor(&f).await.unwrap();
    let c1 = challenge(&u, T0 + 300_000);
    let c2 = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c1).await.unwrap();
    s.insert_challenge(&c2).await.unwrap();
    assert_eq!(
        s.issue_code(&issue(&u, &f, Some(&c1.id), "code1", false, T0), T0)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let proof = Proof::SentCode {
        factor_id: f.id.clone(),
        code_hash: "code1".into(),
    };
    // Bound to its challenge: it does not complete another.
    assert_eq!(
        s.complete_challenge(&c2.id, &proof, T0 + 1).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
    assert_eq!(
        s.complete_challenge(&c1.id, &proof, T0 + 2).await.unwrap(),
        CompleteOutcome::Completed {
            backup_installed: false
        }
    );
    // Expiry: a code past its lifetime does nothing.
    assert_eq!(
        s.issue_code(&issue(&u, &f, Some(&c2.id), "code2", false, T0 + 3), T0 + 3)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let late = Proof::SentCode {
        factor_id: f.id.clone(),
        code_hash: "code2".into(),
    };
    assert_eq!(
        s.complete_challenge(&c2.id, &late, T0 + 3 + 600_000)
            .await
            .unwrap(),
        CompleteOutcome::ChallengeGone
    );
    let c3 = challenge(&u, T0 + 3_000_000);
    s.insert_challenge(&c3).await.unwrap();
    assert_eq!(
        s.issue_code(&issue(&u, &f, Some(&c3.id), "code3", false, T0 + 4), T0 + 4)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let p3 = Proof::SentCode {
        factor_id: f.id.clone(),
        code_hash: "code3".into(),
    };
    assert_eq!(
        s.complete_challenge(&c3.id, &p3, T0 + 4 + 600_000).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
}

async fn providers_and_stats(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    assert_eq!(s.get_provider(&u.tenant_id, "sms").await.unwrap(), None);
    s.put_provider(&u.tenant_id, "sms", "lk1.a.b", T0).await.unwrap();
    s.put_provider(&u.tenant_id, "sms", "lk1.a.c", T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        s.get_provider(&u.tenant_id, "sms").await.unwrap().as_deref(),
        Some("lk1.a.c")
    );
    assert_eq!(s.get_provider(&u.tenant_id, "email").await.unwrap(), None);
    let sealed = s.list_sealed(SealedColumn::ProviderConfig).await.unwrap();
    assert!(sealed
        .iter()
        .any(|(id, v)| id == &latchkey_store::provider_row_id(&u.tenant_id, "sms") && v == "lk1.a.c"));
    assert!(s.delete_provider(&u.tenant_id, "sms").await.unwrap());
    assert!(!s.delete_provider(&u.tenant_id, "sms").await.unwrap());
    s.bump_stat(&u.tenant_id, "sms_refused", "country").await.unwrap();
    s.bump_stat(&u.tenant_id, "sms_refused", "country").await.unwrap();
    assert_eq!(
        s.delivery_stats(&u.tenant_id).await.unwrap(),
        vec![("sms_refused".into(), "country".into(), 2)]
    );
}

async fn a_sent_code_keeps_its_challenge_open(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let mut f = sms_factor(&u, FactorStatus::Pending);
    f.status = FactorStatus::Active;
    f.expires_at = None;
    s.insert_factor(&f).await.unwrap();
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let mut i = issue(&u, &f, Some(&c.id), "h1", false, T0);
    i.code.expires_at = T0 + 600_000;
    assert_eq!(s.issue_code(&i, T0).await.unwrap(), IssueOutcome::Issued);
    assert_eq!(
        s.get_challenge(&u.tenant_id, &c.id)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        T0 + 600_000
    );
    // Never shortened.
    let mut j = issue(&u, &f, Some(&c.id), "h2", false, T0 + 61_000);
    j.code.expires_at = T0 + 200_000;
    assert_eq!(s.issue_code(&j, T0 + 61_000).await.unwrap(), IssueOutcome::Issued);
    assert_eq!(
        s.get_challenge(&u.tenant_id, &c.id)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        T0 + 600_000
    );
}
