//! Remembered devices through the API: `remember_device` on `/v1/mfa/verify` gives a
//! `device_token`, which stands in for the second factor at later password sign-ins of
//! that user only, while live, never for a step-up and never for a phishing-resistant rule;
//! the tenant's mode and lifetime; listing and forgetting by the user and an admin; and
//! every revocation path (factor removed, backup code used, admin reset, password reset).

use crate::both_stores;
use crate::helpers::*;
use crate::mfa::{backup_factor, code, mfa_signin, user_with_totp};
use crate::pages::{inputs_are_styled, Browser};
use crate::recovery::{mail_server, text};
use serde_json::{json, Value};

both_stores!(
    a_remembered_device_stands_in_at_sign_in_only,
    the_tenant_decides_the_mode_and_the_lifetime,
    a_device_never_satisfies_a_phishing_resistant_rule,
    users_and_admins_list_and_forget_devices,
    every_revocation_path_forgets_the_devices,
    a_remembered_device_is_notified_and_a_password_reset_forgets_it,
    the_hosted_mfa_screen_remembers_a_browser_when_asked,
);

/// The device cookie's name where the public URL is https.
const DEVICE: &str = "__Host-lk_device";

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";

/// Passes the second factor of `email` (TOTP), asking to be remembered or not; the answer.
async fn verify_totp(s: &TestServer, email: &str, fid: &str, secret: &str, remember: Option<bool>) -> Value {
    let ch = mfa_signin(s, email).await;
    let mut body = json!({
        "challenge_id": ch["error"]["challenge_id"],
        "factor_id": fid,
        "code": code(s, secret, 0),
    });
    if let Some(r) = remember {
        body["remember_device"] = json!(r);
    }
    let (status, v) = send(s.post("/v1/mfa/verify").header("user-agent", UA).json(&body)).await;
    assert_eq!(status, 200, "{v}");
    s.clock.advance_secs(30);
    v
}

async fn signin_with(s: &TestServer, email: &str, device: &str) -> (u16, Value) {
    s.post_json(
        "/v1/auth/signin",
        json!({ "email": email, "password": PASSWORD, "device_token": device }),
    )
    .await
}

fn device_token(v: &Value) -> String {
    let t = v["device_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no device_token: {v}"));
    assert!(t.starts_with("dvt_"), "{t}");
    t.to_owned()
}

async fn devices(s: &TestServer, who: &str, token: &str) -> (u16, Value) {
    send(s.get(&format!("/v1/users/{who}/devices")).bearer_auth(token)).await
}

async fn admin_devices(s: &TestServer, uid: &str) -> Vec<Value> {
    let (status, body) = send(s.admin(s.get(&format!("/v1/users/{uid}/devices")))).await;
    assert_eq!(status, 200, "{body}");
    body["devices"].as_array().unwrap().clone()
}

async fn config(s: &TestServer, patch: Value) -> (u16, Value) {
    send(s.admin(s.patch("/v1/admin/config")).json(&patch)).await
}

async fn a_remembered_device_stands_in_at_sign_in_only(b: Backend) {
    let s = spawn(b).await;
    let (uid, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    // Not asked: nothing remembered.
    let plain = verify_totp(&s, "alice@example.com", &fid, &secret, None).await;
    assert!(plain.get("device_token").is_none(), "{plain}");
    let v = verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await;
    let device = device_token(&v);

    // The device stands in for the second factor: a session at aal2, with the second factor
    // dated from when the device was remembered.
    let (status, signed_in) = signin_with(&s, "alice@example.com", &device).await;
    assert_eq!(status, 200, "{signed_in}");
    let c = claims(signed_in["access_token"].as_str().unwrap());
    assert_eq!(c["acr"], "aal2");
    assert_eq!(c["amr"], json!(["pwd", "mfa"]));
    // Without it, or with a wrong, malformed or absurd one: the second factor, as ever.
    mfa_signin(&s, "alice@example.com").await;
    for wrong in [
        "dvt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
        "not a token".to_owned(),
        format!("{device}x"),
        "dvt_".to_owned() + &"a".repeat(5000),
    ] {
        let (status, body) = signin_with(&s, "alice@example.com", &wrong).await;
        assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    }
    // A wrong password is a wrong password, device or not.
    let (status, body) = s
        .post_json(
            "/v1/auth/signin",
            json!({ "email": "alice@example.com", "password": "wrong password", "device_token": device }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (401, "invalid_credentials"));
    // Another user's sign-in is not helped by Alice's device.
    let (_, _, bob_fid, _, _) = user_with_totp(&s, "bob@example.com").await;
    let _ = bob_fid;
    let (status, body) = signin_with(&s, "bob@example.com", &device).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");

    // Never a step-up: a sensitive change wants a second factor from within the last
    // 15 minutes, and the device's dates from when it was remembered.
    s.clock.advance_secs(16 * 60);
    let (status, signed_in) = signin_with(&s, "alice@example.com", &device).await;
    assert_eq!(status, 200, "{signed_in}");
    let token = signed_in["access_token"].as_str().unwrap();
    let (status, body) = send(s.post("/v1/users/me/mfa/backup-codes").bearer_auth(token)).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "mfa_verification_required"),
        "{body}"
    );

    // Listed with its name, where and when; never its token.
    let listed = admin_devices(&s, &uid).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["name"], UA);
    assert_eq!(listed[0]["aal"], "aal2");
    assert_eq!(listed[0]["created_ip"], "127.0.0.1");
    assert!(listed[0]["last_used_at"].is_string(), "{listed:?}");
    assert!(!listed[0].to_string().contains(&device[4..]));
    // The audit log has it, without the token.
    let (_, events) = send(s.admin(s.get(&format!("/v1/admin/audit-events?user_id={uid}")))).await;
    let all = events.to_string();
    assert!(all.contains("device.remembered"), "{all}");
    assert!(all.contains("remembered_device dev_"), "{all}");
    assert!(!all.contains(&device[4..]) && !logs().contains(&device[4..]));

    // It expires after the tenant's 30 days.
    s.clock.advance_secs(30 * 86_400);
    let (status, body) = signin_with(&s, "alice@example.com", &device).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    assert!(admin_devices(&s, &uid).await.is_empty());
    s.stop().await;
}

async fn the_tenant_decides_the_mode_and_the_lifetime(b: Backend) {
    let s = spawn(b).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    let (status, body) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["remember_device"], &body["remember_device_days"]),
        (&json!("user_opt_in"), &json!(30))
    );
    for bad in [
        json!({ "remember_device_days": 0 }),
        json!({ "remember_device_days": 366 }),
        json!({ "remember_device_days": 99999999999u64 }),
        json!({ "remember_device": "sometimes" }),
        json!({ "remember_device": true }),
    ] {
        let (status, body) = config(&s, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let device = device_token(&verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await);
    // `never`: nothing is remembered, and what was stops standing in.
    let (status, body) = config(&s, json!({ "remember_device": "never" })).await;
    assert_eq!(status, 200, "{body}");
    let v = verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await;
    assert!(v.get("device_token").is_none(), "{v}");
    let (status, body) = signin_with(&s, "alice@example.com", &device).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    // `always`, for a day: remembered unasked; gone after the day.
    // Remembering more often skips the second factor more: it needs a key with `mfa:admin`.
    let always = json!({ "remember_device": "always", "remember_device_days": 1 });
    let (status, body) = config(&s, always.clone()).await;
    assert_eq!((status, error_code(&body)), (403, "insufficient_scope"), "{body}");
    let (status, body) = send(s.mfa_admin(s.patch("/v1/admin/config")).json(&always)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["remember_device"], &body["remember_device_days"]),
        (&json!("always"), &json!(1))
    );
    let short = device_token(&verify_totp(&s, "alice@example.com", &fid, &secret, None).await);
    assert_eq!(signin_with(&s, "alice@example.com", &short).await.0, 200);
    assert_eq!(
        signin_with(&s, "alice@example.com", &device).await.0,
        200,
        "live again"
    );
    s.clock.advance_secs(86_400);
    let (status, body) = signin_with(&s, "alice@example.com", &short).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    s.stop().await;
}

async fn a_device_never_satisfies_a_phishing_resistant_rule(b: Backend) {
    let s = spawn(b).await;
    let (uid, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    let device = device_token(&verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await);
    assert_eq!(signin_with(&s, "alice@example.com", &device).await.0, 200);
    let (status, body) = send(
        s.admin(s.http.put(format!("{}/v1/admin/mfa-rules/user/{uid}", s.url)))
            .json(&json!({ "min_assurance": "phishing_resistant" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = signin_with(&s, "alice@example.com", &device).await;
    assert_eq!(status, 401, "a device remembered after a TOTP code: {body}");
    assert!(
        ["mfa_required", "mfa_setup_required"].contains(&error_code(&body)),
        "{body}"
    );
    s.stop().await;
}

async fn users_and_admins_list_and_forget_devices(b: Backend) {
    let s = spawn(b).await;
    let (uid, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    let (bob, bob_token, _, _, _) = user_with_totp(&s, "bob@example.com").await;
    let one = verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await;
    let first = device_token(&one);
    let second = device_token(&verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await);
    let third = device_token(&verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await);
    let token = one["access_token"].as_str().unwrap();

    let (status, mine) = devices(&s, "me", token).await;
    assert_eq!(status, 200, "{mine}");
    let listed = mine["devices"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    // Bob sees none of Alice's, and cannot forget them.
    let (status, body) = devices(&s, &uid, &bob_token).await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"), "{body}");
    let newest = listed[0]["id"].as_str().unwrap().to_owned();
    let (status, body) = send(
        s.http
            .delete(format!("{}/v1/users/{uid}/devices/{newest}", s.url))
            .bearer_auth(&bob_token),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = devices(&s, "me", &bob_token).await;
    assert_eq!((status, body["devices"].as_array().unwrap().len()), (200, 0));
    let _ = bob;

    // Alice forgets the newest (the third): it stops working, once.
    let (status, body) = send(
        s.http
            .delete(format!("{}/v1/users/me/devices/{newest}", s.url))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = signin_with(&s, "alice@example.com", &third).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    for id in [newest.as_str(), "dev_nope", "dev_01JAAAAAAAAAAAAAAAAAAAAAAA"] {
        let (status, body) = send(
            s.http
                .delete(format!("{}/v1/users/me/devices/{id}", s.url))
                .bearer_auth(token),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (404, "device_not_found"),
            "{id}: {body}"
        );
    }
    assert_eq!(signin_with(&s, "alice@example.com", &first).await.0, 200);

    // An admin forgets the rest.
    let (status, body) = send(s.admin(s.http.delete(format!("{}/v1/users/{uid}/devices", s.url)))).await;
    assert_eq!((status, body["forgotten"].as_u64()), (200, Some(2)), "{body}");
    for t in [&first, &second] {
        let (status, body) = signin_with(&s, "alice@example.com", t).await;
        assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    }
    let (status, body) = send(s.admin(s.http.delete(format!("{}/v1/users/{uid}/devices", s.url)))).await;
    assert_eq!((status, body["forgotten"].as_u64()), (200, Some(0)), "{body}");
    let (_, events) = send(s.admin(s.get(&format!("/v1/admin/audit-events?user_id={uid}")))).await;
    let revoked: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "device.revoked")
        .collect();
    assert_eq!(revoked.len(), 2, "{events}");
    s.stop().await;
}

async fn every_revocation_path_forgets_the_devices(b: Backend) {
    let s = spawn(b).await;
    let (uid, _, fid, secret, backup) = user_with_totp(&s, "alice@example.com").await;

    // A factor removed (by the user, with a fresh second factor).
    let v = verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await;
    let device = device_token(&v);
    let token = v["access_token"].as_str().unwrap();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(token)
            .json(&json!({ "type": "totp", "name": "Spare" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let spare = e["factor_id"].as_str().unwrap().to_owned();
    let spare_secret = e["secret"].as_str().unwrap().to_owned();
    // A factor added: the devices remembered before it are forgotten.
    let (status, body) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{spare}/confirm"))
            .bearer_auth(token)
            .json(&json!({ "code": code(&s, &spare_secret, 0) })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = signin_with(&s, "alice@example.com", &device).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "mfa_required"),
        "factor added: {body}"
    );
    let v = verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await;
    let device = device_token(&v);
    let token = v["access_token"].as_str().unwrap();
    let (status, body) = send(
        s.http
            .delete(format!("{}/v1/users/me/mfa/factors/{spare}", s.url))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = signin_with(&s, "alice@example.com", &device).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "mfa_required"),
        "factor removed: {body}"
    );

    // A backup code used to sign in: a recovery.
    let device = device_token(&verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await);
    let ch = mfa_signin(&s, "alice@example.com").await;
    let (status, body) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["error"]["challenge_id"], "factor_id": backup_factor(&ch), "code": backup[0] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = signin_with(&s, "alice@example.com", &device).await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "mfa_required"),
        "backup code: {body}"
    );

    // An admin's MFA reset.
    let device = device_token(&verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await);
    assert_eq!(admin_devices(&s, &uid).await.len(), 1);
    let (status, body) =
        send(s.mfa_admin(s.http.delete(format!("{}/v2/admin/users/{uid}/mfa", s.url)))).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    assert!(admin_devices(&s, &uid).await.is_empty());
    // With no factor left the password alone signs in, at aal1: the device is not used.
    let (status, body) = signin_with(&s, "alice@example.com", &device).await;
    assert_eq!(status, 200, "{body}");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        (c["acr"].as_str(), c["amr"].clone()),
        (Some("aal1"), json!(["pwd"]))
    );
    s.stop().await;
}

async fn a_remembered_device_is_notified_and_a_password_reset_forgets_it(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let (uid, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    mail.next_about("A sign-in method was added").await;
    let device = device_token(&verify_totp(&s, "alice@example.com", &fid, &secret, Some(true)).await);
    let notice = mail
        .next_about("A device was remembered for your Acme account")
        .await;
    let body = text(&notice);
    assert!(body.contains(UA) && body.contains("30 days"), "{body}");
    assert!(!notice.to_string().contains(&device[4..]), "never the token");

    let (status, _) = s
        .post_json(
            "/v1/auth/password/forgot",
            json!({ "email": "alice@example.com" }),
        )
        .await;
    assert_eq!(status, 202);
    let msg = mail.next_about("Reset your Acme password").await;
    let t = crate::recovery::token(&msg);
    let (status, body) = s
        .post_json(
            "/v1/auth/password/reset",
            json!({ "token": t, "password": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert!(admin_devices(&s, &uid).await.is_empty());
    let (status, body) = s
        .post_json(
            "/v1/auth/signin",
            json!({ "email": "alice@example.com", "password": "a brand new passphrase", "device_token": device }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    s.stop().await;
}

/// Password and TOTP on the pages, ticking "remember this device" or not; the MFA page and
/// the answer to the code.
async fn pass_on_pages(
    s: &TestServer,
    br: &mut Browser<'_>,
    secret: &str,
    remember: bool,
) -> (crate::pages::Page, crate::pages::Page) {
    let p = br.login("alice@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"), "{}", p.body);
    let mfa = br.get("/login/mfa").await;
    let totp = code(s, secret, 0);
    let (csrf, fid) = (mfa.csrf(), mfa.field("factor_id"));
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("factor_id", fid.as_str()),
        ("code", totp.as_str()),
    ];
    if remember {
        fields.push(("remember", "1"));
    }
    let p = br.post("/login/mfa/verify", &fields).await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    s.clock.advance_secs(30);
    (mfa, p)
}

async fn the_hosted_mfa_screen_remembers_a_browser_when_asked(b: Backend) {
    let s = spawn(b).await;
    let secret = crate::pages::user_with_totp(&s, "alice@example.com").await;
    // Not ticked: nothing remembered.
    let mut first = Browser::new(&s);
    let (mfa, _) = pass_on_pages(&s, &mut first, &secret, false).await;
    assert!(
        mfa.body.contains("name=\"remember\"") && mfa.body.contains("Remember this device for 30 days"),
        "{}",
        mfa.body
    );
    inputs_are_styled(&mut first, &mfa).await;
    assert!(first.cookie(DEVICE).is_none());

    // Ticked: an HttpOnly, Secure cookie for the tenant's 30 days (the test server's public
    // URL is https, hence the `__Host-` name).
    let mut br = Browser::new(&s);
    let (_, p) = pass_on_pages(&s, &mut br, &secret, true).await;
    let set: Vec<&str> = p
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|v| v.starts_with("__Host-lk_device="))
        .collect();
    assert_eq!(set.len(), 1, "{:?}", p.headers);
    assert!(
        set[0].contains("; HttpOnly")
            && set[0].contains("; Secure")
            && set[0].contains("SameSite=Lax")
            && set[0].contains("Max-Age=2592000"),
        "{}",
        set[0]
    );
    let device = br.cookie(DEVICE).unwrap().to_owned();
    assert!(device.starts_with("dvt_"), "{device}");

    // The same browser, signed out (only the device cookie kept): the password is enough.
    let mut again = Browser::new(&s);
    again.set_cookie(DEVICE, Some(device.clone()));
    let p = again.login("alice@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    // Another browser still sees the second step.
    let mut other = Browser::new(&s);
    let p = other.login("alice@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"), "{}", p.body);

    // The account page lists it, and forgets it.
    let account = again.get("/account/security").await;
    assert_eq!(account.status, 200);
    assert!(
        account.body.contains("Remembered devices") && account.body.contains("Unnamed device"),
        "{}",
        account.body
    );
    let forget_all = again
        .post("/account/security/devices/forget", &[("csrf", &account.csrf())])
        .await;
    assert_eq!(
        (forget_all.status, forget_all.location()),
        (303, "/account/security?notice=devices_forgotten"),
        "{}",
        forget_all.body
    );
    let account = again.get("/account/security?notice=devices_forgotten").await;
    assert!(!account.body.contains("Remembered devices"), "{}", account.body);
    assert!(
        account.body.contains("will ask for the second step again"),
        "{}",
        account.body
    );
    let mut later = Browser::new(&s);
    later.set_cookie(DEVICE, Some(device.clone()));
    let p = later.login("alice@example.com", PASSWORD).await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/login/mfa"),
        "forgotten: {}",
        p.body
    );
    // Remember it again (a new token) for what follows.
    let mut br = Browser::new(&s);
    pass_on_pages(&s, &mut br, &secret, true).await;
    let device = br.cookie(DEVICE).unwrap().to_owned();
    let account = br.get("/account/security").await;
    let id = account
        .body
        .split("/account/security/devices/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("dev_"), "{id}");
    // Another user's form token cannot forget it (CSRF), and a made-up id is a page, not JSON.
    let p = br
        .post(
            &format!("/account/security/devices/{id}/forget"),
            &[("csrf", "nope")],
        )
        .await;
    assert_eq!(p.status, 403, "{}", p.body);
    let p = br
        .post(
            "/account/security/devices/dev_nope/forget",
            &[("csrf", &account.csrf())],
        )
        .await;
    assert_eq!(p.status, 404, "{}", p.body);
    p.is_html();
    let p = br
        .post(
            &format!("/account/security/devices/{id}/forget"),
            &[("csrf", &account.csrf())],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let mut later = Browser::new(&s);
    later.set_cookie(DEVICE, Some(device.clone()));
    let p = later.login("alice@example.com", PASSWORD).await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/login/mfa"),
        "forgotten: {}",
        p.body
    );

    // A tenant that remembers nothing: no checkbox, and the cookie no longer helps.
    let (status, body) = config(&s, json!({ "remember_device": "never" })).await;
    assert_eq!(status, 200, "{body}");
    let mut again = Browser::new(&s);
    again.set_cookie(DEVICE, Some(device));
    let p = again.login("alice@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"), "{}", p.body);
    let mfa = again.get("/login/mfa").await;
    assert!(!mfa.body.contains("name=\"remember\""), "{}", mfa.body);
    s.stop().await;
}
