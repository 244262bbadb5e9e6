//! Webhook endpoints, the fan-out of audit events to their deliveries, and the claims.

use super::*;
use std::collections::HashSet;

contract!(
    endpoints_are_stored_per_tenant,
    events_fan_out_to_subscribed_enabled_endpoints,
    deliveries_are_claimed_once_and_fenced,
    redelivery_requeues_unless_in_flight,
    events_never_fail_while_endpoints_are_removed,
    an_event_not_fanned_out_queues_nothing,
);

fn hook(t: &TenantId, events: Option<&[&str]>, enabled: bool) -> Webhook {
    Webhook {
        id: WebhookId::generate(T0, &OsRandom),
        tenant_id: t.clone(),
        url: "https://hooks.example.com/in".into(),
        description: Some("d".into()),
        events: events.map(|e| e.iter().map(|s| s.to_string()).collect()),
        enabled,
        secret_sealed: "sealed".into(),
        created_at: T0,
        updated_at: T0,
    }
}

fn event(t: &TenantId, action: &str, at: UnixMillis) -> AuditEvent {
    AuditEvent {
        id: format!("evt_{}", ulid(at)),
        tenant_id: t.clone(),
        user_id: None,
        actor: "system".into(),
        action: action.into(),
        factor_id: None,
        outcome: "success".into(),
        ip: None,
        detail: None,
        created_at: at,
        fan_out: true,
    }
}

async fn endpoints_are_stored_per_tenant(s: DynStore) {
    let t = tenant("a");
    let other = tenant("b");
    s.insert_tenant(&t).await.unwrap();
    s.insert_tenant(&other).await.unwrap();
    let mut h = hook(&t.id, Some(&["mfa.verify", "signin"]), true);
    s.insert_webhook(&h).await.unwrap();
    assert_eq!(s.get_webhook(&t.id, &h.id).await.unwrap().as_ref(), Some(&h));
    assert_eq!(s.get_webhook(&other.id, &h.id).await.unwrap(), None);
    assert!(s.list_webhooks(&other.id).await.unwrap().is_empty());
    let all = Webhook {
        id: WebhookId::generate(T0 + 1, &OsRandom),
        ..hook(&t.id, None, false)
    };
    s.insert_webhook(&all).await.unwrap();
    assert_eq!(
        s.list_webhooks(&t.id).await.unwrap(),
        vec![h.clone(), all.clone()]
    );

    // A change replaces the fields it names and keeps the others.
    let patch = WebhookPatch {
        url: Some("https://hooks.example.com/other".into()),
        events: Some(Some(vec!["factor.delete".into()])),
        enabled: Some(false),
        secret_sealed: Some("resealed".into()),
        updated_at: T0 + 5,
        ..Default::default()
    };
    let changed = s.update_webhook(&t.id, &h.id, &patch).await.unwrap().unwrap();
    h.url = "https://hooks.example.com/other".into();
    h.events = Some(vec!["factor.delete".into()]);
    h.enabled = false;
    h.secret_sealed = "resealed".into();
    h.updated_at = T0 + 5;
    assert_eq!(changed, h);
    assert_eq!(s.get_webhook(&t.id, &h.id).await.unwrap().as_ref(), Some(&h));
    assert_eq!(
        s.update_webhook(&other.id, &h.id, &patch).await.unwrap(),
        None,
        "another tenant's id changes nothing"
    );
    let clear = WebhookPatch {
        description: Some(None),
        events: Some(None),
        updated_at: T0 + 6,
        ..Default::default()
    };
    let changed = s.update_webhook(&t.id, &h.id, &clear).await.unwrap().unwrap();
    assert_eq!(
        (changed.description, changed.events, changed.url.as_str()),
        (None, None, "https://hooks.example.com/other")
    );
    let describe = WebhookPatch {
        description: Some(Some("again".into())),
        updated_at: T0 + 7,
        ..Default::default()
    };
    let changed = s.update_webhook(&t.id, &h.id, &describe).await.unwrap().unwrap();
    assert_eq!(
        (changed.description.as_deref(), changed.events, changed.enabled),
        (Some("again"), None, false)
    );

    assert!(!s.delete_webhook(&other.id, &h.id).await.unwrap());
    assert!(s.delete_webhook(&t.id, &h.id).await.unwrap());
    assert!(!s.delete_webhook(&t.id, &h.id).await.unwrap());
    assert_eq!(s.list_webhooks(&t.id).await.unwrap(), vec![all]);
}

async fn events_fan_out_to_subscribed_enabled_endpoints(s: DynStore) {
    let t = tenant("a");
    let other = tenant("b");
    s.insert_tenant(&t).await.unwrap();
    s.insert_tenant(&other).await.unwrap();
    let every = hook(&t.id, None, true);
    let signin = hook(&t.id, Some(&["signin", "factor.delete"]), true);
    let off = hook(&t.id, None, false);
    let elsewhere = hook(&other.id, None, true);
    for h in [&every, &signin, &off, &elsewhere] {
        s.insert_webhook(h).await.unwrap();
    }
    let verify = event(&t.id, "mfa.verify", T0 + 1);
    let sign = event(&t.id, "signin", T0 + 2);
    s.insert_audit(&verify).await.unwrap();
    s.insert_audit(&sign).await.unwrap();

    let of = |h: &Webhook| {
        let s = s.clone();
        let (tenant, id) = (h.tenant_id.clone(), h.id.clone());
        async move { s.list_webhook_deliveries(&tenant, &id, None, 50).await.unwrap() }
    };
    let got = of(&every).await;
    assert_eq!(
        got.iter().map(|d| d.event_type.as_str()).collect::<Vec<_>>(),
        ["signin", "mfa.verify"],
        "newest first"
    );
    let d = &got[1];
    assert_eq!(
        d.id,
        format!("msg_{}{}", &verify.id[4..], &every.id.as_str()[4..])
    );
    assert!(is_delivery_id(&d.id));
    assert_eq!(
        (d.status, d.attempts, d.next_attempt_at, d.event_id.as_str()),
        (WebhookDeliveryStatus::Pending, 0, T0 + 1, verify.id.as_str())
    );
    let got = of(&signin).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_id, sign.id);
    assert!(of(&off).await.is_empty(), "a disabled endpoint gets nothing");
    assert!(
        of(&elsewhere).await.is_empty(),
        "another tenant's endpoint gets nothing"
    );
    // Paging by id.
    let page = s
        .list_webhook_deliveries(&t.id, &every.id, Some(&of(&every).await[0].id), 50)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].event_id, verify.id);
}

async fn deliveries_are_claimed_once_and_fenced(s: DynStore) {
    let t = tenant("a");
    s.insert_tenant(&t).await.unwrap();
    let h = hook(&t.id, None, true);
    let off = hook(&t.id, None, true);
    s.insert_webhook(&h).await.unwrap();
    s.insert_webhook(&off).await.unwrap();
    for i in 0..12 {
        s.insert_audit(&event(&t.id, "signin", T0 + i)).await.unwrap();
    }
    // Deliveries of an endpoint disabled after they were queued wait, unclaimed.
    let disable = WebhookPatch {
        enabled: Some(false),
        updated_at: T0,
        ..Default::default()
    };
    assert!(s
        .update_webhook(&t.id, &off.id, &disable)
        .await
        .unwrap()
        .is_some());

    // Eight workers at once, each claiming until nothing is left: every delivery is
    // claimed by exactly one of them.
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut mine = Vec::new();
                loop {
                    let got = s.claim_webhook_deliveries(T0 + 100, 30_000, 2).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got);
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }
    assert_eq!(claimed.len(), 12, "each delivery once");
    let ids: HashSet<_> = claimed.iter().map(|c| c.delivery.id.clone()).collect();
    assert_eq!(ids.len(), 12, "no delivery claimed twice");
    for c in &claimed {
        assert_eq!(c.webhook.id, h.id);
        assert_eq!(
            (c.delivery.status, c.delivery.attempts, c.delivery.locked_until),
            (WebhookDeliveryStatus::Sending, 1, Some(T0 + 30_100))
        );
        assert_eq!(
            c.event.as_ref().map(|e| e.id.as_str()),
            Some(c.delivery.event_id.as_str())
        );
    }
    assert!(
        s.claim_webhook_deliveries(T0 + 30_099, 30_000, 50)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );

    // A worker that stalled past its lease: another takes the delivery, and the first one's
    // late answer is not recorded.
    let first = &claimed[0].delivery;
    let again = s.claim_webhook_deliveries(T0 + 30_100, 30_000, 50).await.unwrap();
    assert_eq!(again.len(), 12);
    let retaken = again.iter().find(|c| c.delivery.id == first.id).unwrap();
    assert_eq!(retaken.delivery.attempts, 2);
    let delivered = WebhookAttempt {
        status: WebhookDeliveryStatus::Delivered,
        next_attempt_at: T0 + 30_200,
        status_code: Some(200),
        error: None,
    };
    assert!(!s
        .finish_webhook_delivery(&first.id, 1, &delivered, T0 + 30_200)
        .await
        .unwrap());
    let retry = WebhookAttempt {
        status: WebhookDeliveryStatus::Pending,
        next_attempt_at: T0 + 90_000,
        status_code: Some(500),
        error: Some("HTTP 500".into()),
    };
    assert!(s
        .finish_webhook_delivery(&first.id, 2, &retry, T0 + 30_200)
        .await
        .unwrap());
    assert!(
        !s.finish_webhook_delivery(&first.id, 2, &delivered, T0 + 30_300)
            .await
            .unwrap(),
        "once"
    );
    let row = s
        .list_webhook_deliveries(&t.id, &h.id, None, 50)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.id == first.id)
        .unwrap();
    assert_eq!(
        (
            row.status,
            row.attempts,
            row.last_status_code,
            row.locked_until,
            row.next_attempt_at
        ),
        (WebhookDeliveryStatus::Pending, 2, Some(500), None, T0 + 90_000)
    );
    // Backoff respected, then claimed again.
    let later = s.claim_webhook_deliveries(T0 + 89_999, 30_000, 50).await.unwrap();
    assert!(later.iter().all(|c| c.delivery.id != first.id));
    let due = s.claim_webhook_deliveries(T0 + 90_000, 30_000, 50).await.unwrap();
    assert!(due
        .iter()
        .any(|c| c.delivery.id == first.id && c.delivery.attempts == 3));
}

async fn redelivery_requeues_unless_in_flight(s: DynStore) {
    let t = tenant("a");
    let other = tenant("b");
    s.insert_tenant(&t).await.unwrap();
    s.insert_tenant(&other).await.unwrap();
    let h = hook(&t.id, None, true);
    s.insert_webhook(&h).await.unwrap();
    s.insert_audit(&event(&t.id, "signin", T0)).await.unwrap();
    let claimed = s.claim_webhook_deliveries(T0, 30_000, 10).await.unwrap();
    let d = &claimed[0].delivery;
    assert_eq!(
        s.redeliver_webhook(&t.id, &h.id, &d.id, T0 + 1).await.unwrap(),
        Redelivery::InProgress
    );
    let failed = WebhookAttempt {
        status: WebhookDeliveryStatus::Failed,
        next_attempt_at: T0 + 2,
        status_code: Some(410),
        error: Some("HTTP 410".into()),
    };
    assert!(s
        .finish_webhook_delivery(&d.id, 1, &failed, T0 + 2)
        .await
        .unwrap());
    assert!(s
        .claim_webhook_deliveries(T0 + 10, 30_000, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.redeliver_webhook(&other.id, &h.id, &d.id, T0 + 3)
            .await
            .unwrap(),
        Redelivery::NotFound
    );
    let Redelivery::Queued(q) = s.redeliver_webhook(&t.id, &h.id, &d.id, T0 + 3).await.unwrap() else {
        panic!("not queued")
    };
    assert_eq!(
        (q.status, q.next_attempt_at, q.attempts),
        (WebhookDeliveryStatus::Pending, T0 + 3, 1)
    );
    let again = s.claim_webhook_deliveries(T0 + 3, 30_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.attempts, 2);
    // Removing the endpoint removes its deliveries.
    assert!(s.delete_webhook(&t.id, &h.id).await.unwrap());
    assert!(s
        .list_webhook_deliveries(&t.id, &h.id, None, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn events_never_fail_while_endpoints_are_removed(s: DynStore) {
    // An endpoint removed while an event fans out to it: the event is written all the same
    // (it may be a sign-in's), and nothing is left to claim for the endpoint.
    let t = tenant("a");
    s.insert_tenant(&t).await.unwrap();
    for i in 0..20 {
        let h = hook(&t.id, None, true);
        s.insert_webhook(&h).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (s1, b1, tid, hid) = (s.clone(), barrier.clone(), t.id.clone(), h.id.clone());
        let remove = tokio::spawn(async move {
            b1.wait().await;
            s1.delete_webhook(&tid, &hid).await.unwrap()
        });
        let (s2, b2) = (s.clone(), barrier.clone());
        let e = event(&t.id, "signin", T0 + i);
        let record = tokio::spawn(async move {
            b2.wait().await;
            s2.insert_audit(&e).await.unwrap();
        });
        assert!(remove.await.unwrap());
        record.await.unwrap();
    }
    assert!(s
        .claim_webhook_deliveries(T0 + 100, 30_000, 100)
        .await
        .unwrap()
        .is_empty());
}

/// `fan_out: false` (the server knows the tenant has no endpoint) writes the event and
/// nothing else; with an endpoint the same event would be queued.
async fn an_event_not_fanned_out_queues_nothing(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let h = hook(&t.id, None, true);
    s.insert_webhook(&h).await.unwrap();
    let quiet = AuditEvent {
        fan_out: false,
        ..event(&t.id, "signin", T0)
    };
    s.insert_audit(&quiet).await.unwrap();
    assert!(s
        .list_webhook_deliveries(&t.id, &h.id, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.list_audit(&t.id, None, None, 10).await.unwrap().len(), 1);
    s.insert_audit(&event(&t.id, "signin", T0 + 1)).await.unwrap();
    assert_eq!(
        s.list_webhook_deliveries(&t.id, &h.id, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // The tenant read back counts its endpoint.
    assert_eq!(s.get_tenant(&t.id).await.unwrap().unwrap().webhooks, 1);
}
