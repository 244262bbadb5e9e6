//! Signed webhooks (docs/events.md) against a real receiver that checks every message with
//! the Standard Webhooks reference verifier (`standardwebhooks`, Python): every event type
//! arrives signed; retries after a 500 with backoff; redelivery under the same id; the
//! destination policy at registration and again at send time; the secret shown once.

use crate::both_stores;
use crate::helpers::*;
use crate::mfa::{mfa_signin, user_with_totp, verify};
use latchkey_core::audit::AuditAction;
use latchkey_store::model::AuditEvent;
use latchkey_testkit::hookd::Hookd;
use serde_json::{json, Value};
use std::time::Duration;

both_stores!(
    every_event_type_reaches_a_verifying_receiver,
    failures_are_retried_with_backoff_and_redelivered,
    deliveries_give_up_after_the_last_attempt,
    endpoints_are_held_to_the_destination_policy,
    stored_endpoints_are_checked_again_at_send_time,
    the_secret_is_shown_once_and_rotates,
    concurrent_changes_keep_one_consistent_endpoint,
);

fn receiver() -> Option<Hookd> {
    latchkey_testkit::process::python_module_or_skip("standardwebhooks").then(Hookd::start)
}

/// Registers an endpoint; returns its view (secret included) after telling the receiver.
async fn register(s: &TestServer, hookd: &Hookd, events: Value) -> Value {
    let (status, body) = send(
        s.admin(s.post("/v1/admin/webhooks"))
            .json(&json!({ "url": hookd.url("/in"), "events": events, "description": "test" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    hookd.set_secret(body["secret"].as_str().unwrap());
    body
}

/// Waits until the receiver holds at least `n` messages.
async fn received(hookd: &Hookd, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        let got = hookd.received();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the receiver got {} of {n} messages: {:?}",
        hookd.received().len(),
        hookd.received()
    );
}

async fn deliveries(s: &TestServer, hook: &str) -> Vec<Value> {
    let (status, body) = send(s.admin(s.get(&format!("/v1/admin/webhooks/{hook}/deliveries")))).await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

/// Waits until the delivery's status is `status`.
async fn delivery_becomes(s: &TestServer, hook: &str, id: &str, status: &str) -> Value {
    for _ in 0..300 {
        if let Some(d) = deliveries(s, hook).await.into_iter().find(|d| d["id"] == id) {
            if d["status"] == status {
                return d;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} never became {status}: {:?}", deliveries(s, hook).await);
}

async fn every_event_type_reaches_a_verifying_receiver(b: Backend) {
    let Some(hookd) = receiver() else { return };
    let s = spawn(b).await;
    let hook = register(&s, &hookd, json!(["*"])).await;
    let hook_id = hook["id"].as_str().unwrap();
    let secret = hook["secret"].as_str().unwrap();

    // Events recorded where they happen, through the real flows.
    let (_, _, fid, totp_secret, _) = user_with_totp(&s, "alice@example.com").await;
    let (status, _) = s.signin("alice@example.com", "wrong password").await;
    assert_eq!(status, 401);
    let challenge = mfa_signin(&s, "alice@example.com").await;
    let (status, _) = verify(&s, &challenge, &fid, "000000").await;
    assert_eq!(status, 401);
    let good = crate::mfa::code(&s, &totp_secret, 0);
    let (status, body) = verify(&s, &challenge, &fid, &good).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_allowed_countries": ["GB"], "totp_window": 0,
                           "mfa_allowed_factors": ["totp", "sms", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url)))
            .json(&json!({ "provider": "console" })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(s.mfa_admin(s.http.delete(format!("{}/v1/admin/sms-provider", s.url)))).await;
    assert_eq!(status, 204);
    let bob = s.signup("bob@example.com").await;
    let (status, err) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(bob["access_token"].as_str().unwrap())
            .json(&json!({ "type": "sms", "phone_number": "+14155552671" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "country_not_allowed"));

    // And one record of every type in the catalogue, so that each name is seen to travel.
    let tenant = s.app.default_tenant.clone();
    let now = s.app.now();
    for action in AuditAction::ALL {
        let event = AuditEvent {
            id: format!(
                "evt_{}",
                latchkey_core::ids::ulid(now, &latchkey_core::rand::OsRandom)
            ),
            tenant_id: tenant.clone(),
            user_id: None,
            actor: "system".into(),
            action: action.as_str().into(),
            factor_id: None,
            outcome: "success".into(),
            ip: None,
            detail: Some("catalogue".into()),
            created_at: now,
            fan_out: true,
        };
        s.app.store.insert_audit(&event).await.unwrap();
    }

    let from_flows = [
        "factor.enroll",
        "factor.confirm",
        "signin",
        "mfa.challenge",
        "mfa.verify",
        "tenant.settings_changed",
        "provider.changed",
        "sms.refused",
    ];
    let mut seen_from_flows = Vec::new();
    let mut seen_catalogue = Vec::new();
    let mut all = Vec::new();
    for _ in 0..300 {
        all = hookd.received();
        seen_catalogue = all
            .iter()
            .filter(|m| m["payload"]["data"]["detail"] == "catalogue")
            .map(|m| m["payload"]["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        seen_from_flows = all
            .iter()
            .filter(|m| m["payload"]["data"]["detail"] != "catalogue")
            .map(|m| m["payload"]["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        if seen_catalogue.len() >= AuditAction::ALL.len()
            && from_flows.iter().all(|t| seen_from_flows.iter().any(|s| s == t))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for action in AuditAction::ALL {
        assert!(
            seen_catalogue.iter().any(|t| t == action.as_str()),
            "{action:?} never arrived"
        );
    }
    for t in from_flows {
        assert!(
            seen_from_flows.iter().any(|s| s == t),
            "{t} never arrived: {seen_from_flows:?}"
        );
    }
    for m in &all {
        assert_eq!(m["verified"], true, "the reference verifier refused: {m}");
        assert_eq!(m["answered"], 204);
        let id = m["headers"]["webhook-id"].as_str().unwrap();
        assert!(latchkey_core::ids::is_delivery_id(id), "{id}");
        assert_eq!(m["headers"]["content-type"], "application/json");
        let p = &m["payload"];
        assert!(p["timestamp"].as_str().unwrap().ends_with('Z'), "{p}");
        assert!(p["data"]["id"].as_str().unwrap().starts_with("evt_"), "{p}");
        // No secret of any kind in a message.
        let raw = m["raw"].as_str().unwrap();
        for secretish in [
            secret,
            totp_secret.as_str(),
            good.as_str(),
            PASSWORD,
            "+14155552671",
            BOOTSTRAP_KEY,
        ] {
            assert!(!raw.contains(secretish), "{secretish} leaked in {raw}");
        }
    }
    // What the flows said, in detail.
    let flows: Vec<&Value> = all
        .iter()
        .filter(|m| m["payload"]["data"]["detail"] != "catalogue")
        .collect();
    let find = |t: &str, outcome: &str| {
        flows
            .iter()
            .find(|m| m["payload"]["type"] == t && m["payload"]["data"]["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no {t} {outcome}"))["payload"]
            .clone()
    };
    assert_eq!(find("signin", "failure")["data"]["detail"], "invalid_credentials");
    assert_eq!(find("signin", "success")["data"]["detail"], "mfa_challenge");
    assert_eq!(find("mfa.challenge", "pending")["data"]["detail"], "prove");
    assert_eq!(find("mfa.verify", "failure")["data"]["factor_id"], fid.as_str());
    assert_eq!(find("mfa.verify", "success")["data"]["factor_id"], fid.as_str());
    assert_eq!(
        find("tenant.settings_changed", "success")["data"]["detail"],
        "mfa_allowed_factors,sms_allowed_countries,totp_window"
    );
    assert_eq!(find("sms.refused", "refused")["data"]["detail"], "country");
    // Deliveries run concurrently, so their arrival order is not the events' order (a
    // receiver orders by the payload's `timestamp`, or `data.id`, if it needs to).
    let mut providers: Vec<String> = flows
        .iter()
        .filter(|m| m["payload"]["type"] == "provider.changed")
        .map(|m| {
            m["payload"]["data"]["detail"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    providers.sort();
    assert_eq!(providers, ["sms cleared", "sms set"]);

    // The delivery log says the same.
    let log = deliveries(&s, hook_id).await;
    assert!(log.len() >= all.len());
    assert!(log
        .iter()
        .all(|d| d["status"] == "delivered" && d["attempts"] == 1 && d["last_status_code"] == 204));
    s.stop().await;
}

async fn failures_are_retried_with_backoff_and_redelivered(b: Backend) {
    let Some(hookd) = receiver() else { return };
    let s = spawn(b).await;
    let hook = register(&s, &hookd, json!(["tenant.settings_changed"])).await;
    let hook_id = hook["id"].as_str().unwrap();
    hookd.fail_next(1);
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "totp_window": 0 })),
    )
    .await;
    assert_eq!(status, 200);
    // Events it does not subscribe to are not sent to it.
    s.signin("nobody@example.com", "nope").await;

    let first = received(&hookd, 1).await;
    assert_eq!(
        (first[0]["answered"].clone(), first[0]["verified"].clone()),
        (json!(500), json!(true))
    );
    let msg_id = first[0]["headers"]["webhook-id"].as_str().unwrap().to_owned();
    let pending = delivery_becomes(&s, hook_id, &msg_id, "pending").await;
    assert_eq!(pending["attempts"], 1);
    assert_eq!(pending["last_status_code"], 500);
    assert_eq!(pending["last_error"], "HTTP 500");
    assert!(pending["next_attempt_at"].is_string());
    // Nothing before the backoff (at least half a second after the first attempt) ends.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(hookd.received().len(), 1, "retried before its time");
    s.clock.advance_secs(2);
    let second = received(&hookd, 2).await;
    assert_eq!(
        second[1]["headers"]["webhook-id"],
        msg_id.as_str(),
        "the same message"
    );
    assert_eq!(
        (second[1]["answered"].clone(), second[1]["verified"].clone()),
        (json!(204), json!(true))
    );
    assert_eq!(second[0]["raw"], second[1]["raw"], "the same body");
    let done = delivery_becomes(&s, hook_id, &msg_id, "delivered").await;
    assert_eq!(
        (done["attempts"].clone(), done["last_status_code"].clone()),
        (json!(2), json!(204))
    );
    assert!(done["next_attempt_at"].is_null());
    assert_eq!(deliveries(&s, hook_id).await.len(), 1, "only the subscribed type");

    // Redelivery: the same message again, at once.
    let (status, body) = send(s.admin(s.post(&format!(
        "/v1/admin/webhooks/{hook_id}/deliveries/{msg_id}/redeliver"
    ))))
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending");
    let third = received(&hookd, 3).await;
    assert_eq!(third[2]["headers"]["webhook-id"], msg_id.as_str());
    assert_eq!(third[2]["verified"], true);
    delivery_becomes(&s, hook_id, &msg_id, "delivered").await;
    for bad in [
        "msg_01ARZ3NDEKTSV4RRFFQ69G5FAV01ARZ3NDEKTSV4RRFFQ69G5FAV".to_owned(),
        "nope".to_owned(),
    ] {
        let (status, body) = send(s.admin(s.post(&format!(
            "/v1/admin/webhooks/{hook_id}/deliveries/{bad}/redeliver"
        ))))
        .await;
        assert_eq!((status, error_code(&body)), (404, "delivery_not_found"));
    }
    let (status, body) = send(s.admin(s.post(&format!(
        "/v1/admin/webhooks/whk_01ARZ3NDEKTSV4RRFFQ69G5FAV/deliveries/{msg_id}/redeliver"
    ))))
    .await;
    assert_eq!((status, error_code(&body)), (404, "webhook_not_found"));
    s.stop().await;
}

async fn deliveries_give_up_after_the_last_attempt(b: Backend) {
    let Some(hookd) = receiver() else { return };
    let s = spawn(b).await;
    let hook = register(&s, &hookd, json!(["tenant.settings_changed"])).await;
    let hook_id = hook["id"].as_str().unwrap();
    let max = latchkey_core::webhook::MAX_ATTEMPTS as usize;
    hookd.fail_next(1000);
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "totp_window": 0 })),
    )
    .await;
    let first = received(&hookd, 1).await;
    let msg_id = first[0]["headers"]["webhook-id"].as_str().unwrap().to_owned();
    for n in 1..max {
        received(&hookd, n).await;
        // Once the attempt is recorded (its retry time read from the clock), move past the
        // longest wait, an hour.
        let recorded = delivery_becomes(&s, hook_id, &msg_id, "pending").await;
        assert_eq!(recorded["attempts"], n, "{recorded}");
        s.clock.advance_secs(3600);
    }
    received(&hookd, max).await;
    let failed = delivery_becomes(&s, hook_id, &msg_id, "failed").await;
    assert_eq!(failed["attempts"], max);
    assert_eq!(failed["last_status_code"], 500);
    s.clock.advance_secs(7200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(hookd.received().len(), max, "no attempt after the last");
    s.stop().await;
}

async fn endpoints_are_held_to_the_destination_policy(b: Backend) {
    let s = spawn_tweaked(b, |c| c.allow_private_destinations = false).await;
    for (url, events) in [
        ("http://hooks.example.com/in", json!(["*"])),
        ("https://127.0.0.1/in", json!(["*"])),
        ("https://[::1]:8443/in", json!(["*"])),
        ("https://10.0.0.7/in", json!(["*"])),
        ("https://169.254.169.254/latest/meta-data/", json!(["*"])),
        ("https://[::ffff:127.0.0.1]/in", json!(["*"])),
        ("https://2130706433/in", json!(["*"])),
        ("https://localhost/in", json!(["*"])),
        ("https://user:pw@hooks.example.com/in", json!(["*"])),
        ("not a url", json!(["*"])),
        ("https://hooks.example.com/in", json!(["sign.in"])),
        ("https://hooks.example.com/in", json!([])),
        ("https://hooks.example.com/in", json!(["*", "signin"])),
    ] {
        let (status, body) = send(
            s.admin(s.post("/v1/admin/webhooks"))
                .json(&json!({ "url": url, "events": events })),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "invalid_webhook"),
            "{url} {events}: {body}"
        );
        assert!(body["error"]["problems"].is_array(), "{body}");
    }
    let (status, body) = send(s.admin(s.get("/v1/admin/webhooks"))).await;
    assert_eq!(
        (status, body["webhooks"].as_array().unwrap().len()),
        (200, 0),
        "nothing stored"
    );
    // A public https endpoint is fine, and a change is held to the same rule.
    let (status, hook) = send(
        s.admin(s.post("/v1/admin/webhooks"))
            .json(&json!({ "url": "https://hooks.example.com/in" })),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["events"], json!(["*"]));
    assert_eq!(hook["enabled"], true);
    let id = hook["id"].as_str().unwrap();
    let (status, body) = send(
        s.admin(s.patch(&format!("/v1/admin/webhooks/{id}")))
            .json(&json!({ "url": "https://192.168.0.10/in" })),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "invalid_webhook"));
    let (_, view) = send(s.admin(s.get(&format!("/v1/admin/webhooks/{id}")))).await;
    assert_eq!(view["url"], "https://hooks.example.com/in");
    // Unknown fields and other tenants' ids are refused like everywhere else.
    let (status, _) = send(
        s.admin(s.post("/v1/admin/webhooks"))
            .json(&json!({ "url": "https://hooks.example.com/in", "secret": "whsec_mine" })),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = send(s.admin(s.get("/v1/admin/webhooks/whk_01ARZ3NDEKTSV4RRFFQ69G5FAV"))).await;
    assert_eq!((status, error_code(&body)), (404, "webhook_not_found"));
    let (status, _) = send(s.get("/v1/admin/webhooks")).await;
    assert_eq!(status, 401);
    s.stop().await;
}

async fn stored_endpoints_are_checked_again_at_send_time(b: Backend) {
    // Registered while the operator allowed private destinations; then they turned that off.
    let Some(hookd) = receiver() else { return };
    let s = spawn(b).await;
    let hook = register(&s, &hookd, json!(["tenant.settings_changed"])).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let (b, dir, schema, clock) = s.stop().await;
    let s = spawn_with(b, dir, schema, clock, |c| c.allow_private_destinations = false).await;
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "totp_window": 0 })),
    )
    .await;
    let mut log = Vec::new();
    for _ in 0..200 {
        log = deliveries(&s, &hook_id).await;
        if log.first().is_some_and(|d| d["status"] == "failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log[0]["status"], "failed", "refused for good: {log:?}");
    assert_eq!(log[0]["last_error"], "webhook endpoint: destination not allowed");
    assert!(log[0]["last_status_code"].is_null());
    assert!(hookd.received().is_empty(), "no connection was made");
    s.stop().await;
}

async fn the_secret_is_shown_once_and_rotates(b: Backend) {
    let Some(hookd) = receiver() else { return };
    let s = spawn(b).await;
    let hook = register(&s, &hookd, json!(["tenant.settings_changed"])).await;
    let id = hook["id"].as_str().unwrap();
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let key = latchkey_core::webhook::secret_key(&secret).unwrap();
    assert!(key.len() >= 24);
    for (status, body) in [
        send(s.admin(s.get(&format!("/v1/admin/webhooks/{id}")))).await,
        send(s.admin(s.get("/v1/admin/webhooks"))).await,
        send(
            s.admin(s.patch(&format!("/v1/admin/webhooks/{id}")))
                .json(&json!({ "description": "" })),
        )
        .await,
        send(s.admin(s.get(&format!("/v1/admin/webhooks/{id}/deliveries")))).await,
        send(s.admin(s.get("/v1/admin/audit-events"))).await,
    ] {
        assert_eq!(status, 200, "{body}");
        let text = body.to_string();
        assert!(
            !text.contains(&secret) && !text.contains("whsec_"),
            "secret echoed: {text}"
        );
    }
    assert!(!logs().contains(&secret), "secret logged");
    // Sealed at rest: the database does not hold it.
    let stored = s
        .app
        .store
        .get_webhook(
            &s.app.default_tenant,
            &latchkey_core::ids::WebhookId::parse(id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.secret_sealed.contains(&secret[6..]));

    // A rotation: a new secret, shown once; messages are signed with it from then on.
    let (status, rotated) = send(s.admin(s.post(&format!("/v1/admin/webhooks/{id}/rotate-secret")))).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap();
    assert!(new.starts_with("whsec_") && new != secret);
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "totp_window": 0 })),
    )
    .await;
    let got = received(&hookd, 1).await;
    assert_eq!(
        got[0]["verified"], false,
        "signed with the new secret, not the old: {:?}",
        got[0]
    );
    hookd.set_secret(new);
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "totp_window": 1 })),
    )
    .await;
    let got = received(&hookd, 2).await;
    assert_eq!(got[1]["verified"], true, "{:?}", got[1]);
    // Disabled: nothing more is queued; removed: its log goes with it.
    let (status, _) = send(
        s.admin(s.patch(&format!("/v1/admin/webhooks/{id}")))
            .json(&json!({ "enabled": false })),
    )
    .await;
    assert_eq!(status, 200);
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "totp_window": 0 })),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(hookd.received().len(), 2);
    let (status, _) = send(s.admin(s.http.delete(format!("{}/v1/admin/webhooks/{id}", s.url)))).await;
    assert_eq!(status, 204);
    let (status, body) = send(s.admin(s.get(&format!("/v1/admin/webhooks/{id}/deliveries")))).await;
    assert_eq!((status, error_code(&body)), (404, "webhook_not_found"));
    s.stop().await;
}

async fn concurrent_changes_keep_one_consistent_endpoint(b: Backend) {
    let s = spawn(b).await;
    let (status, hook) = send(
        s.admin(s.post("/v1/admin/webhooks"))
            .json(&json!({ "url": "https://hooks.example.com/in", "events": ["signin", "mfa.verify"] })),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let id = hook["id"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let req = s
                .admin(s.patch(&format!("/v1/admin/webhooks/{id}")))
                .json(&match i % 3 {
                    0 => json!({}),
                    1 => json!({ "events": ["signin", "factor.delete"] }),
                    _ => json!({ "description": format!("n{i}") }),
                });
            tokio::spawn(async move { send(req).await })
        })
        .collect();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let (status, view) = send(s.admin(s.get(&format!("/v1/admin/webhooks/{id}")))).await;
    assert_eq!(status, 200);
    assert_eq!(view["events"], json!(["factor.delete", "signin"]), "{view}");
    s.stop().await;
}
