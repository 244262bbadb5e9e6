//! Emailed links (email verification, password reset): issued with their message under the
//! send limits, found by token or by code, spent once.

use super::*;

contract!(
    issuing_a_link_queues_its_message_and_ends_earlier_ones,
    a_link_is_spent_once_and_only_as_it_was_issued,
    a_reset_changes_the_password_and_ends_sessions_and_other_links,
    concurrent_spends_of_one_link_one_wins,
);

fn link_issue(u: &User, purpose: LinkPurpose, token: &str, now: UnixMillis, limit: u32) -> EmailLinkIssue {
    EmailLinkIssue {
        link: EmailLink {
            token_hash: format!("t-{token}"),
            tenant_id: u.tenant_id.clone(),
            user_id: u.id.clone(),
            purpose,
            code_hash: format!("c-{token}"),
            email_hash: "e-alice".into(),
            created_at: now,
            expires_at: now + purpose.lifetime_ms(),
            consumed_at: None,
        },
        message: queued_email(u, now, now + purpose.lifetime_ms()),
        limits: vec![SendLimit {
            scope: "user_hourly",
            subject: u.id.to_string(),
            window_secs: 3600,
            limit,
        }],
        cooldown_key: format!("{}:{}", purpose.as_str(), u.id),
        cooldown_secs: 60,
        stats: vec![("links_issued", purpose.as_str().into())],
    }
}

fn token(t: &str) -> LinkProof {
    LinkProof::Token {
        token_hash: format!("t-{t}"),
    }
}

fn spend(u: &User, t: &str, effect: LinkEffect) -> LinkConsume {
    LinkConsume {
        tenant_id: u.tenant_id.clone(),
        token_hash: format!("t-{t}"),
        user_id: u.id.clone(),
        email_hash: "e-alice".into(),
        effect,
        audit: None,
    }
}

async fn live(s: &DynStore, u: &User, purpose: LinkPurpose, proof: &LinkProof, now: UnixMillis) -> bool {
    s.find_email_link(&u.tenant_id, purpose, proof, now)
        .await
        .unwrap()
        .is_some()
}

async fn issuing_a_link_queues_its_message_and_ends_earlier_ones(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let t = T0 - T0.rem_euclid(3_600_000);
    let reset = LinkPurpose::ResetPassword;
    assert_eq!(
        s.issue_email_link(&link_issue(&u, reset, "a", t, 2), t)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    assert!(live(&s, &u, reset, &token("a"), t).await);
    let by_code = LinkProof::Code {
        user_id: u.id.clone(),
        code_hash: "c-a".into(),
    };
    let found = s
        .find_email_link(&u.tenant_id, reset, &by_code, t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.token_hash, "t-a");
    // The code is bound to its account and the token to its purpose.
    let other = LinkProof::Code {
        user_id: UserId::generate(T0, &OsRandom),
        code_hash: "c-a".into(),
    };
    assert!(!live(&s, &u, reset, &other, t).await);
    assert!(!live(&s, &u, LinkPurpose::VerifyEmail, &token("a"), t).await);
    // The message waits in the outbox, for no factor.
    let claimed = s.claim_outbox(t, 30_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].factor_id, None);
    // Within the cooldown nothing is written.
    assert_eq!(
        s.issue_email_link(&link_issue(&u, reset, "b", t + 1000, 2), t + 1000)
            .await
            .unwrap(),
        IssueOutcome::Cooldown { retry_after_secs: 59 }
    );
    assert!(!live(&s, &u, reset, &token("b"), t + 1000).await);
    // A later link ends the earlier one of its purpose, not those of the other purpose.
    let verify = LinkPurpose::VerifyEmail;
    s.issue_email_link(&link_issue(&u, verify, "v", t + 2000, 5), t + 2000)
        .await
        .unwrap();
    assert_eq!(
        s.issue_email_link(&link_issue(&u, reset, "b", t + 61_000, 3), t + 61_000)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    assert!(!live(&s, &u, reset, &token("a"), t + 61_000).await);
    assert!(live(&s, &u, reset, &token("b"), t + 61_000).await);
    assert!(live(&s, &u, verify, &token("v"), t + 61_000).await);
    // Over a limit (three sends counted for the user this hour) nothing is written either.
    assert!(matches!(
        s.issue_email_link(&link_issue(&u, reset, "c", t + 122_000, 3), t + 122_000)
            .await
            .unwrap(),
        IssueOutcome::Limited {
            scope: "user_hourly",
            ..
        }
    ));
    assert!(!live(&s, &u, reset, &token("c"), t + 122_000).await);
    assert!(live(&s, &u, reset, &token("b"), t + 122_000).await);
    // Expired, it is found no more.
    assert!(!live(&s, &u, reset, &token("b"), t + 61_000 + reset.lifetime_ms()).await);
}

async fn a_link_is_spent_once_and_only_as_it_was_issued(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let verify = LinkPurpose::VerifyEmail;
    s.issue_email_link(&link_issue(&u, verify, "v", T0, 5), T0)
        .await
        .unwrap();
    // Another user, another address, another purpose: not spent.
    let mut mallory = spend(&u, "v", LinkEffect::VerifyEmail);
    mallory.user_id = UserId::generate(T0, &OsRandom);
    assert!(!s.consume_email_link(&mallory, T0 + 1).await.unwrap());
    let mut moved = spend(&u, "v", LinkEffect::VerifyEmail);
    moved.email_hash = "e-alice-new".into();
    assert!(
        !s.consume_email_link(&moved, T0 + 1).await.unwrap(),
        "a link for the old address dies when the address changes"
    );
    let as_reset = spend(
        &u,
        "v",
        LinkEffect::ResetPassword {
            password_hash: "$argon2id$new".into(),
        },
    );
    assert!(!s.consume_email_link(&as_reset, T0 + 1).await.unwrap());
    let mut late = spend(&u, "v", LinkEffect::VerifyEmail);
    late.audit = Some(event(&u, "email.verify", "success"));
    assert!(!s
        .consume_email_link(&late, T0 + verify.lifetime_ms())
        .await
        .unwrap());
    assert_eq!(
        s.get_user(&u.tenant_id, &u.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at,
        None
    );
    // As issued: spent once, the address verified, the audit record written.
    assert!(s.consume_email_link(&late, T0 + 5).await.unwrap());
    assert!(!s.consume_email_link(&late, T0 + 6).await.unwrap());
    assert!(!live(&s, &u, verify, &token("v"), T0 + 6).await);
    let after = s.get_user(&u.tenant_id, &u.id).await.unwrap().unwrap();
    assert_eq!(after.email_verified_at, Some(T0 + 5));
    assert_eq!(after.password_hash, u.password_hash);
    let audit = s.list_audit(&u.tenant_id, Some(&u.id), None, 10).await.unwrap();
    assert_eq!(audit.len(), 1, "the refused spend wrote no audit record");
}

async fn a_reset_changes_the_password_and_ends_sessions_and_other_links(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let t = T0 - T0.rem_euclid(3_600_000);
    let (a, b) = (session(&u, t + 1_000_000), session(&u, t + 1_000_000));
    s.create_session(&a, "ra").await.unwrap();
    s.create_session(&b, "rb").await.unwrap();
    let reset = LinkPurpose::ResetPassword;
    s.issue_email_link(&link_issue(&u, reset, "r1", t, 5), t)
        .await
        .unwrap();
    s.issue_email_link(&link_issue(&u, LinkPurpose::VerifyEmail, "v", t, 5), t)
        .await
        .unwrap();
    let mut go = spend(
        &u,
        "r1",
        LinkEffect::ResetPassword {
            password_hash: "$argon2id$new".into(),
        },
    );
    go.audit = Some(event(&u, "password.reset", "success"));
    assert!(s.consume_email_link(&go, t + 10).await.unwrap());
    let after = s.get_user(&u.tenant_id, &u.id).await.unwrap().unwrap();
    assert_eq!(after.password_hash, "$argon2id$new");
    assert_eq!(after.email_verified_at, Some(t + 10));
    for ses in [&a, &b] {
        let got = s.get_session(&ses.id).await.unwrap().unwrap();
        assert_eq!(got.revoked_at, Some(t + 10), "every session ends");
    }
    assert_eq!(
        s.rotate_refresh_token("ra", "ra2", t + 11).await.unwrap(),
        RotateOutcome::Dead
    );
    assert!(!s.consume_email_link(&go, t + 12).await.unwrap());
    // The verification link lives on: it is of another purpose.
    assert!(live(&s, &u, LinkPurpose::VerifyEmail, &token("v"), t + 12).await);
    let audit = s.list_audit(&u.tenant_id, Some(&u.id), None, 10).await.unwrap();
    assert_eq!(audit[0].action, "password.reset");
}

async fn concurrent_spends_of_one_link_one_wins(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let reset = LinkPurpose::ResetPassword;
    s.issue_email_link(&link_issue(&u, reset, "r", T0, 5), T0)
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (s, barrier, u) = (s.clone(), barrier.clone(), u.clone());
            tokio::spawn(async move {
                let go = spend(
                    &u,
                    "r",
                    LinkEffect::ResetPassword {
                        password_hash: format!("$argon2id${i}"),
                    },
                );
                barrier.wait().await;
                s.consume_email_link(&go, T0 + 1).await.unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one concurrent spend wins");
}
