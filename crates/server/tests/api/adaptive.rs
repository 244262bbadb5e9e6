//! Adaptive MFA end to end: a real (small) MaxMind-format GeoIP database
//! (`tests/fixtures/geoip/`, made by the script beside it), client addresses from a trusted
//! proxy's `X-Forwarded-For`, and the hand-driven clock. Places in the test database:
//! 198.51.100.0/24 Berlin, 198.18.0.0/24 Munich (504 km away), 192.0.2.0/24 Paris (878 km),
//! 203.0.113.0/24 Sydney; 2001:db8:1::/48 Berlin, 2001:db8:2::/48 Sydney.

use crate::both_stores;
use crate::helpers::*;
use crate::mfa::{code, user_with_totp, verify};
use crate::pages::Browser;
use latchkey_server::app::{App, AppOptions};
use latchkey_server::http::common::forwarded::TrustedProxies;
use serde_json::{json, Value};
use std::path::PathBuf;

both_stores!(
    a_risky_sign_in_without_a_factor_is_refused,
    impossible_travel_is_refused_even_with_a_factor,
    the_thresholds_decide,
    adaptive_off_changes_nothing,
    failures_and_velocity_raise_the_score,
    a_refusal_on_the_pages_is_a_page,
    settings_are_validated,
    a_remembered_device_is_known_and_never_skips_a_risky_second_factor,
);

const BERLIN: &str = "198.51.100.7";
const MUNICH: &str = "198.18.0.9";
const PARIS: &str = "192.0.2.7";
const SYDNEY: &str = "203.0.113.9";
const BERLIN_V6: &str = "2001:db8:1::7";
const DAY: i64 = 86_400;

pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/geoip")
        .join(name)
}

/// A server behind a trusted proxy on loopback, with the test GeoIP database.
async fn server(b: Backend) -> TestServer {
    spawn_tweaked(b, |c| {
        c.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        c.geoip_database = Some(fixture("city.mmdb"));
    })
    .await
}

async fn configure(s: &TestServer, adaptive: Value) -> Value {
    // Some changes ask less of sign-ins (off, higher thresholds): a key with `mfa:admin`.
    let (status, body) = send(
        s.mfa_admin(s.patch("/v1/admin/config"))
            .json(&json!({ "adaptive": adaptive })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A password sign-in from `ip`, a second after the last thing that happened.
async fn signin_from(s: &TestServer, email: &str, password: &str, ip: &str) -> (u16, Value) {
    s.clock.advance_secs(1);
    send(
        s.post("/v1/auth/signin")
            .header("x-forwarded-for", ip)
            .json(&json!({ "email": email, "password": password })),
    )
    .await
}

/// The `signin` audit events, newest first, as `(outcome, detail)`.
async fn signins(s: &TestServer) -> Vec<(String, String)> {
    let (status, body) = send(
        s.admin(s.get("/v1/admin/audit-events"))
            .query(&[("limit", "200")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "signin")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn last_signin(s: &TestServer) -> (String, String) {
    signins(s).await.into_iter().next().unwrap()
}

fn pair(outcome: &str, detail: &str) -> (String, String) {
    (outcome.to_owned(), detail.to_owned())
}

/// Signs in from `ip` with the TOTP factor: challenged, then verified.
async fn signin_with_totp(s: &TestServer, email: &str, fid: &str, secret: &str, ip: &str) {
    let (status, ch) = signin_from(s, email, PASSWORD, ip).await;
    assert_eq!((status, error_code(&ch)), (401, "mfa_required"), "{ch}");
    s.clock.advance_secs(30);
    let (status, body) = verify(s, &ch, fid, &code(s, secret, 0)).await;
    assert_eq!(status, 200, "{body}");
}

/// A user without a second factor who signs in from somewhere new enough to need one is
/// refused, not sent to enroll one: whoever has the password would enroll their own.
async fn a_risky_sign_in_without_a_factor_is_refused(b: Backend) {
    let s = server(b).await;
    configure(&s, json!({ "enabled": true })).await;
    s.signup("alice@example.com").await;
    let alice = |ip| signin_from(&s, "alice@example.com", PASSWORD, ip);

    // The first sign-in has nothing to compare with: it is the baseline, not a risk.
    let (status, body) = alice(BERLIN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        last_signin(&s).await,
        pair("success", "complete risk=0 reasons=no_history")
    );

    // A day later, same place: only the device is unknown (remembered devices are not
    // presented yet).
    s.clock.advance_secs(DAY);
    let (status, _) = alice(BERLIN).await;
    assert_eq!(status, 200);
    assert_eq!(
        last_signin(&s).await,
        pair("success", "complete risk=10 reasons=new_device")
    );

    // Munich: a new network in the same country, and a train ride away (504 km less the
    // accuracy radii) even minutes later. 30 < 40.
    let (status, _) = alice(MUNICH).await;
    assert_eq!(status, 200);
    assert_eq!(
        last_signin(&s).await,
        pair("success", "complete risk=30 reasons=new_device,new_network")
    );

    // Paris a day later: a new country too. 60 >= 40 asks for a second factor, and Alice
    // has none: refused, with the reasons in the audit log and none in the answer.
    s.clock.advance_secs(DAY);
    let (status, body) = alice(PARIS).await;
    assert_eq!((status, error_code(&body)), (403, "sign_in_refused"), "{body}");
    assert!(!body.to_string().contains("country"), "{body}");
    assert_eq!(
        last_signin(&s).await,
        pair(
            "refused",
            "risk_no_factor risk=60 reasons=new_device,new_network,new_country"
        )
    );
    // No enrollment challenge was handed out.
    assert!(body["error"].get("challenge_id").is_none(), "{body}");

    // Munich again is known now: back to the device alone.
    let (status, _) = alice(MUNICH).await;
    assert_eq!(status, 200);
    // The same user over IPv6 from Berlin: a new network, the same country.
    let (status, _) = alice(BERLIN_V6).await;
    assert_eq!(status, 200);
    assert_eq!(
        last_signin(&s).await,
        pair("success", "complete risk=30 reasons=new_device,new_network")
    );
}

/// Berlin, then Sydney ten minutes later: impossible travel, refused whatever factor the
/// user has. A day later the same trip is a long flight: a second factor is enough.
async fn impossible_travel_is_refused_even_with_a_factor(b: Backend) {
    let s = server(b).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "bob@example.com").await;
    configure(&s, json!({ "enabled": true })).await;
    signin_with_totp(&s, "bob@example.com", &fid, &secret, BERLIN).await;
    assert_eq!(
        last_signin(&s).await,
        pair("success", "mfa_challenge risk=0 reasons=no_history")
    );

    s.clock.advance_secs(600);
    let (status, body) = signin_from(&s, "bob@example.com", PASSWORD, SYDNEY).await;
    assert_eq!((status, error_code(&body)), (403, "sign_in_refused"), "{body}");
    assert_eq!(
        last_signin(&s).await,
        pair(
            "refused",
            "risk_denied risk=100 reasons=new_device,new_network,new_country,impossible_travel"
        )
    );

    // A day after the Berlin sign-in: 16,000 km in 24 hours is a flight, not impossible.
    s.clock.advance_secs(DAY - 600);
    let (status, body) = signin_from(&s, "bob@example.com", PASSWORD, SYDNEY).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    assert_eq!(
        last_signin(&s).await,
        pair(
            "success",
            "mfa_challenge risk=60 reasons=new_device,new_network,new_country"
        )
    );
    // A refused or merely challenged sign-in taught the history nothing: Sydney is still
    // new. Once the second factor is proven there, it is Bob's.
    s.clock.advance_secs(30);
    let (status, _) = verify(&s, &body, &fid, &code(&s, &secret, 0)).await;
    assert_eq!(status, 200);
    let (status, body) = signin_from(&s, "bob@example.com", PASSWORD, SYDNEY).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        last_signin(&s).await,
        pair("success", "mfa_challenge risk=10 reasons=new_device")
    );
}

/// The tenant's thresholds map the same score to a refusal or a second factor.
async fn the_thresholds_decide(b: Backend) {
    let s = server(b).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "carol@example.com").await;
    configure(&s, json!({ "enabled": true, "mfa_score": 20, "deny_score": 50 })).await;
    signin_with_totp(&s, "carol@example.com", &fid, &secret, BERLIN).await;
    s.clock.advance_secs(DAY);
    // Paris scores 60: at or above 50, refused.
    let (status, body) = signin_from(&s, "carol@example.com", PASSWORD, PARIS).await;
    assert_eq!((status, error_code(&body)), (403, "sign_in_refused"), "{body}");
    // Never refuse: the second factor is asked for instead.
    let body = configure(&s, json!({ "deny_score": null })).await;
    assert_eq!(
        body["adaptive"],
        json!({ "enabled": true, "mfa_score": 20, "deny_score": null })
    );
    let (status, body) = signin_from(&s, "carol@example.com", PASSWORD, PARIS).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    // A user without a factor is refused at mfa_score (20) already: Munich scores 30.
    s.signup("dave@example.com").await;
    let (status, _) = signin_from(&s, "dave@example.com", PASSWORD, BERLIN).await;
    assert_eq!(status, 200);
    let (status, body) = signin_from(&s, "dave@example.com", PASSWORD, MUNICH).await;
    assert_eq!((status, error_code(&body)), (403, "sign_in_refused"), "{body}");
    configure(&s, json!({ "mfa_score": 40 })).await;
    let (status, _) = signin_from(&s, "dave@example.com", PASSWORD, MUNICH).await;
    assert_eq!(status, 200);
}

/// With adaptive MFA off (the default) the same journeys go as they always did: no
/// refusal, no score in the audit log, nothing recorded.
async fn adaptive_off_changes_nothing(b: Backend) {
    let s = server(b).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "erin@example.com").await;
    let body = configure(&s, json!({})).await;
    assert_eq!(
        body["adaptive"],
        json!({ "enabled": false, "mfa_score": 40, "deny_score": 90 })
    );
    signin_with_totp(&s, "erin@example.com", &fid, &secret, BERLIN).await;
    s.clock.advance_secs(600);
    let (status, body) = signin_from(&s, "erin@example.com", PASSWORD, SYDNEY).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    assert_eq!(last_signin(&s).await, pair("success", "mfa_challenge"));
    s.signup("frank@example.com").await;
    for ip in [BERLIN, PARIS, SYDNEY] {
        let (status, _) = signin_from(&s, "frank@example.com", PASSWORD, ip).await;
        assert_eq!(status, 200);
        assert_eq!(last_signin(&s).await, pair("success", "complete"));
    }
    // Turned on now, Frank has no history yet: his next sign-in is the baseline.
    configure(&s, json!({ "enabled": true })).await;
    let (status, _) = signin_from(&s, "frank@example.com", PASSWORD, SYDNEY).await;
    assert_eq!(status, 200);
    assert_eq!(
        last_signin(&s).await,
        pair("success", "complete risk=0 reasons=no_history")
    );
}

/// Wrong passwords and wrong second factors on the account, and a burst of sign-ins.
async fn failures_and_velocity_raise_the_score(b: Backend) {
    let s = server(b).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "gina@example.com").await;
    configure(&s, json!({ "enabled": true })).await;
    signin_with_totp(&s, "gina@example.com", &fid, &secret, BERLIN).await;
    s.clock.advance_secs(DAY);
    // A wrong second factor, then two wrong passwords: three failures.
    let (_, ch) = signin_from(&s, "gina@example.com", PASSWORD, BERLIN).await;
    let (status, _) = verify(&s, &ch, &fid, "000000").await;
    assert_eq!(status, 401);
    for _ in 0..2 {
        let (status, _) = signin_from(&s, "gina@example.com", "wrong password", PARIS).await;
        assert_eq!(status, 401);
    }
    let (status, _) = signin_from(&s, "gina@example.com", PASSWORD, BERLIN).await;
    assert_eq!(status, 401);
    assert_eq!(
        last_signin(&s).await,
        pair(
            "success",
            "mfa_challenge risk=25 reasons=new_device,recent_failures"
        )
    );
    // The right password forgets the wrong ones (NIST SP 800-63B §5.2.2); an hour on, the
    // second factor's is forgotten too. Then five sign-ins in ten minutes.
    s.clock.advance_secs(3600);
    for _ in 0..5 {
        let (status, _) = signin_from(&s, "gina@example.com", PASSWORD, BERLIN).await;
        assert_eq!(status, 401);
    }
    let (status, _) = signin_from(&s, "gina@example.com", PASSWORD, BERLIN).await;
    assert_eq!(status, 401);
    assert_eq!(
        last_signin(&s).await,
        pair("success", "mfa_challenge risk=30 reasons=new_device,velocity")
    );
    // Unknown emails are not anyone's history.
    let (status, _) = signin_from(&s, "nobody@example.com", PASSWORD, PARIS).await;
    assert_eq!(status, 401);
}

/// The hosted pages sign in through the same use case: a refusal is the sign-in page
/// again, 403, with one message whatever the reason.
async fn a_refusal_on_the_pages_is_a_page(b: Backend) {
    let s = server(b).await;
    s.signup("hana@example.com").await;
    configure(&s, json!({ "enabled": true, "mfa_score": 20, "deny_score": 30 })).await;
    let (status, _) = signin_from(&s, "hana@example.com", PASSWORD, BERLIN).await;
    assert_eq!(status, 200);
    s.clock.advance_secs(DAY);
    // The browser comes straight to the server (127.0.0.1: a new network, no country).
    let mut br = Browser::new(&s);
    let p = br.login("hana@example.com", PASSWORD).await;
    assert_eq!(p.status, 403, "{}", p.body);
    p.is_html();
    assert!(p.body.contains("This sign-in was refused"), "{}", p.body);
    assert!(!p.body.contains("new_network"), "{}", p.body);
    assert_eq!(
        last_signin(&s).await,
        pair("refused", "risk_denied risk=30 reasons=new_device,new_network")
    );
}

/// `adaptive` in `PATCH /v1/admin/config`: every problem named; GeoIP refused at start when
/// the file is not a database.
async fn settings_are_validated(b: Backend) {
    let s = server(b).await;
    let (status, body) = send(s.admin(s.patch("/v1/admin/config")).json(&json!({
        "adaptive": { "enabled": true, "mfa_score": 0, "deny_score": 101 }
    })))
    .await;
    assert_eq!((status, error_code(&body)), (400, "invalid_settings"), "{body}");
    let text = body.to_string();
    assert!(
        text.contains("adaptive.mfa_score") && text.contains("adaptive.deny_score"),
        "{body}"
    );
    let (status, body) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "adaptive": { "mfa_score": 50, "deny_score": 50 } })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "adaptive": { "threshold": 50 } })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, body) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(body["adaptive"]["enabled"], false, "nothing was saved");

    // A file that is not a MaxMind database stops the server at start, naming the setting.
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.mmdb");
    std::fs::write(&bogus, b"not a database").unwrap();
    for path in [bogus, dir.path().join("missing.mmdb")] {
        let mut config = test_config(dir.path(), Backend::Sqlite);
        config.geoip_database = Some(path.clone());
        let err = App::start(config, AppOptions::default()).await.err().unwrap();
        let msg = err.to_string();
        assert!(
            msg.contains("geoip_database") && msg.contains(&path.display().to_string()),
            "{msg}"
        );
    }
}

/// A remembered device is a known device (no `new_device` points), and it stands in for the
/// second factor at an ordinary sign-in; at a sign-in risky enough to need a second factor it
/// stands in for nothing.
async fn a_remembered_device_is_known_and_never_skips_a_risky_second_factor(b: Backend) {
    let s = server(b).await;
    configure(
        &s,
        json!({ "enabled": true, "mfa_score": 25, "deny_score": null }),
    )
    .await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "alice@example.com").await;
    signin_with_totp(&s, "alice@example.com", &fid, &secret, BERLIN).await;
    // Remember this device from Berlin.
    let (status, ch) = signin_from(&s, "alice@example.com", PASSWORD, BERLIN).await;
    assert_eq!((status, error_code(&ch)), (401, "mfa_required"), "{ch}");
    s.clock.advance_secs(30);
    let (status, v) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["error"]["challenge_id"], "factor_id": fid, "code": code(&s, &secret, 0), "remember_device": true }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let device = v["device_token"].as_str().unwrap().to_owned();
    let with_device = |ip: &'static str| {
        s.clock.advance_secs(1);
        send(
            s.post("/v1/auth/signin")
                .header("x-forwarded-for", ip)
                .json(&json!({ "email": "alice@example.com", "password": PASSWORD, "device_token": device })),
        )
    };
    // From Berlin with the device: known, nothing risky, signed in without a code.
    let (status, body) = with_device(BERLIN).await;
    assert_eq!(status, 200, "{body}");
    let (outcome, detail) = last_signin(&s).await;
    assert_eq!(outcome, "success");
    assert!(detail.starts_with("remembered_device dev_"), "{detail}");
    assert!(!detail.contains("new_device"), "{detail}");
    // From Paris the next day (a new network and country: 50 points): the device does not
    // stand in; the second factor is asked for.
    s.clock.advance_secs(DAY);
    let (status, body) = with_device(PARIS).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    let (_, detail) = last_signin(&s).await;
    assert!(detail.starts_with("mfa_challenge"), "{detail}");
    assert!(
        detail.contains("new_country") && !detail.contains("new_device"),
        "{detail}"
    );
    s.stop().await;
}
