//! Enrollment tickets: issued (with their email, under the send limits, when one is sent),
//! found while live, spent once and only by their user.

use super::*;

contract!(
    issuing_a_ticket_ends_earlier_ones_and_queues_its_email,
    a_ticket_is_spent_once_and_only_by_its_user,
    concurrent_spends_of_one_ticket_one_wins,
);

const LIFETIME: UnixMillis = 5 * 86_400_000;

fn ticket(u: &User, token: &str, now: UnixMillis) -> EnrollmentTicket {
    EnrollmentTicket {
        id: format!("etk_{}", ulid(now)),
        token_hash: format!("t-{token}"),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        factor_kind: Some(FactorKind::Totp),
        allow_multiple: false,
        created_at: now,
        expires_at: now + LIFETIME,
        consumed_at: None,
    }
}

fn emailed(u: &User, token: &str, now: UnixMillis, limit: u32) -> EnrollmentTicketIssue {
    EnrollmentTicketIssue {
        ticket: ticket(u, token, now),
        email: Some(TicketEmail {
            message: queued_email(u, now, now + LIFETIME),
            limits: vec![SendLimit {
                scope: "user_hourly",
                subject: u.id.to_string(),
                window_secs: 3600,
                limit,
            }],
            cooldown_key: format!("ticket:{}", u.id),
            cooldown_secs: 60,
            stats: vec![("links_issued", "enrollment_ticket".into())],
        }),
        audit: Some(event(u, "mfa.enrollment_ticket", "success")),
    }
}

fn spend(u: &User, token: &str) -> TicketSpend {
    TicketSpend {
        tenant_id: u.tenant_id.clone(),
        token_hash: format!("t-{token}"),
        user_id: u.id.clone(),
        audit: None,
    }
}

async fn found(s: &DynStore, u: &User, token: &str, now: UnixMillis) -> Option<EnrollmentTicket> {
    s.find_enrollment_ticket(&u.tenant_id, &format!("t-{token}"), now)
        .await
        .unwrap()
}

async fn issuing_a_ticket_ends_earlier_ones_and_queues_its_email(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let t = T0 - T0.rem_euclid(3_600_000);
    // Without an email: no limits, nothing queued, the audit record written.
    let plain = EnrollmentTicketIssue {
        ticket: ticket(&u, "a", t),
        email: None,
        audit: Some(event(&u, "mfa.enrollment_ticket", "success")),
    };
    assert_eq!(
        s.issue_enrollment_ticket(&plain, t).await.unwrap(),
        IssueOutcome::Issued
    );
    let got = found(&s, &u, "a", t).await.unwrap();
    assert_eq!(got, plain.ticket);
    assert!(s.claim_outbox(t, 30_000, 10).await.unwrap().is_empty());
    assert_eq!(
        s.list_audit(&u.tenant_id, Some(&u.id), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Another tenant's lookup finds nothing.
    let other = user_in_new_tenant(&s).await;
    assert!(s
        .find_enrollment_ticket(&other.tenant_id, "t-a", t)
        .await
        .unwrap()
        .is_none());
    // With an email: queued; the earlier ticket ends.
    assert_eq!(
        s.issue_enrollment_ticket(&emailed(&u, "b", t + 1, 2), t + 1)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    assert!(
        found(&s, &u, "a", t + 1).await.is_none(),
        "only the newest ticket works"
    );
    assert!(found(&s, &u, "b", t + 1).await.is_some());
    let claimed = s.claim_outbox(t + 1, 30_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].factor_id, None);
    // Within the cooldown, and over a limit, nothing is written: the live ticket stays.
    assert_eq!(
        s.issue_enrollment_ticket(&emailed(&u, "c", t + 1000, 2), t + 1000)
            .await
            .unwrap(),
        IssueOutcome::Cooldown { retry_after_secs: 60 }
    );
    assert!(found(&s, &u, "c", t + 1000).await.is_none());
    s.issue_enrollment_ticket(&emailed(&u, "d", t + 61_000, 2), t + 61_000)
        .await
        .unwrap();
    assert!(matches!(
        s.issue_enrollment_ticket(&emailed(&u, "e", t + 122_000, 2), t + 122_000)
            .await
            .unwrap(),
        IssueOutcome::Limited {
            scope: "user_hourly",
            ..
        }
    ));
    assert!(found(&s, &u, "e", t + 122_000).await.is_none());
    assert!(found(&s, &u, "d", t + 122_000).await.is_some());
    // Expired, it is found no more.
    assert!(found(&s, &u, "d", t + 61_000 + LIFETIME).await.is_none());
}

async fn a_ticket_is_spent_once_and_only_by_its_user(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let issue = EnrollmentTicketIssue {
        ticket: ticket(&u, "x", T0),
        email: None,
        audit: None,
    };
    s.issue_enrollment_ticket(&issue, T0).await.unwrap();
    // Another user, another tenant, too late: not spent.
    let mut mallory = spend(&u, "x");
    mallory.user_id = UserId::generate(T0, &OsRandom);
    assert!(!s.consume_enrollment_ticket(&mallory, T0 + 1).await.unwrap());
    let mut elsewhere = spend(&u, "x");
    elsewhere.tenant_id = TenantId::generate(T0, &OsRandom);
    assert!(!s.consume_enrollment_ticket(&elsewhere, T0 + 1).await.unwrap());
    let mut go = spend(&u, "x");
    go.audit = Some(event(&u, "mfa.enrollment_ticket.use", "success"));
    assert!(!s.consume_enrollment_ticket(&go, T0 + LIFETIME).await.unwrap());
    assert!(s
        .list_audit(&u.tenant_id, Some(&u.id), None, 10)
        .await
        .unwrap()
        .is_empty());
    // As issued: spent once, with its audit record.
    assert!(s.consume_enrollment_ticket(&go, T0 + 5).await.unwrap());
    assert!(!s.consume_enrollment_ticket(&go, T0 + 6).await.unwrap());
    assert!(found(&s, &u, "x", T0 + 6).await.is_none());
    let audit = s.list_audit(&u.tenant_id, Some(&u.id), None, 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "mfa.enrollment_ticket.use");
}

async fn concurrent_spends_of_one_ticket_one_wins(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let issue = EnrollmentTicketIssue {
        ticket: ticket(&u, "r", T0),
        email: None,
        audit: None,
    };
    s.issue_enrollment_ticket(&issue, T0).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (s, barrier, u) = (s.clone(), barrier.clone(), u.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.consume_enrollment_ticket(&spend(&u, "r"), T0 + 1)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}
