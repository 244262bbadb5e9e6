//! Regressions for the outside review of the MFA flows (issue 9): each test here failed on
//! the code before its fix, on SQLite and PostgreSQL. The numbers are the review's items.

use crate::both_stores;
use crate::gateway::{self, Gateway};
use crate::helpers::*;
use latchkey_core::clock::Clock;
use latchkey_core::totp;
use serde_json::{json, Value};

both_stores!(
    stale_forced_enrollment_cannot_bind_a_second_factor,
    confirming_a_pending_factor_rechecks_step_up,
    pending_enrollments_of_other_sessions_are_dropped,
    signup_under_required_mfa_opens_no_session,
    narrowing_allowed_kinds_never_downgrades_a_user,
    sessions_end_with_the_facts_they_were_issued_on,
    phone_numbers_are_sealed_and_files_private,
    a_sent_code_lives_as_long_as_its_message_says,
    factor_id_is_optional_when_unambiguous,
    sms_enrollment_uses_the_account_phone_and_unknown_types_are_named,
    effective_mfa_policy_is_shown,
    an_admin_created_first_factor_brings_backup_codes,
    totp_factors_keep_the_algorithm_they_were_enrolled_with,
    idempotency_keys_replay_instead_of_repeating,
    requiring_mfa_ends_password_only_sessions_at_refresh,
    codes_on_another_challenge_count_against_the_target,
    admin_reset_needs_the_tenants_secret_key,
);

const PHONE: &str = "+14155552671";

fn code(s: &TestServer, secret_b32: &str, offset: i64) -> String {
    let secret = totp::base32_decode(secret_b32).unwrap();
    totp::code_at_step(
        totp::Algorithm::Sha1,
        &secret,
        totp::step_at(s.clock.now_ms()) + offset,
    )
}

async fn with_token(token: &str, req: reqwest::RequestBuilder) -> (u16, Value) {
    send(req.bearer_auth(token)).await
}

/// Changes settings with a key that may also weaken the tenant's MFA (`mfa:admin`).
async fn patch_config(s: &TestServer, body: Value) -> Value {
    let (status, cfg) = send(s.mfa_admin(s.patch("/v1/admin/config")).json(&body)).await;
    assert_eq!(status, 200, "{cfg}");
    cfg
}

/// A server whose SMS goes to a recording gateway, with TOTP, SMS and backup codes allowed.
async fn sms_server(b: Backend) -> (TestServer, Gateway) {
    let s = spawn(b).await;
    let gw = Gateway::start().await;
    patch_config(
        &s,
        json!({ "mfa_allowed_factors": ["totp", "sms", "email_otp", "backup_codes"] }),
    )
    .await;
    let (status, body) = send(
        s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url)))
            .json(&json!({
                "provider": "webhook", "url": format!("{}/webhook", gw.url), "secret": gateway::WEBHOOK_SECRET
            })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (s, gw)
}

/// Starts a TOTP enrollment with `token`; returns (factor id, secret).
async fn start_totp(s: &TestServer, token: &str) -> (String, String) {
    let (status, e) = with_token(
        token,
        s.post("/v1/users/me/mfa/factors")
            .json(&json!({ "type": "totp" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    (
        e["factor_id"].as_str().unwrap().to_owned(),
        e["secret"].as_str().unwrap().to_owned(),
    )
}

async fn confirm(s: &TestServer, token: &str, fid: &str, code: &str) -> (u16, Value) {
    with_token(
        token,
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .json(&json!({ "code": code })),
    )
    .await
}

/// Enrolls and confirms TOTP with `token`; returns (factor id, secret, backup codes).
async fn totp_factor(s: &TestServer, token: &str) -> (String, String, Vec<String>) {
    let (fid, secret) = start_totp(s, token).await;
    let (status, c) = confirm(s, token, &fid, &code(s, &secret, 0)).await;
    assert_eq!(status, 200, "{c}");
    s.clock.advance_secs(30);
    let backup = c["backup_codes"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    (fid, secret, backup)
}

/// Enrolls and confirms an SMS factor with `token`; returns the factor id.
async fn sms_factor(s: &TestServer, gw: &Gateway, token: &str, phone: &str) -> String {
    let before = gw.received().len();
    let (status, e) = with_token(
        token,
        s.post("/v1/users/me/mfa/factors")
            .json(&json!({ "type": "sms", "phone_number": phone })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let (status, c) = confirm(s, token, &fid, &gw.code(before + 1).await).await;
    assert_eq!(status, 200, "{c}");
    fid
}

async fn verify(s: &TestServer, challenge_id: &Value, factor: &str, code: &str) -> (u16, Value) {
    s.post_json(
        "/v1/mfa/verify",
        json!({ "challenge_id": challenge_id, "factor_id": factor, "code": code }),
    )
    .await
}

/// Signs in with the password and expects `expected` (`mfa_required`, `mfa_setup_required`).
async fn challenge(s: &TestServer, email: &str, expected: &str) -> Value {
    let (status, body) = s.signin(email, PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, expected), "{body}");
    body["error"].clone()
}

/// Signs in with password and TOTP; returns the token response.
async fn totp_signin(s: &TestServer, email: &str, fid: &str, secret: &str) -> Value {
    let ch = challenge(s, email, "mfa_required").await;
    let (status, v) = verify(s, &ch["challenge_id"], fid, &code(s, secret, 0)).await;
    assert_eq!(status, 200, "{v}");
    s.clock.advance_secs(30);
    v
}

async fn me(s: &TestServer, access: &Value) -> u16 {
    send(s.get("/v1/users/me").bearer_auth(access.as_str().unwrap()))
        .await
        .0
}

async fn refresh(s: &TestServer, refresh: &Value) -> (u16, Value) {
    s.post_json("/v1/auth/refresh", json!({ "refresh_token": refresh }))
        .await
}

/// Item 1: with MFA required, an attacker who knows only the password keeps the
/// forced-enrollment challenge; once the real user has enrolled, that challenge must not bind
/// the attacker's authenticator (neither by starting nor by finishing an enrollment).
async fn stale_forced_enrollment_cannot_bind_a_second_factor(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    patch_config(&s, json!({ "mfa_required": true })).await;
    // The attacker: one challenge to start an enrollment later, one started now.
    let late = challenge(&s, "alice@example.com", "mfa_setup_required").await;
    let early = challenge(&s, "alice@example.com", "mfa_setup_required").await;
    let (status, pending) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": early["challenge_id"], "type": "totp" }),
        )
        .await;
    assert_eq!(status, 201, "{pending}");
    // The user enrolls and signs in.
    let own = challenge(&s, "alice@example.com", "mfa_setup_required").await;
    let (_, e) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": own["challenge_id"], "type": "totp" }),
        )
        .await;
    let (status, v) = verify(
        &s,
        &own["challenge_id"],
        e["factor_id"].as_str().unwrap(),
        &code(&s, e["secret"].as_str().unwrap(), 0),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // The attacker's stale challenges now fail like expired ones.
    let (status, err) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": late["challenge_id"], "type": "totp" }),
        )
        .await;
    assert_eq!((status, error_code(&err)), (401, "challenge_expired"), "{err}");
    let (status, err) = verify(
        &s,
        &early["challenge_id"],
        pending["factor_id"].as_str().unwrap(),
        &code(&s, pending["secret"].as_str().unwrap(), 0),
    )
    .await;
    assert_eq!(status, 401, "{err}");
    let uid = v["user"]["id"].as_str().map(str::to_owned);
    let uid = match uid {
        Some(u) => u,
        None => claims(v["access_token"].as_str().unwrap())["sub"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    let totps = view["factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["type"] == "totp" && f["status"] == "active")
        .count();
    assert_eq!(totps, 1, "{view}");
    s.stop().await;
}

/// Item 2: step-up is checked when a pending factor is confirmed, not only when the
/// enrollment starts: a password-only session that started an enrollment while the account
/// had no factor cannot finish it once a factor is active.
async fn confirming_a_pending_factor_rechecks_step_up(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap().to_owned();
    let (pending, secret) = start_totp(&s, &t).await;
    sms_factor(&s, &gw, &t, PHONE).await;
    let (status, err) = confirm(&s, &t, &pending, &code(&s, &secret, 0)).await;
    assert_eq!(
        (status, error_code(&err)),
        (403, "mfa_verification_required"),
        "{err}"
    );
    let (_, list) = with_token(&t, s.get("/v1/users/me/mfa/factors")).await;
    assert!(
        !list["factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["type"] == "totp" && f["status"] == "active"),
        "{list}"
    );
    s.stop().await;
}

/// Item 2 and 5, the review's scenario: another (password-only) session's pending factor is
/// dropped, and that session ended, when the first factor becomes active.
async fn pending_enrollments_of_other_sessions_are_dropped(b: Backend) {
    let (s, gw) = sms_server(b).await;
    s.signup("alice@example.com").await;
    let (_, attacker) = s.signin("alice@example.com", PASSWORD).await;
    let at = attacker["access_token"].as_str().unwrap().to_owned();
    let (pending, secret) = start_totp(&s, &at).await;
    let (_, own) = s.signin("alice@example.com", PASSWORD).await;
    let own_token = own["access_token"].as_str().unwrap().to_owned();
    sms_factor(&s, &gw, &own_token, PHONE).await;
    let (status, _) = confirm(&s, &at, &pending, &code(&s, &secret, 0)).await;
    assert_eq!(status, 401, "the attacker's session has ended");
    let (_, list) = with_token(&own_token, s.get("/v1/users/me/mfa/factors")).await;
    let kinds: Vec<&str> = list["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sms", "backup_codes"], "{list}");
    // The session that enabled the factor goes on.
    assert_eq!(me(&s, &own["access_token"]).await, 200);
    s.stop().await;
}

/// Item 3: under a policy that requires MFA, sign-up creates the user and answers like
/// sign-in (an enrollment challenge), with no session and no refresh token.
async fn signup_under_required_mfa_opens_no_session(b: Backend) {
    let s = spawn(b).await;
    patch_config(&s, json!({ "mfa_required": true })).await;
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    let ch = &body["error"];
    assert_eq!(ch["allowed_factors"], json!(["totp"]));
    // The account exists: enrolling through the challenge signs the user in.
    let (status, e) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": ch["challenge_id"], "type": "totp" }),
        )
        .await;
    assert_eq!(status, 201, "{e}");
    let (status, v) = verify(
        &s,
        &ch["challenge_id"],
        e["factor_id"].as_str().unwrap(),
        &code(&s, e["secret"].as_str().unwrap(), 0),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(claims(v["access_token"].as_str().unwrap())["acr"], "aal2");
    // A second sign-up with the same email is still refused as taken.
    let (status, _) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 409);

    // The server-wide switch has the same effect.
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let schema = s.pg_schema.as_ref().map(|p| format!("{p}_g"));
    let clock = latchkey_core::clock::ManualClock::new(latchkey_core::clock::SystemClock.now_ms());
    let g = spawn_with(b, dir, schema, clock, |c| c.mfa_required = true).await;
    let (status, body) = g
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "bob@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");
    g.stop().await;
    s.stop().await;
}

/// Item 4: removing a user's factor kind from the allowed list never leaves them signing in
/// by password alone, and a password-only attacker cannot use the change to bind a factor.
async fn narrowing_allowed_kinds_never_downgrades_a_user(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let alice = s.signup("alice@example.com").await;
    let (fid, secret, backup) = totp_factor(&s, alice["access_token"].as_str().unwrap()).await;
    s.signup("bob@example.com").await;
    // The admin is told how many users the narrowing affects, before (dry run) and after.
    let (status, dry) = send(
        s.admin(s.patch("/v1/admin/config?dry_run=true"))
            .json(&json!({ "mfa_allowed_factors": ["sms", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["impact"]["users_to_reenroll"], 1, "{dry}");
    let (_, now) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(
        now["mfa_allowed_factors"],
        json!(["totp", "sms", "email_otp", "backup_codes"]),
        "a dry run saves nothing"
    );
    let cfg = patch_config(&s, json!({ "mfa_allowed_factors": ["sms", "backup_codes"] })).await;
    assert_eq!(cfg["impact"]["users_to_reenroll"], 1, "{cfg}");

    // MFA optional: Alice is still challenged, with the factor she has.
    let ch = challenge(&s, "alice@example.com", "mfa_required").await;
    let offered: Vec<&str> = ch["available_factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["totp", "backup_codes"], "{ch}");
    // Proving it leads to enrolling an allowed kind, not to a session.
    let (status, next) = verify(&s, &ch["challenge_id"], &fid, &code(&s, &secret, 0)).await;
    assert_eq!((status, error_code(&next)), (401, "mfa_setup_required"), "{next}");
    assert!(next.get("access_token").is_none());
    assert_eq!(next["error"]["allowed_factors"], json!(["sms"]));
    s.clock.advance_secs(30);
    let before = gw.received().len();
    let (status, e) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": next["error"]["challenge_id"], "type": "sms", "phone_number": PHONE }),
        )
        .await;
    assert_eq!(status, 201, "{e}");
    let (status, v) = verify(
        &s,
        &next["error"]["challenge_id"],
        e["factor_id"].as_str().unwrap(),
        &gw.code(before + 1).await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        claims(v["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "sms", "mfa"])
    );

    // MFA required: a user whose only factor is no longer allowed is challenged with it,
    // never asked (by password alone) to enroll a new one.
    patch_config(
        &s,
        json!({ "mfa_allowed_factors": ["totp", "backup_codes"], "mfa_required": false }),
    )
    .await;
    let carol = s.signup("carol@example.com").await;
    let (carol_fid, carol_secret, carol_backup) =
        totp_factor(&s, carol["access_token"].as_str().unwrap()).await;
    patch_config(
        &s,
        json!({ "mfa_allowed_factors": ["sms", "backup_codes"], "mfa_required": true }),
    )
    .await;
    let ch = challenge(&s, "carol@example.com", "mfa_required").await;
    let (status, err) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": ch["challenge_id"], "type": "sms", "phone_number": "+14155550100" }),
        )
        .await;
    assert_eq!(status, 401, "a sign-in challenge enrolls nothing: {err}");
    // A backup code is one of her factors too.
    let backup_id = ch["available_factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "backup_codes")
        .unwrap()["id"]
        .clone();
    let (status, next) = verify(
        &s,
        &ch["challenge_id"],
        backup_id.as_str().unwrap(),
        &carol_backup[0],
    )
    .await;
    assert_eq!((status, error_code(&next)), (401, "mfa_setup_required"), "{next}");
    let _ = (carol_fid, carol_secret, backup);
    // Bob, who never had MFA, is asked to enroll as before.
    challenge(&s, "bob@example.com", "mfa_setup_required").await;
    s.stop().await;
}

/// Item 5: the documented events end the documented sessions.
async fn sessions_end_with_the_facts_they_were_issued_on(b: Backend) {
    let s = spawn(b).await;
    let first = s.signup("alice@example.com").await;
    let uid = first["user"]["id"].as_str().unwrap().to_owned();
    let (_, second) = s.signin("alice@example.com", PASSWORD).await;
    // Enabling the first factor ends the other sessions; the one that enabled it goes on.
    let (fid, secret, _) = totp_factor(&s, second["access_token"].as_str().unwrap()).await;
    assert_eq!(me(&s, &first["access_token"]).await, 401);
    assert_eq!(refresh(&s, &first["refresh_token"]).await.0, 401);
    assert_eq!(me(&s, &second["access_token"]).await, 200);
    let (status, _) = refresh(&s, &second["refresh_token"]).await;
    assert_eq!(status, 200);

    // Removing a factor (self-service) ends every other session, not the current one.
    let fresh = totp_signin(&s, "alice@example.com", &fid, &secret).await;
    let other = totp_signin(&s, "alice@example.com", &fid, &secret).await;
    let ft = fresh["access_token"].as_str().unwrap().to_owned();
    let (second_fid, _, _) = totp_factor(&s, &ft).await;
    assert_eq!(
        me(&s, &other["access_token"]).await,
        200,
        "adding a factor ends nothing"
    );
    let (status, _) = with_token(
        &ft,
        s.http
            .delete(format!("{}/v1/users/me/mfa/factors/{second_fid}", s.url)),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(me(&s, &other["access_token"]).await, 401);
    assert_eq!(refresh(&s, &other["refresh_token"]).await.0, 401);
    assert_eq!(me(&s, &fresh["access_token"]).await, 200);

    // Regenerating backup codes: the same.
    let other = totp_signin(&s, "alice@example.com", &fid, &secret).await;
    let (status, _) = with_token(&ft, s.post("/v1/users/me/mfa/backup-codes")).await;
    assert_eq!(status, 201);
    assert_eq!(me(&s, &other["access_token"]).await, 401);
    assert_eq!(me(&s, &fresh["access_token"]).await, 200);

    // An admin removing a factor or resetting MFA ends them all.
    let (third_fid, _, _) = totp_factor(&s, &ft).await;
    let (status, _) = send(
        s.mfa_admin(
            s.http
                .delete(format!("{}/v1/users/{uid}/mfa/factors/{third_fid}", s.url)),
        ),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(me(&s, &fresh["access_token"]).await, 401);
    let aal2 = totp_signin(&s, "alice@example.com", &fid, &secret).await;
    assert_eq!(claims(aal2["access_token"].as_str().unwrap())["acr"], "aal2");
    let (status, _) = send(s.mfa_admin(s.http.delete(format!("{}/v2/admin/users/{uid}/mfa", s.url)))).await;
    assert_eq!(status, 204);
    assert_eq!(me(&s, &aal2["access_token"]).await, 401);
    assert_eq!(refresh(&s, &aal2["refresh_token"]).await.0, 401);
    s.stop().await;
}

/// Every text column of the tables that hold phone numbers, as one string.
async fn dump(s: &TestServer) -> String {
    let tables = ["users", "factors", "outbox", "send_counters", "cooldowns"];
    match s.backend {
        Backend::Sqlite => {
            let path = s.dir.path().join("latchkey.db");
            let conn =
                rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .unwrap();
            let mut out = String::new();
            for t in tables {
                let mut stmt = conn.prepare(&format!("SELECT * FROM {t}")).unwrap();
                let n = stmt.column_count();
                let mut rows = stmt.query([]).unwrap();
                while let Some(row) = rows.next().unwrap() {
                    for i in 0..n {
                        if let Ok(Some(text)) = row.get::<_, Option<String>>(i) {
                            out.push_str(&text);
                            out.push(' ');
                        }
                    }
                }
            }
            out
        }
        Backend::Postgres => {
            use sqlx::Row;
            let schema = s.pg_schema.clone().unwrap();
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&pg_url().unwrap())
                .await
                .unwrap();
            let mut out = String::new();
            for t in tables {
                let rows = sqlx::query(&format!("SELECT t::text AS row FROM \"{schema}\".{t} t"))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                for r in rows {
                    out.push_str(&r.get::<String, _>("row"));
                    out.push(' ');
                }
            }
            pool.close().await;
            out
        }
    }
}

/// Item 9: phone numbers (of users, factors and queued messages) are sealed at rest, with a
/// keyed hash beside them for limits; SQLite's directory and files are private to the owner.
async fn phone_numbers_are_sealed_and_files_private(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD, "phone_number": PHONE }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let t = body["access_token"].as_str().unwrap().to_owned();
    sms_factor(&s, &gw, &t, "+14155550100").await;
    let text = dump(&s).await;
    for digits in ["4155552671", "4155550100"] {
        assert!(!text.contains(digits), "{digits} stored in clear: {text}");
    }
    // Still usable: the user sees their own number, masked where the API masks it.
    let (_, me) = with_token(&t, s.get("/v1/users/me")).await;
    assert_eq!(me["phone_number"], PHONE, "{me}");
    let (_, list) = with_token(&t, s.get("/v1/users/me/mfa/factors")).await;
    assert_eq!(list["factors"][0]["destination"], "+1***0100", "{list}");
    #[cfg(unix)]
    if let Backend::Sqlite = b {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        let dir = s.dir.path();
        assert_eq!(mode(dir.to_path_buf()), 0o700, "data directory");
        for f in ["latchkey.db", "latchkey.db-wal", "latchkey.db-shm", "master.key"] {
            if dir.join(f).exists() {
                assert_eq!(mode(dir.join(f)), 0o600, "{f}");
            }
        }
    }
    s.stop().await;
}

/// Item 11: a code's message says how long it lives; the challenge it belongs to must not
/// end sooner (challenge_ttl 5 minutes, codes 10).
async fn a_sent_code_lives_as_long_as_its_message_says(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let body = s.signup("alice@example.com").await;
    let fid = sms_factor(&s, &gw, body["access_token"].as_str().unwrap(), PHONE).await;
    let ch = challenge(&s, "alice@example.com", "mfa_required").await;
    let (status, sel) = s
        .post_json(
            "/v1/mfa/challenge",
            json!({ "challenge_id": ch["challenge_id"], "factor_id": fid }),
        )
        .await;
    assert_eq!(status, 200, "{sel}");
    let message = gw.received().last().unwrap().body.clone();
    assert!(message.contains("10 minutes"), "{message}");
    assert_ne!(sel["expires_at"], ch["expires_at"], "the challenge was extended");
    s.clock.advance_secs(9 * 60 + 30);
    let (status, v) = verify(&s, &ch["challenge_id"], &fid, &gw.code(2).await).await;
    assert_eq!(status, 200, "{v}");
    s.stop().await;
}

/// Item 12: `factor_id` may be left out when the choice is unambiguous (`submitTOTP(challengeId,
/// code)` in the reference SDK).
async fn factor_id_is_optional_when_unambiguous(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap().to_owned();
    let (fid, secret, backup) = totp_factor(&s, &t).await;
    // Her only factor (backup codes aside).
    let ch = challenge(&s, "alice@example.com", "mfa_required").await;
    let (status, v) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["challenge_id"], "code": code(&s, &secret, 0) }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    s.clock.advance_secs(30);
    // A `type` names the kind.
    let ch = challenge(&s, "alice@example.com", "mfa_required").await;
    let (status, v) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["challenge_id"], "type": "backup_codes", "code": backup[0] }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // With two TOTP factors, the selected one (or a type with one match) decides.
    let fresh = totp_signin(&s, "alice@example.com", &fid, &secret).await;
    let (fid2, secret2, _) = totp_factor(&s, fresh["access_token"].as_str().unwrap()).await;
    let ch = challenge(&s, "alice@example.com", "mfa_required").await;
    let (status, err) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["challenge_id"], "code": code(&s, &secret2, 0) }),
        )
        .await;
    assert_eq!((status, error_code(&err)), (400, "factor_id_required"), "{err}");
    let (status, sel) = s
        .post_json(
            "/v1/mfa/challenge",
            json!({ "challenge_id": ch["challenge_id"], "factor_id": fid2 }),
        )
        .await;
    assert_eq!(status, 200, "{sel}");
    let (status, v) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["challenge_id"], "code": code(&s, &secret2, 0) }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // `/v1/mfa/challenge` with a type alone.
    let ch = challenge(&s, "alice@example.com", "mfa_required").await;
    let (status, sel) = s
        .post_json(
            "/v1/mfa/challenge",
            json!({ "challenge_id": ch["challenge_id"], "type": "backup_codes" }),
        )
        .await;
    assert_eq!(
        (status, sel["type"].clone()),
        (200, json!("backup_codes")),
        "{sel}"
    );
    // A forced enrollment's pending factor is the challenge's own.
    patch_config(&s, json!({ "mfa_required": true })).await;
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "bob@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let ch = body["error"].clone();
    let (_, e) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": ch["challenge_id"], "type": "totp" }),
        )
        .await;
    let (status, v) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["challenge_id"], "code": code(&s, e["secret"].as_str().unwrap(), 0) }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    s.stop().await;
}

/// Item 13: enrolling SMS without `phone_number` uses the account's phone; an unknown type is
/// named as such.
async fn sms_enrollment_uses_the_account_phone_and_unknown_types_are_named(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD, "phone_number": PHONE }),
        )
        .await;
    assert_eq!(status, 201);
    let t = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = with_token(
        &t,
        s.post("/v1/users/me/mfa/factors").json(&json!({ "type": "sms" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["phone_number"], "+1***2671");
    let (status, _) = confirm(&s, &t, e["factor_id"].as_str().unwrap(), &gw.code(1).await).await;
    assert_eq!(status, 200);
    assert_eq!(gw.received()[0].to, PHONE);
    // No phone on the account and none given.
    let bob = s.signup("bob@example.com").await;
    let (status, err) = with_token(
        bob["access_token"].as_str().unwrap(),
        s.post("/v1/users/me/mfa/factors").json(&json!({ "type": "sms" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_phone_number"));
    for path in ["/v1/users/me/mfa/factors"] {
        let (status, err) = with_token(
            bob["access_token"].as_str().unwrap(),
            s.post(path).json(&json!({ "type": "carrier_pigeon" })),
        )
        .await;
        assert_eq!((status, error_code(&err)), (400, "unknown_factor_type"), "{err}");
    }
    s.stop().await;
}

/// Item 14: the admin API shows the policy in effect, the server-wide switch included, and
/// where it comes from.
async fn effective_mfa_policy_is_shown(b: Backend) {
    let s = spawn(b).await;
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(
        cfg["effective_policy"],
        json!({ "mfa_required": false, "required_by": [] }),
        "{cfg}"
    );
    assert_eq!(cfg["tenant_id"], s.app.default_tenant.to_string());
    patch_config(&s, json!({ "mfa_required": true })).await;
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(
        cfg["effective_policy"],
        json!({ "mfa_required": true, "required_by": ["tenant"] })
    );
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let schema = s.pg_schema.as_ref().map(|p| format!("{p}_g"));
    let clock = latchkey_core::clock::ManualClock::new(latchkey_core::clock::SystemClock.now_ms());
    let g = spawn_with(b, dir, schema, clock, |c| {
        c.mfa_required = true;
        c.mfa_required_source = Some("MFA_REQUIRED".into());
    })
    .await;
    let (_, cfg) = send(g.admin(g.get("/v1/admin/config"))).await;
    assert_eq!(
        cfg["effective_policy"],
        json!({ "mfa_required": true, "required_by": ["server"], "server_setting": "MFA_REQUIRED" }),
        "{cfg}"
    );
    assert_eq!(cfg["mfa_required"], false, "the tenant's own flag is unchanged");
    g.stop().await;
    s.stop().await;
}

/// Item 15: an SMS factor an admin creates confirmed is a first factor like any other: it
/// brings backup codes, returned once.
async fn an_admin_created_first_factor_brings_backup_codes(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (_, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD, "phone_number": PHONE }),
        )
        .await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let t = body["access_token"].as_str().unwrap().to_owned();
    // Verify the phone with a factor, then remove it: no factor is left.
    let fid = sms_factor(&s, &gw, &t, PHONE).await;
    let (status, _) = send(
        s.mfa_admin(
            s.http
                .delete(format!("{}/v1/users/{uid}/mfa/factors/{fid}", s.url)),
        ),
    )
    .await;
    assert_eq!(status, 204);
    let (status, created) = send(
        s.mfa_admin(s.post(&format!("/v1/users/{uid}/mfa/factors")))
            .json(&json!({ "type": "sms", "phone_number": PHONE, "confirmed": true })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "active");
    assert_eq!(
        created["backup_codes"].as_array().map(Vec::len),
        Some(10),
        "{created}"
    );
    s.stop().await;
}

/// Known gap made due: SHA-256 and SHA-512 TOTP where the tenant asks; each factor keeps the
/// algorithm it was enrolled with, whatever the tenant's setting becomes.
async fn totp_factors_keep_the_algorithm_they_were_enrolled_with(b: Backend) {
    let s = spawn(b).await;
    patch_config(&s, json!({ "totp_algorithm": "SHA256" })).await;
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap().to_owned();
    let (fid, secret) = start_totp(&s, &t).await;
    let (_, list) = with_token(&t, s.get("/v1/users/me/mfa/factors")).await;
    assert_eq!(list["factors"][0]["status"], "pending");
    let seed = totp::base32_decode(&secret).unwrap();
    let at = |alg, offset: i64| totp::code_at_step(alg, &seed, totp::step_at(s.clock.now_ms()) + offset);
    // A SHA-1 code of the same seed does not confirm it; a SHA-256 one does.
    let (status, _) = confirm(&s, &t, &fid, &at(totp::Algorithm::Sha1, 0)).await;
    assert_eq!(status, 401);
    let (status, c) = confirm(&s, &t, &fid, &at(totp::Algorithm::Sha256, 0)).await;
    assert_eq!(status, 200, "{c}");
    s.clock.advance_secs(30);
    patch_config(&s, json!({ "totp_algorithm": "SHA512" })).await;
    let ch = challenge(&s, "alice@example.com", "mfa_required").await;
    let (status, v) = verify(&s, &ch["challenge_id"], &fid, &at(totp::Algorithm::Sha256, 0)).await;
    assert_eq!(status, 200, "{v}");
    // New enrollments follow the setting, and say so in their otpauth URI.
    let (status, e) = with_token(
        v["access_token"].as_str().unwrap(),
        s.post("/v1/users/me/mfa/factors")
            .json(&json!({ "type": "totp" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    assert!(
        e["otpauth_uri"].as_str().unwrap().contains("algorithm=SHA512"),
        "{e}"
    );
    s.stop().await;
}

/// Known gap made due (SECURITY.md test 25): `Idempotency-Key` on the POSTs that create or
/// send. A retry gets the first answer; the key with another body is refused; a concurrent
/// retry is told the first is in flight; nothing is created or sent twice.
async fn idempotency_keys_replay_instead_of_repeating(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap().to_owned();
    let enroll = |key: &str, kind: &str| {
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&t)
            .header("idempotency-key", key)
            .json(&json!({ "type": kind }))
    };
    let first = enroll("k-1", "totp").send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = enroll("k-1", "totp").send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "the same answer, secret included");
    let (status, err) = send(enroll("k-1", "email_otp")).await;
    assert_eq!((status, error_code(&err)), (422, "idempotency_key_reused"));
    let (_, list) = with_token(&t, s.get("/v1/users/me/mfa/factors")).await;
    assert_eq!(list["factors"].as_array().unwrap().len(), 1, "{list}");
    // Another caller cannot replay it: their key space is their own.
    let bob = s.signup("bob@example.com").await;
    let (status, other) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(bob["access_token"].as_str().unwrap())
            .header("idempotency-key", "k-1")
            .json(&json!({ "type": "totp" })),
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(other["secret"], first["secret"]);
    // Malformed keys are refused.
    let (status, err) = send(enroll("", "totp")).await;
    assert_eq!((status, error_code(&err)), (400, "invalid_idempotency_key"));
    // A failed request is not kept: a retry runs again.
    let (status, _) = send(enroll("k-2", "carrier_pigeon")).await;
    assert_eq!(status, 400);
    let (status, _) = send(enroll("k-2", "carrier_pigeon")).await;
    assert_eq!(status, 400);
    // Concurrent requests with one key: one runs, the others wait their turn or replay it.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let req = enroll("k-3", "totp");
        tasks.push(tokio::spawn(async move { send(req).await }));
    }
    let mut secrets = std::collections::HashSet::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            201 => {
                secrets.insert(body["secret"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(error_code(&body), "idempotency_key_in_use"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(secrets.len(), 1, "one enrollment ran");
    // A code is sent once for a retried challenge; sign-up is not repeated.
    let fid = sms_factor(&s, &gw, &t, PHONE).await;
    s.clock.advance_secs(120);
    let ch = challenge(&s, "alice@example.com", "mfa_required").await;
    let before = gw.received().len();
    let pick = || {
        s.post("/v1/mfa/challenge")
            .header("idempotency-key", "pick-1")
            .json(&json!({ "challenge_id": ch["challenge_id"], "factor_id": fid }))
    };
    let (status, a) = send(pick()).await;
    assert_eq!(status, 200, "{a}");
    let (status, b2) = send(pick()).await;
    assert_eq!((status, &b2), (200, &a));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(gw.received().len(), before + 1, "one SMS");
    let signup = || {
        s.post("/v1/auth/signup")
            .header("idempotency-key", "signup-1")
            .json(&json!({ "email": "carol@example.com", "password": PASSWORD }))
    };
    let (status, c1) = send(signup()).await;
    assert_eq!(status, 201);
    let (status, c2) = send(signup()).await;
    assert_eq!((status, &c2["user"]["id"]), (201, &c1["user"]["id"]));
    s.stop().await;
}

/// SECURITY.md test 73: a password-only session opened before the tenant required MFA does
/// not keep refreshing at aal1; sessions that passed a second factor go on.
async fn requiring_mfa_ends_password_only_sessions_at_refresh(b: Backend) {
    let s = spawn(b).await;
    let alice = s.signup("alice@example.com").await;
    let bob = s.signup("bob@example.com").await;
    let (fid, secret, _) = totp_factor(&s, bob["access_token"].as_str().unwrap()).await;
    let bob_mfa = totp_signin(&s, "bob@example.com", &fid, &secret).await;
    patch_config(&s, json!({ "mfa_required": true })).await;
    let (status, err) = refresh(&s, &alice["refresh_token"]).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_refresh_token"));
    assert_eq!(me(&s, &alice["access_token"]).await, 401, "the session has ended");
    let (status, _) = refresh(&s, &bob_mfa["refresh_token"]).await;
    assert_eq!(status, 200);
    s.stop().await;
}

/// SECURITY.md test 26: a valid code presented on another challenge of the same user fails
/// and counts as a failure against the factor it names.
async fn codes_on_another_challenge_count_against_the_target(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let body = s.signup("alice@example.com").await;
    let fid = sms_factor(&s, &gw, body["access_token"].as_str().unwrap(), PHONE).await;
    let a = challenge(&s, "alice@example.com", "mfa_required").await;
    let bch = challenge(&s, "alice@example.com", "mfa_required").await;
    let (status, _) = s
        .post_json("/v1/mfa/challenge", json!({ "challenge_id": a["challenge_id"] }))
        .await;
    assert_eq!(status, 200);
    let code_for_a = gw.code(2).await;
    // Five tries of A's code on B: each refused and counted; then the factor is locked,
    // and even A's own challenge is refused for now.
    for _ in 0..5 {
        let (status, err) = verify(&s, &bch["challenge_id"], &fid, &code_for_a).await;
        assert_eq!((status, error_code(&err)), (401, "invalid_code"));
    }
    let (status, err) = verify(&s, &a["challenge_id"], &fid, &code_for_a).await;
    assert_eq!((status, error_code(&err)), (429, "too_many_attempts"), "{err}");
    s.stop().await;
}

/// SECURITY.md test 45: resetting a user's MFA takes that tenant's secret key; a user's own
/// token and another tenant's key get nothing done.
async fn admin_reset_needs_the_tenants_secret_key(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("alice@example.com").await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let t = body["access_token"].as_str().unwrap().to_owned();
    totp_factor(&s, &t).await;
    let path = format!("{}/v2/admin/users/{uid}/mfa", s.url);
    let (status, _) = send(s.http.delete(&path).bearer_auth(&t)).await;
    assert_eq!(status, 401, "a user token is not a secret key");
    let (_, other_key) = s.app.create_tenant("other").await.unwrap();
    let (status, _) = send(s.http.delete(&path).bearer_auth(other_key.expose())).await;
    assert!(status == 403 || status == 404, "{status}");
    let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    assert_eq!(
        view["factors"].as_array().unwrap().len(),
        2,
        "nothing was reset: {view}"
    );
    s.stop().await;
}
