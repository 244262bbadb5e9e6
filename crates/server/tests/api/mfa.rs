//! The MFA core: TOTP and backup codes, the sign-in challenge, enforcement, forced
//! enrollment, step-up, throttling, races and the audit log.

use crate::both_stores;
use crate::helpers::*;
use latchkey_core::clock::Clock;
use latchkey_core::totp;
use serde_json::{json, Value};

both_stores!(
    totp_journey_end_to_end,
    codes_are_single_use_across_challenges,
    window_is_one_step_or_none,
    failures_are_throttled_per_factor,
    parallel_verifies_with_one_code_succeed_once,
    a_burst_of_wrong_codes_cannot_exceed_the_cap,
    backup_codes_work_once_and_regenerate,
    parallel_backup_code_use_succeeds_once,
    factor_changes_need_a_recent_second_factor,
    users_cannot_touch_other_users_factors,
    tenant_requirement_forces_enrollment,
    global_mfa_required_forces_enrollment,
    allowed_factors_are_enforced,
    admin_lists_and_resets_mfa,
    challenges_are_bound_and_expire,
    secrets_are_shown_once_and_sealed_at_rest,
    code_field_is_strict,
    a_real_authenticator_works,
);

/// A TOTP code for the server's current time, `offset` steps away.
pub fn code(s: &TestServer, secret_b32: &str, offset: i64) -> String {
    let secret = totp::base32_decode(secret_b32).unwrap();
    totp::code_at_step(
        totp::Algorithm::Sha1,
        &secret,
        totp::step_at(s.clock.now_ms()) + offset,
    )
}

fn tick(s: &TestServer) {
    s.clock.advance_secs(30);
}

async fn as_user(s: &TestServer, token: &str, req: reqwest::RequestBuilder) -> (u16, Value) {
    let _ = s;
    send(req.bearer_auth(token)).await
}

/// Signs up `email` and enrolls and confirms a TOTP factor with the user's own token.
/// Returns (user id, access token, factor id, secret, backup codes).
pub(crate) async fn user_with_totp(
    s: &TestServer,
    email: &str,
) -> (String, String, String, String, Vec<String>) {
    let body = s.signup(email).await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = as_user(
        s,
        &token,
        s.post("/v1/users/me/mfa/factors")
            .json(&json!({ "type": "totp", "name": "My phone" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let secret = e["secret"].as_str().unwrap().to_owned();
    let (status, c) = as_user(
        s,
        &token,
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .json(&json!({ "code": code(s, &secret, 0) })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    let backup: Vec<String> = c["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    tick(s);
    (uid, token, fid, secret, backup)
}

/// Signs in and expects `mfa_required`; returns the error body.
pub(crate) async fn mfa_signin(s: &TestServer, email: &str) -> Value {
    let (status, body) = s.signin(email, PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    body
}

pub(crate) async fn verify(s: &TestServer, challenge: &Value, factor: &str, code: &str) -> (u16, Value) {
    s.post_json(
        "/v1/mfa/verify",
        json!({ "challenge_id": challenge["error"]["challenge_id"], "factor_id": factor, "code": code }),
    )
    .await
}

pub(crate) fn backup_factor(challenge: &Value) -> String {
    challenge["error"]["available_factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "backup_codes")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn audit(s: &TestServer) -> Vec<Value> {
    let (status, body) = send(
        s.admin(s.get("/v1/admin/audit-events"))
            .query(&[("limit", "200")]),
    )
    .await;
    assert_eq!(status, 200);
    body["events"].as_array().unwrap().clone()
}

async fn totp_journey_end_to_end(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("alice@example.com").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = as_user(
        &s,
        &token,
        s.post("/v1/users/me/mfa/factors")
            .json(&json!({ "type": "totp", "name": "My phone" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["type"], "totp");
    assert_eq!(e["status"], "pending");
    assert!(e["factor_id"].as_str().unwrap().starts_with("fac_01"));
    let secret = e["secret"].as_str().unwrap().to_owned();
    assert_eq!(totp::base32_decode(&secret).unwrap().len(), 20, "160-bit seed");
    let uri = e["otpauth_uri"].as_str().unwrap();
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/Latchkey:alice%40example.com?secret={secret}&issuer=Latchkey&algorithm=SHA1&digits=6&period=30"
        )
    );
    assert!(e["qr_code_svg"].as_str().unwrap().contains("<svg"));
    let fid = e["factor_id"].as_str().unwrap().to_owned();

    // A pending factor changes nothing at sign-in.
    assert_eq!(s.signin("alice@example.com", PASSWORD).await.0, 200);

    let confirm = format!("/v1/users/me/mfa/factors/{fid}/confirm");
    let (status, err) = as_user(
        &s,
        &token,
        s.post(&confirm).json(&json!({ "code": code(&s, &secret, 5) })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (401, "invalid_code"));
    let (status, c) = as_user(
        &s,
        &token,
        s.post(&confirm).json(&json!({ "code": code(&s, &secret, 0) })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["status"], "active");
    let codes = c["backup_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.as_str().unwrap().len() == 15));

    let (status, list) = as_user(&s, &token, s.get("/v1/users/me/mfa/factors")).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = list["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["totp", "backup_codes"]);
    assert_eq!(list["factors"][0]["name"], "My phone");
    assert!(list["factors"][0]["last_used_at"].is_string());

    // Sign-in now stops at the second factor: no tokens, no profile.
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert!(ch.get("access_token").is_none() && ch.get("user").is_none());
    let err = &ch["error"];
    assert!(err["challenge_id"].as_str().unwrap().starts_with("chl_"));
    assert!(err["expires_at"].is_string());
    let available = err["available_factors"].as_array().unwrap();
    assert_eq!(
        available[0],
        json!({ "id": fid, "type": "totp", "name": "My phone" })
    );
    assert_eq!(available[1]["type"], "backup_codes");

    let (status, sel) = s
        .post_json(
            "/v1/mfa/challenge",
            json!({ "challenge_id": err["challenge_id"], "factor_id": fid }),
        )
        .await;
    assert_eq!(status, 200, "{sel}");
    assert_eq!(sel["type"], "totp");
    assert_eq!(sel["factor_id"], fid.as_str());

    // The code that confirmed the factor was spent; the next step's code works.
    let (status, _) = verify(&s, &ch, &fid, &code(&s, &secret, 0)).await;
    assert_eq!(status, 401);
    tick(&s);
    let (status, tokens) = verify(&s, &ch, &fid, &code(&s, &secret, 0)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "aal2");
    assert!(claims["mfa_time"].is_i64());
    assert_eq!(
        send(
            s.get("/v1/users/me")
                .bearer_auth(tokens["access_token"].as_str().unwrap())
        )
        .await
        .0,
        200
    );
    // Refresh keeps what the session proved.
    let (_, refreshed) = s
        .post_json(
            "/v1/auth/refresh",
            json!({ "refresh_token": tokens["refresh_token"] }),
        )
        .await;
    assert_eq!(
        crate::helpers::claims(refreshed["access_token"].as_str().unwrap())["acr"],
        "aal2"
    );

    // Replaying the completed verify gives nothing.
    tick(&s);
    let (status, err) = verify(&s, &ch, &fid, &code(&s, &secret, 0)).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_challenge"));

    let actions: Vec<String> = audit(&s)
        .await
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    for want in [
        "factor.enroll:pending",
        "factor.confirm:failure",
        "factor.confirm:success",
        "mfa.verify:failure",
        "mfa.verify:success",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} not audited: {actions:?}"
        );
    }
    s.stop().await;
}

async fn codes_are_single_use_across_challenges(b: Backend) {
    let s = spawn(b).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    let ch1 = mfa_signin(&s, "alice@example.com").await;
    let ch2 = mfa_signin(&s, "alice@example.com").await;
    let c = code(&s, &secret, 0);
    assert_eq!(verify(&s, &ch1, &fid, &c).await.0, 200);
    let (status, err) = verify(&s, &ch2, &fid, &c).await;
    assert_eq!(
        (status, error_code(&err)),
        (401, "invalid_code"),
        "same code, second challenge"
    );
    let (status, _) = verify(&s, &ch2, &fid, &code(&s, &secret, -1)).await;
    assert_eq!(status, 401, "an older step after a newer one");
    // A code keeps working after restarts only if unused: the last step is stored.
    let (b, dir, schema, clock) = s.stop().await;
    let s = spawn_with(b, dir, schema, clock, |_| {}).await;
    let ch3 = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(verify(&s, &ch3, &fid, &c).await.0, 401, "replay after restart");
    assert_eq!(verify(&s, &ch3, &fid, &code(&s, &secret, 1)).await.0, 200);
    s.stop().await;
}

async fn window_is_one_step_or_none(b: Backend) {
    let s = spawn(b).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    for (offset, ok) in [(-2, false), (2, false), (-1, true)] {
        tick(&s);
        tick(&s);
        tick(&s);
        let ch = mfa_signin(&s, "alice@example.com").await;
        assert_eq!(
            verify(&s, &ch, &fid, &code(&s, &secret, offset)).await.0 == 200,
            ok,
            "offset {offset}"
        );
    }
    tick(&s);
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(
        verify(&s, &ch, &fid, &code(&s, &secret, 1)).await.0,
        200,
        "one step ahead"
    );

    let (status, cfg) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "totp_window": 0 })),
    )
    .await;
    assert_eq!((status, cfg["totp_window"].as_u64()), (200, Some(0)));
    for _ in 0..4 {
        tick(&s);
    }
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(
        verify(&s, &ch, &fid, &code(&s, &secret, -1)).await.0,
        401,
        "window 0 refuses the previous step"
    );
    assert_eq!(verify(&s, &ch, &fid, &code(&s, &secret, 0)).await.0, 200);
    let (status, err) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "totp_window": 2 })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_settings"));
    s.stop().await;
}

async fn failures_are_throttled_per_factor(b: Backend) {
    let s = spawn(b).await;
    let (_, _, fid, secret, backup) = user_with_totp(&s, "alice@example.com").await;
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(cfg["mfa_max_attempts"], 5);
    let ch = mfa_signin(&s, "alice@example.com").await;
    for _ in 0..3 {
        assert_eq!(verify(&s, &ch, &fid, "000000").await.0, 401);
    }
    // A new challenge does not reset the count.
    let ch = mfa_signin(&s, "alice@example.com").await;
    for _ in 0..2 {
        assert_eq!(verify(&s, &ch, &fid, "000000").await.0, 401);
    }
    // Now even the right code waits, with the same error.
    let resp = s
        .post("/v1/mfa/verify")
        .json(&json!({ "challenge_id": ch["error"]["challenge_id"], "factor_id": fid, "code": code(&s, &secret, 0) }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "30");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "too_many_attempts");
    // Other factors keep their own count: a backup code still works.
    let bid = backup_factor(&ch);
    assert_eq!(verify(&s, &ch, &bid, &backup[0]).await.0, 200);
    // After the wait the right TOTP code works, and success clears the count.
    s.clock.advance_secs(30);
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(verify(&s, &ch, &fid, &code(&s, &secret, 0)).await.0, 200);
    tick(&s);
    let ch = mfa_signin(&s, "alice@example.com").await;
    for _ in 0..4 {
        assert_eq!(verify(&s, &ch, &fid, "000000").await.0, 401);
    }
    assert_eq!(verify(&s, &ch, &fid, &code(&s, &secret, 0)).await.0, 200);
    assert!(audit(&s)
        .await
        .iter()
        .any(|e| e["action"] == "mfa.attempt" && e["outcome"] == "locked"));
    // The cap is configurable up to 100, never beyond.
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_max_attempts": 100 })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_max_attempts": 101 })),
    )
    .await;
    assert_eq!(status, 400);
    s.stop().await;
}

async fn parallel_verifies_with_one_code_succeed_once(b: Backend) {
    let s = spawn(b).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    // The cap must not interfere with this race: allow plenty of attempts.
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_max_attempts": 100 })),
    )
    .await;
    let mut challenges = Vec::new();
    for _ in 0..50 {
        challenges.push(mfa_signin(&s, "alice@example.com").await);
    }
    let c = code(&s, &secret, 0);
    let tasks: Vec<_> = challenges
        .iter()
        .map(|ch| {
            let req = s.post("/v1/mfa/verify").json(&json!({
                "challenge_id": ch["error"]["challenge_id"], "factor_id": fid, "code": c
            }));
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "no 500s: {statuses:?}"
    );
    s.stop().await;
}

async fn a_burst_of_wrong_codes_cannot_exceed_the_cap(b: Backend) {
    let s = spawn(b).await;
    let (_, _, fid, _, _) = user_with_totp(&s, "alice@example.com").await;
    let ch = mfa_signin(&s, "alice@example.com").await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let req = s.post("/v1/mfa/verify").json(&json!({
                "challenge_id": ch["error"]["challenge_id"], "factor_id": fid, "code": format!("{:06}", i)
            }));
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let evaluated = statuses.iter().filter(|s| **s != 429).count();
    assert!(evaluated <= 5, "{evaluated} attempts were evaluated");
    let failures = audit(&s)
        .await
        .iter()
        .filter(|e| e["action"] == "mfa.verify" && e["outcome"] == "failure")
        .count();
    assert!(failures <= 5);
    s.stop().await;
}

async fn backup_codes_work_once_and_regenerate(b: Backend) {
    let s = spawn(b).await;
    let (_, _, _, secret, backup) = user_with_totp(&s, "alice@example.com").await;
    let ch = mfa_signin(&s, "alice@example.com").await;
    let bid = backup_factor(&ch);
    // Grouping and case are ignored.
    let typed = backup[2].replace('-', " ").to_lowercase();
    let (status, tokens) = verify(&s, &ch, &bid, &typed).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "backup_code", "mfa"])
    );
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(verify(&s, &ch, &bid, &backup[2]).await.0, 401, "used once");
    assert!(audit(&s).await.iter().any(|e| e["action"] == "backup_code.use"));

    // Regenerating replaces every code; this needs a fresh second factor.
    let (status, v) = verify(&s, &ch, &bid, &backup[3]).await;
    assert_eq!(status, 200);
    let token = v["access_token"].as_str().unwrap().to_owned();
    let (status, list) = as_user(&s, &token, s.get("/v1/users/me/mfa/factors")).await;
    assert_eq!(status, 200);
    assert_eq!(list["factors"][1]["remaining_codes"], 8);
    let (status, fresh) = as_user(&s, &token, s.post("/v1/users/me/mfa/backup-codes")).await;
    assert_eq!(status, 201, "{fresh}");
    let new_codes = fresh["backup_codes"].as_array().unwrap();
    assert_eq!(new_codes.len(), 10);
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(
        verify(&s, &ch, &bid, &backup[4]).await.0,
        401,
        "old codes are gone"
    );
    assert_eq!(verify(&s, &ch, &bid, new_codes[0].as_str().unwrap()).await.0, 200);
    let _ = secret;
    s.stop().await;
}

async fn parallel_backup_code_use_succeeds_once(b: Backend) {
    let s = spawn(b).await;
    let (_, _, _, _, backup) = user_with_totp(&s, "alice@example.com").await;
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_max_attempts": 100 })),
    )
    .await;
    let mut challenges = Vec::new();
    for _ in 0..30 {
        challenges.push(mfa_signin(&s, "alice@example.com").await);
    }
    let bid = backup_factor(&challenges[0]);
    let tasks: Vec<_> = challenges
        .iter()
        .map(|ch| {
            let req = s.post("/v1/mfa/verify").json(&json!({
                "challenge_id": ch["error"]["challenge_id"], "factor_id": bid, "code": backup[0]
            }));
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one session from one backup code");
    s.stop().await;
}

async fn factor_changes_need_a_recent_second_factor(b: Backend) {
    let s = spawn(b).await;
    // The sign-up token (password only) enrolled the first factor; once that factor is
    // active, the same token can no longer change factors.
    let (uid, pwd_token, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    for req in [
        s.post("/v1/users/me/mfa/factors")
            .json(&json!({ "type": "totp" })),
        s.http.delete(format!("{}/v1/users/me/mfa/factors/{fid}", s.url)),
        s.post("/v1/users/me/mfa/backup-codes"),
    ] {
        let (status, err) = as_user(&s, &pwd_token, req).await;
        assert_eq!((status, error_code(&err)), (403, "mfa_verification_required"));
    }
    // Listing needs no step-up.
    assert_eq!(
        as_user(&s, &pwd_token, s.get("/v1/users/me/mfa/factors")).await.0,
        200
    );

    // A session that just passed TOTP may add a second TOTP factor.
    let ch = mfa_signin(&s, "alice@example.com").await;
    let (_, v) = verify(&s, &ch, &fid, &code(&s, &secret, 0)).await;
    let fresh = v["access_token"].as_str().unwrap().to_owned();
    let (status, e) = as_user(
        &s,
        &fresh,
        s.post("/v1/users/me/mfa/factors")
            .json(&json!({ "type": "totp", "name": "Tablet" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let second = e["factor_id"].as_str().unwrap().to_owned();
    let (status, c) = as_user(
        &s,
        &fresh,
        s.post(&format!("/v1/users/me/mfa/factors/{second}/confirm"))
            .json(&json!({ "code": code(&s, e["secret"].as_str().unwrap(), 0) })),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        c.get("backup_codes").is_none(),
        "backup codes come with the first factor only"
    );

    // Sixteen minutes later (a refreshed token keeps the old verification time) it may not.
    s.clock.advance_secs(16 * 60);
    let (_, r) = s
        .post_json("/v1/auth/refresh", json!({ "refresh_token": v["refresh_token"] }))
        .await;
    let stale = r["access_token"].as_str().unwrap().to_owned();
    let (status, err) = as_user(
        &s,
        &stale,
        s.http
            .delete(format!("{}/v1/users/me/mfa/factors/{second}", s.url)),
    )
    .await;
    assert_eq!((status, error_code(&err)), (403, "mfa_verification_required"));
    // An everyday secret key may neither remove a user's factor nor take new backup codes
    // for them (both need `mfa:admin`).
    let (status, err) = send(
        s.admin(
            s.http
                .delete(format!("{}/v1/users/{uid}/mfa/factors/{second}", s.url)),
        ),
    )
    .await;
    assert_eq!((status, error_code(&err)), (403, "insufficient_scope"), "{err}");
    let (status, err) = send(s.admin(s.post(&format!("/v1/users/{uid}/mfa/backup-codes")))).await;
    assert_eq!((status, error_code(&err)), (403, "insufficient_scope"), "{err}");
    let (status, codes) = send(s.mfa_admin(s.post(&format!("/v1/users/{uid}/mfa/backup-codes")))).await;
    assert_eq!(status, 201, "{codes}");
    // A key with it is not limited by the step-up.
    let (status, _) = send(
        s.mfa_admin(
            s.http
                .delete(format!("{}/v1/users/{uid}/mfa/factors/{second}", s.url)),
        ),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        s.mfa_admin(
            s.http
                .delete(format!("{}/v1/users/{uid}/mfa/factors/{second}", s.url)),
        ),
    )
    .await;
    assert_eq!(status, 404);
    s.stop().await;
}

async fn users_cannot_touch_other_users_factors(b: Backend) {
    let s = spawn(b).await;
    let (bob_id, _, bob_factor, _, _) = user_with_totp(&s, "bob@example.com").await;
    let alice = s.signup("alice@example.com").await;
    let token = alice["access_token"].as_str().unwrap();
    for req in [
        s.get(&format!("/v1/users/{bob_id}/mfa/factors")),
        s.post(&format!("/v1/users/{bob_id}/mfa/factors"))
            .json(&json!({ "type": "totp" })),
        s.http
            .delete(format!("{}/v1/users/{bob_id}/mfa/factors/{bob_factor}", s.url)),
        s.post(&format!("/v1/users/{bob_id}/mfa/backup-codes")),
    ] {
        let (status, err) = as_user(&s, token, req).await;
        assert_eq!((status, error_code(&err)), (403, "forbidden"));
    }
    // Bob's factor id under Alice's own path is simply not found.
    let (status, _) = as_user(
        &s,
        token,
        s.http
            .delete(format!("{}/v1/users/me/mfa/factors/{bob_factor}", s.url)),
    )
    .await;
    assert_eq!(status, 404);
    // Another tenant's key cannot see Bob.
    let (_, other_key) = s.app.create_tenant("other").await.unwrap();
    let (status, _) = send(
        s.get(&format!("/v1/users/{bob_id}/mfa/factors"))
            .bearer_auth(other_key.expose()),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(
        s.get(&format!("/v2/admin/users/{bob_id}/mfa"))
            .bearer_auth(other_key.expose()),
    )
    .await;
    assert_eq!(status, 404);
    s.stop().await;
}

async fn forced_enrollment(s: &TestServer, email: &str) {
    let (status, body) = s.signin(email, PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");
    assert!(body.get("access_token").is_none());
    let err = &body["error"];
    assert_eq!(err["allowed_factors"], json!(["totp"]));
    let (status, e) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": err["challenge_id"], "type": "totp" }),
        )
        .await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["status"], "pending");
    let fid = e["factor_id"].as_str().unwrap();
    let secret = e["secret"].as_str().unwrap();
    let (status, _) = verify(s, &body, fid, "000000").await;
    assert_eq!(status, 401);
    let (status, v) = verify(s, &body, fid, &code(s, secret, 0)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["backup_codes"].as_array().unwrap().len(), 10);
    assert_eq!(
        claims(v["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    // From now on, sign-in asks for the factor.
    tick(s);
    let ch = mfa_signin(s, email).await;
    assert_eq!(verify(s, &ch, fid, &code(s, secret, 0)).await.0, 200);
}

async fn tenant_requirement_forces_enrollment(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    s.signup("bob@example.com").await;
    let (status, cfg) = send(s.admin(s.patch("/v1/admin/config")).json(
        &json!({ "mfa_required": true, "mfa_allowed_factors": ["totp", "backup_codes"], "totp_window": 1 }),
    ))
    .await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["mfa_required"], true);
    forced_enrollment(&s, "alice@example.com").await;

    // The /v2 shape acts on the same setting.
    let tid = s.app.default_tenant.to_string();
    let path = format!("/v2/admin/tenants/{tid}/auth/config");
    let (status, v2) = send(s.admin(s.get(&path))).await;
    assert_eq!(
        (status, v2),
        (
            200,
            json!({ "mfa_required": true, "mfa_methods": ["totp", "backup_codes"] })
        )
    );
    // Switching MFA off for the tenant needs a key with `mfa:admin`.
    let (status, err) = send(s.admin(s.patch(&path)).json(&json!({ "mfa_required": false }))).await;
    assert_eq!((status, error_code(&err)), (403, "insufficient_scope"), "{err}");
    assert_eq!(err["error"]["scope"], "mfa:admin");
    let (status, v2) = send(
        s.mfa_admin(s.patch(&path))
            .json(&json!({ "mfa_required": false })),
    )
    .await;
    assert_eq!((status, v2["mfa_required"].clone()), (200, json!(false)));
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(cfg["mfa_required"], false);
    assert_eq!(
        s.signin("bob@example.com", PASSWORD).await.0,
        200,
        "optional again"
    );
    let (status, err) = send(
        s.admin(s.patch(&path))
            .json(&json!({ "mfa_methods": ["totp", "carrier_pigeon"] })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_settings"));
    let (status, err) = send(
        s.admin(s.patch("/v2/admin/tenants/tnt_01HZZZZZZZZZZZZZZZZZZZZZZZ/auth/config"))
            .json(&json!({ "mfa_required": true })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (403, "tenant_mismatch"));
    s.stop().await;
}

async fn global_mfa_required_forces_enrollment(b: Backend) {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let schema = match b {
        Backend::Postgres => Some(format!(
            "lk_test_{}",
            latchkey_core::ids::ulid(1, &latchkey_core::rand::OsRandom).to_lowercase()
        )),
        Backend::Sqlite => None,
    };
    let clock = latchkey_core::clock::ManualClock::new(latchkey_core::clock::SystemClock.now_ms());
    let s = spawn_with(b, dir, schema, clock, |c| c.mfa_required = true).await;
    // Sign-up itself answers with the enrollment challenge (no session).
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");
    forced_enrollment(&s, "alice@example.com").await;
    s.stop().await;
}

async fn allowed_factors_are_enforced(b: Backend) {
    let s = spawn(b).await;
    let (uid, _, fid, secret, backup) = user_with_totp(&s, "alice@example.com").await;
    let body = s.signup("bob@example.com").await;
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_allowed_factors": ["backup_codes"] })),
    )
    .await;
    let (status, err) = as_user(
        &s,
        body["access_token"].as_str().unwrap(),
        s.post("/v1/users/me/mfa/factors")
            .json(&json!({ "type": "totp" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "factor_not_allowed"));
    let (status, err) = send(
        s.admin(s.post(&format!("/v1/users/{uid}/mfa/factors")))
            .json(&json!({ "type": "sms_via_fax" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "unknown_factor_type"));
    let (status, err) = send(
        s.admin(s.post(&format!("/v1/users/{uid}/mfa/factors")))
            .json(&json!({ "type": "backup_codes" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "factor_not_allowed"));
    // With TOTP disallowed, Alice is still challenged with the factor she has (never a
    // silent downgrade to the password); with nothing enrollable allowed, proving it
    // completes the sign-in.
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(verify(&s, &ch, &fid, &code(&s, &secret, 0)).await.0, 200);
    tick(&s);
    // Allowed again: it is offered and works.
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_allowed_factors": ["totp"] })),
    )
    .await;
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(
        ch["error"]["available_factors"].as_array().unwrap().len(),
        1,
        "backup codes not allowed"
    );
    let (status, _) = verify(&s, &ch, &backup_factor_or_empty(&ch), &backup[0]).await;
    assert_eq!(status, 401);
    assert_eq!(verify(&s, &ch, &fid, &code(&s, &secret, 0)).await.0, 200);
    // Requiring MFA with nothing enrollable is refused.
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": true, "mfa_allowed_factors": ["backup_codes"] })),
    )
    .await;
    assert_eq!(status, 400);
    s.stop().await;
}

fn backup_factor_or_empty(ch: &Value) -> String {
    ch["error"]["available_factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "backup_codes")
        .and_then(|f| f["id"].as_str())
        .unwrap_or("fac_01HZZZZZZZZZZZZZZZZZZZZZZZ")
        .to_owned()
}

async fn admin_lists_and_resets_mfa(b: Backend) {
    let s = spawn(b).await;
    let (uid, _, fid, _, _) = user_with_totp(&s, "alice@example.com").await;
    let (status, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    assert_eq!(status, 200);
    assert_eq!(view["user_id"], uid.as_str());
    assert_eq!(view["factors"][0]["factor_id"], fid.as_str());
    assert_eq!(view["factors"][1]["remaining_codes"], 10);
    // An everyday key may not reset MFA: 403 naming the scope, audited as refused, nothing
    // removed.
    let (status, err) = send(s.admin(s.http.delete(format!("{}/v2/admin/users/{uid}/mfa", s.url)))).await;
    assert_eq!((status, error_code(&err)), (403, "insufficient_scope"), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("mfa:admin"));
    let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    assert_eq!(view["factors"].as_array().unwrap().len(), 2);
    let events = audit(&s).await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "mfa.reset" && e["outcome"] == "refused" && e["user_id"] == uid.as_str()),
        "{events:?}"
    );
    let (status, _) = send(s.mfa_admin(s.http.delete(format!("{}/v2/admin/users/{uid}/mfa", s.url)))).await;
    assert_eq!(status, 204);
    let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    assert_eq!(view["factors"], json!([]));
    assert_eq!(
        s.signin("alice@example.com", PASSWORD).await.0,
        200,
        "MFA is optional here"
    );
    let events = audit(&s).await;
    let reset = events
        .iter()
        .find(|e| e["action"] == "mfa.reset" && e["outcome"] == "success")
        .unwrap();
    assert_eq!(reset["user_id"], uid.as_str());
    assert!(reset["actor"].as_str().unwrap().starts_with("key:key_"));
    assert_eq!(reset["ip"], "127.0.0.1");
    // Audit pagination and filtering.
    let (_, page) = send(s.admin(s.get("/v1/admin/audit-events")).query(&[("limit", "2")])).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    let before = page["next_before"].as_str().unwrap();
    let (_, next) = send(
        s.admin(s.get("/v1/admin/audit-events"))
            .query(&[("limit", "2"), ("before", before)]),
    )
    .await;
    assert_ne!(next["events"][0]["id"], page["events"][0]["id"]);
    let (status, _) = send(
        s.admin(s.get("/v1/admin/audit-events"))
            .query(&[("user_id", "nope")]),
    )
    .await;
    assert_eq!(status, 400);
    // The list needs a secret key.
    assert_eq!(send(s.get("/v1/admin/audit-events")).await.0, 401);
    // Resetting an unknown user is a 404.
    let (status, _) = send(s.mfa_admin(s.http.delete(format!(
        "{}/v2/admin/users/usr_01HZZZZZZZZZZZZZZZZZZZZZZZ/mfa",
        s.url
    ))))
    .await;
    assert_eq!(status, 404);
    s.stop().await;
}

async fn challenges_are_bound_and_expire(b: Backend) {
    let s = spawn(b).await;
    let (_, _, alice_factor, alice_secret, _) = user_with_totp(&s, "alice@example.com").await;
    let (_, _, bob_factor, _, _) = user_with_totp(&s, "bob@example.com").await;
    let alice_ch = mfa_signin(&s, "alice@example.com").await;
    let bob_ch = mfa_signin(&s, "bob@example.com").await;
    // Alice's valid code and factor on Bob's challenge.
    let (status, err) = verify(&s, &bob_ch, &alice_factor, &code(&s, &alice_secret, 0)).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_code"));
    let (status, _) = s
        .post_json(
            "/v1/mfa/challenge",
            json!({ "challenge_id": bob_ch["error"]["challenge_id"], "factor_id": alice_factor }),
        )
        .await;
    assert_eq!(status, 404);
    // Alice's challenge in another tenant.
    let (other, _) = s.app.create_tenant("other").await.unwrap();
    let (status, err) = send(s.post("/v1/mfa/verify").header("x-tenant-id", other.id.to_string()).json(&json!({
        "challenge_id": alice_ch["error"]["challenge_id"], "factor_id": alice_factor, "code": code(&s, &alice_secret, 0)
    })))
    .await;
    assert_eq!((status, error_code(&err)), (401, "invalid_challenge"));
    // Garbage ids.
    let (status, err) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": "chl_nope", "factor_id": bob_factor, "code": "123456" }),
        )
        .await;
    assert_eq!((status, error_code(&err)), (401, "invalid_challenge"));
    // Expiry (5 minutes by default): the right code no longer helps.
    s.clock.advance_secs(301);
    let (status, err) = verify(&s, &alice_ch, &alice_factor, &code(&s, &alice_secret, 0)).await;
    assert_eq!((status, error_code(&err)), (401, "challenge_expired"));
    let (status, _) = s
        .post_json(
            "/v1/mfa/challenge",
            json!({ "challenge_id": alice_ch["error"]["challenge_id"], "factor_id": alice_factor }),
        )
        .await;
    assert_eq!(status, 401);
    // The password-step response is no key: it opens nothing else.
    let fake = alice_ch["error"]["challenge_id"].as_str().unwrap();
    assert_eq!(send(s.get("/v1/users/me").bearer_auth(fake)).await.0, 401);
    assert_eq!(send(s.get("/v1/admin/config").bearer_auth(fake)).await.0, 401);
    s.stop().await;
}

async fn secrets_are_shown_once_and_sealed_at_rest(b: Backend) {
    let s = spawn(b).await;
    let (uid, token, fid, secret, backup) = user_with_totp(&s, "alice@example.com").await;
    let mut pages = Vec::new();
    pages.push(as_user(&s, &token, s.get("/v1/users/me/mfa/factors")).await.1);
    pages.push(as_user(&s, &token, s.get("/v1/users/me")).await.1);
    pages.push(
        send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa"))))
            .await
            .1,
    );
    pages.push(send(s.admin(s.get(&format!("/v1/admin/users/{uid}")))).await.1);
    pages.push(send(s.admin(s.get("/v1/admin/audit-events"))).await.1);
    for page in pages {
        let text = page.to_string();
        assert!(
            !text.contains(&secret) && !text.contains("otpauth") && !text.contains(&backup[0]),
            "{text}"
        );
    }
    // The stored seed is ciphertext bound to its row.
    let sealed = s
        .app
        .store
        .list_sealed(latchkey_store::model::SealedColumn::FactorSecret)
        .await
        .unwrap();
    let (_, value) = sealed.iter().find(|(id, _)| id == &fid).unwrap();
    assert!(value.starts_with("lk1."));
    assert!(!value.contains(&secret));
    let aad = latchkey_store::model::SealedColumn::FactorSecret.aad(&fid);
    assert_eq!(
        &**s.app.crypto.keyring.open(value, &aad).unwrap(),
        totp::base32_decode(&secret).unwrap().as_slice()
    );
    assert!(s
        .app
        .crypto
        .keyring
        .open(value, "factors.secret_sealed:fac_other")
        .is_err());
    // Seeds differ between enrollments.
    let (_, _, _, other, _) = user_with_totp(&s, "bob@example.com").await;
    assert_ne!(other, secret);
    // Logs never carry the seed or codes.
    let logs = logs();
    assert!(!logs.contains(&secret) && !logs.contains(&backup[1]));
    s.stop().await;
}

async fn code_field_is_strict(b: Backend) {
    let s = spawn(b).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_max_attempts": 100 })),
    )
    .await;
    let ch = mfa_signin(&s, "alice@example.com").await;
    let good = code(&s, &secret, 0);
    let fullwidth: String = good
        .chars()
        .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap())
        .collect();
    let arabic: String = good
        .chars()
        .map(|c| char::from_u32(c as u32 - '0' as u32 + 0x0660).unwrap())
        .collect();
    for bad in [
        fullwidth,
        arabic,
        format!("{} {}", &good[..3], &good[3..]),
        format!(" {good}"),
        format!("+{}", &good[1..]),
        format!("{}\u{0}", &good[..5]),
        good[1..].to_owned(),
        format!("0{good}"),
        "%".into(),
        "_".into(),
        "' OR 1=1 --".into(),
        String::new(),
    ] {
        let (status, err) = verify(&s, &ch, &fid, &bad).await;
        assert_eq!((status, error_code(&err)), (401, "invalid_code"), "{bad:?}");
    }
    let (status, err) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["error"]["challenge_id"], "factor_id": fid, "code": 123456 }),
        )
        .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_field"));
    // Client-supplied time is ignored: an old code stays old.
    let old = code(&s, &secret, -5);
    let (status, _) = send(
        s.post("/v1/mfa/verify")
            .header("x-client-time", "0")
            .header("date", "Thu, 01 Jan 1970 00:00:00 GMT")
            .json(&json!({ "challenge_id": ch["error"]["challenge_id"], "factor_id": fid, "code": old })),
    )
    .await;
    assert_eq!(status, 401);
    let (status, err) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["error"]["challenge_id"], "factor_id": fid, "code": old, "time": 0 }),
        )
        .await;
    assert_eq!((status, error_code(&err)), (400, "unknown_field"));
    assert_eq!(verify(&s, &ch, &fid, &good).await.0, 200);
    s.stop().await;
}

/// The journey with codes from `oathtool`, an independent RFC 6238 implementation.
async fn a_real_authenticator_works(b: Backend) {
    if std::process::Command::new("oathtool")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(std::env::var_os("CI").is_none(), "CI installs oathtool");
        eprintln!("oathtool not installed: skipped");
        return;
    }
    let s = spawn(b).await;
    let oath = |secret: &str, now_ms: i64| {
        let out = std::process::Command::new("oathtool")
            .args(["--totp", "-b", secret, "--now", &format!("@{}", now_ms / 1000)])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let body = s.signup("alice@example.com").await;
    let token = body["access_token"].as_str().unwrap();
    let (_, e) = as_user(
        &s,
        token,
        s.post("/v1/users/me/mfa/factors")
            .json(&json!({ "type": "totp" })),
    )
    .await;
    let fid = e["factor_id"].as_str().unwrap();
    let secret = e["secret"].as_str().unwrap();
    let (status, _) = as_user(
        &s,
        token,
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .json(&json!({ "code": oath(secret, s.clock.now_ms()) })),
    )
    .await;
    assert_eq!(status, 200);
    tick(&s);
    let ch = mfa_signin(&s, "alice@example.com").await;
    let (status, v) = verify(&s, &ch, fid, &oath(secret, s.clock.now_ms())).await;
    assert_eq!(status, 200);
    assert_eq!(
        claims(v["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    s.stop().await;
}
