//! The OpenID Connect provider as a relying party meets it over HTTP: discovery, the
//! authorization endpoint with its sign-in screens, the token endpoint's grants, userinfo,
//! revocation and RP-initiated logout; and the refusals the issue's Security section lists
//! (exact redirect URIs, no open redirects, PKCE required and never downgraded, codes bound
//! and single use, forgery checks). The same flow driven by a certified relying-party
//! library in Chromium is `tests/browser/oidc.mjs`.

use crate::both_stores;
use crate::helpers::*;
use crate::mfa::code;
use crate::pages::{Browser, Page, SESSION};
use base64::Engine as _;
use latchkey_core::clock::Clock;
use serde_json::{json, Value};
use sha2::Digest;

both_stores!(
    discovery_describes_the_provider,
    code_flow_with_pkce_signs_in_and_gets_tokens,
    a_second_factor_is_asked_and_reported,
    requests_that_cannot_be_trusted_get_a_page_not_a_redirect,
    errors_go_back_to_the_application_with_state_and_iss,
    pkce_is_required_and_never_downgraded,
    codes_are_bound_single_use_and_short_lived,
    prompt_none_and_prompt_login_and_max_age,
    acr_values_asks_for_a_second_factor,
    refresh_rotates_and_is_bound_to_its_client,
    client_credentials_and_client_authentication,
    revocation_ends_the_application_session,
    logout_goes_back_only_to_registered_uris,
    form_post_answers_with_a_form_to_the_application,
    cancelling_tells_the_application,
    the_tenant_policy_holds_through_authorize,
    a_code_whose_sign_in_or_application_has_ended_issues_nothing,
    email_and_backup_codes_as_the_second_factor,
    every_sign_in_screen_names_the_application_and_can_cancel,
);

/// The test server's public URL, and so its issuer.
pub(crate) const ISSUER: &str = "https://id.test";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub(crate) const POST_LOGOUT: &str = "http://127.0.0.1:9/signed-out";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Registers an application through the admin API; its id and secret (if confidential).
async fn register(s: &TestServer, body: Value) -> (String, Option<String>) {
    let (status, app) = send(s.admin(s.post("/v1/admin/applications")).json(&body)).await;
    assert_eq!(status, 201, "{app}");
    (
        app["client_id"].as_str().unwrap().to_owned(),
        app["client_secret"].as_str().map(str::to_owned),
    )
}

async fn public_app(s: &TestServer) -> String {
    register(
        s,
        json!({
            "name": "Acme SPA",
            "type": "public",
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": [POST_LOGOUT],
            "grant_types": ["authorization_code", "refresh_token"],
        }),
    )
    .await
    .0
}

async fn confidential_app(s: &TestServer) -> (String, String) {
    let (id, secret) = register(
        s,
        json!({
            "name": "Acme Server",
            "type": "confidential",
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": [POST_LOGOUT],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "scopes": ["read:reports"],
        }),
    )
    .await;
    (id, secret.expect("a confidential client gets its secret once"))
}

/// An authorization request's path for `client`, with `extra` parameters.
pub(crate) fn authorize(client: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email offline_access"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    format!("/authorize?{}", serde_urlencoded::to_string(&params).unwrap())
}

/// The query parameters of a redirect to the application.
pub(crate) fn reply(p: &Page) -> Vec<(String, String)> {
    let loc = p.location();
    assert!(loc.starts_with(REDIRECT), "{} {loc} {}", p.status, p.body);
    serde_urlencoded::from_str(loc.split_once('?').unwrap().1).unwrap()
}

pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Follows the browser through `/login` and back to the application: the code.
async fn sign_in_for_code(br: &mut Browser<'_>, path: &str, email: &str) -> String {
    let p = br.get(path).await;
    assert_eq!((p.status, p.location()), (303, "/login"), "{}", p.body);
    let p = br.login(email, PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/continue"), "{}", p.body);
    let p = br.get("/login/continue").await;
    let pairs = reply(&p);
    assert_eq!(param(&pairs, "state"), Some("st-123"));
    param(&pairs, "code").expect("a code").to_owned()
}

async fn token(s: &TestServer, form: &[(&str, &str)]) -> (u16, Value) {
    send(s.post("/oauth/token").form(form)).await
}

async fn exchange(s: &TestServer, client: &str, code: &str) -> (u16, Value) {
    token(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn userinfo(s: &TestServer, access: &str) -> (u16, Value) {
    send(s.get("/userinfo").bearer_auth(access)).await
}

async fn discovery_describes_the_provider(b: Backend) {
    let s = spawn(b).await;
    let (status, d) = send(s.get("/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    let iss = d["issuer"].as_str().unwrap();
    assert_eq!(iss, ISSUER, "the public URL");
    assert_eq!(d["authorization_endpoint"], format!("{iss}/authorize"));
    assert_eq!(d["token_endpoint"], format!("{iss}/oauth/token"));
    assert_eq!(d["end_session_endpoint"], format!("{iss}/logout"));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert!(d["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("RS256")));
    let (_, rfc8414) = send(s.get("/.well-known/oauth-authorization-server")).await;
    assert_eq!(rfc8414, d);
    // The keys it points to include an RS256 key for ID tokens.
    let (_, jwks) = send(s.get("/.well-known/jwks.json")).await;
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kty"] == "RSA" && k["alg"] == "RS256"));
    // Single-page applications read it from their own origin.
    let r = s
        .get("/.well-known/openid-configuration")
        .header("origin", "https://spa.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
}

async fn code_flow_with_pkce_signs_in_and_gets_tokens(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    let user = s.signup("alice@example.com").await;
    let mut br = Browser::new(&s);
    let code = sign_in_for_code(&mut br, &authorize(&client, &[]), "alice@example.com").await;
    let (status, t) = exchange(&s, &client, &code).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid email offline_access");
    assert!(t["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let access = t["access_token"].as_str().unwrap();
    let id = claims(t["id_token"].as_str().unwrap());
    let head: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t["id_token"].as_str().unwrap().split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(head["alg"], "RS256");
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["aud"], client.as_str());
    assert_eq!(id["sub"], user["user"]["id"]);
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["acr"], "aal1");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["email"], "alice@example.com");
    assert!(id["auth_time"].is_i64() && id["sid"].is_string());
    // at_hash: the left half of SHA-256 of the access token (OIDC Core §3.1.3.6).
    let digest = sha2::Sha256::digest(access.as_bytes());
    assert_eq!(
        id["at_hash"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    );
    // The access token names the application (RFC 9068) and opens userinfo.
    let at = claims(access);
    assert_eq!(
        (at["client_id"].as_str(), at["aud"].as_str()),
        (Some(client.as_str()), Some(client.as_str()))
    );
    let (status, info) = userinfo(&s, access).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["email"], "alice@example.com");
    assert!(info.get("phone_number").is_none(), "phone was not asked for");
    // A /v1 access token has no openid scope: userinfo refuses it.
    let (_, api) = s.signin("alice@example.com", PASSWORD).await;
    let (status, body) = userinfo(&s, api["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let (status, _) = userinfo(&s, "not-a-token").await;
    assert_eq!(status, 401);
}

async fn a_second_factor_is_asked_and_reported(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    let secret = crate::pages::user_with_totp(&s, "bob@example.com").await;
    let mut br = Browser::new(&s);
    assert_eq!(br.get(&authorize(&client, &[])).await.location(), "/login");
    let p = br.login("bob@example.com", PASSWORD).await;
    assert_eq!(p.location(), "/login/mfa");
    let form = br.get("/login/mfa").await;
    let factor = form.field("factor_id");
    let p = br
        .post(
            "/login/mfa/verify",
            &[
                ("csrf", &form.csrf()),
                ("factor_id", &factor),
                ("code", &code(&s, &secret, 0)),
            ],
        )
        .await;
    assert_eq!(p.location(), "/login/continue", "{}", p.body);
    let pairs = reply(&br.get("/login/continue").await);
    let (status, t) = exchange(&s, &client, param(&pairs, "code").unwrap()).await;
    assert_eq!(status, 200, "{t}");
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "aal2");
    assert!(id["amr"].as_array().unwrap().contains(&json!("otp")));
}

async fn requests_that_cannot_be_trusted_get_a_page_not_a_redirect(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    let mut br = Browser::new(&s);
    for path in [
        authorize("app_01HZZZZZZZZZZZZZZZZZZZZZZZ", &[]),
        authorize("not-an-id", &[]),
        authorize(&client, &[("client_id", "")]),
        authorize(&client, &[("redirect_uri", "http://127.0.0.1:9/callback/")]),
        authorize(&client, &[("redirect_uri", "http://127.0.0.1:9/callback?x=1")]),
        authorize(&client, &[("redirect_uri", "https://evil.example/callback")]),
        authorize(&client, &[("redirect_uri", "")]),
        // A parameter twice: which would count is unclear.
        format!(
            "{}&redirect_uri=https%3A%2F%2Fevil.example%2F",
            authorize(&client, &[])
        ),
    ] {
        let p = br.get(&path).await;
        assert_eq!(p.status, 400, "{path}");
        assert_eq!(p.location(), "", "{path}: never redirected");
        p.is_html();
        assert!(p.body.contains("This sign-in link does not work"), "{path}");
    }
}

async fn errors_go_back_to_the_application_with_state_and_iss(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    let mut br = Browser::new(&s);
    let iss = ISSUER.to_owned();
    for (extra, error) in [
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("response_type", "")], "invalid_request"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("scope", "email")], "invalid_scope"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("max_age", "soon")], "invalid_request"),
        (vec![("request", "eyJ")], "request_not_supported"),
        (
            vec![("request_uri", "https://x.example/r")],
            "request_uri_not_supported",
        ),
        (vec![("response_mode", "fragment")], "invalid_request"),
    ] {
        let p = br.get(&authorize(&client, &extra)).await;
        assert_eq!(p.status, 303, "{extra:?}");
        let pairs = reply(&p);
        assert_eq!(param(&pairs, "error"), Some(error), "{extra:?}");
        assert_eq!(param(&pairs, "state"), Some("st-123"), "{extra:?}");
        assert_eq!(param(&pairs, "iss"), Some(iss.as_str()), "{extra:?}");
    }
}

async fn pkce_is_required_and_never_downgraded(b: Backend) {
    let s = spawn(b).await;
    let public = public_app(&s).await;
    let (conf, secret) = confidential_app(&s).await;
    s.signup("carol@example.com").await;
    let mut br = Browser::new(&s);
    // A public client must use PKCE, and S256.
    for extra in [
        vec![("code_challenge", ""), ("code_challenge_method", "")],
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge_method", "")],
        vec![("code_challenge", "too-short"), ("code_challenge_method", "S256")],
    ] {
        let pairs = reply(&br.get(&authorize(&public, &extra)).await);
        assert_eq!(param(&pairs, "error"), Some("invalid_request"), "{extra:?}");
    }
    // A wrong verifier, or none, spends the code.
    let code = sign_in_for_code(&mut br, &authorize(&public, &[]), "carol@example.com").await;
    let (status, e) = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &public),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let (status, e) = exchange(&s, &public, &code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "spent"
    );
    let code = br.get(&authorize(&public, &[])).await;
    let code = param(&reply(&code), "code").unwrap().to_owned();
    let (status, _) = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &public),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"x".repeat(43)),
        ],
    )
    .await;
    assert_eq!(status, 400);
    // A confidential client may go without PKCE; but a verifier for a code issued
    // without a challenge is a downgrade and is refused.
    let path = authorize(&conf, &[("code_challenge", ""), ("code_challenge_method", "")]);
    let code = param(&reply(&br.get(&path).await), "code").unwrap().to_owned();
    let (status, e) = send(s.post("/oauth/token").basic_auth(&conf, Some(&secret)).form(&[
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]))
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let code = param(&reply(&br.get(&path).await), "code").unwrap().to_owned();
    let (status, t) = send(s.post("/oauth/token").basic_auth(&conf, Some(&secret)).form(&[
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ]))
    .await;
    assert_eq!(status, 200, "{t}");
}

async fn codes_are_bound_single_use_and_short_lived(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    let other = public_app(&s).await;
    s.signup("dave@example.com").await;
    let mut br = Browser::new(&s);
    let code = sign_in_for_code(&mut br, &authorize(&client, &[]), "dave@example.com").await;
    // Another client cannot redeem it (and spends it trying).
    let (status, e) = exchange(&s, &other, &code).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let (status, _) = exchange(&s, &client, &code).await;
    assert_eq!(status, 400);

    // Redeemed once; the second redemption revokes what the first issued.
    let code = param(&reply(&br.get(&authorize(&client, &[])).await), "code")
        .unwrap()
        .to_owned();
    let (status, first) = exchange(&s, &client, &code).await;
    assert_eq!(status, 200);
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&s, access).await.0, 200);
    let (status, e) = exchange(&s, &client, &code).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(
        userinfo(&s, access).await.0,
        401,
        "the first redemption's tokens are revoked"
    );
    // The replays are in the audit log, refused, naming the client: this one, and the
    // spent code tried again above.
    let (_, list) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    let replays: Vec<&Value> = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "authorization.code_replayed")
        .collect();
    assert_eq!(replays.len(), 2, "{list}");
    assert_eq!(replays[0]["outcome"], "refused");
    assert_eq!(replays[0]["detail"], format!("client:{client}"));
    let (status, _) = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 400);

    // A wrong redirect URI spends it.
    let code = param(&reply(&br.get(&authorize(&client, &[])).await), "code")
        .unwrap()
        .to_owned();
    let (status, _) = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(exchange(&s, &client, &code).await.0, 400);

    // 60 seconds, no more.
    let code = param(&reply(&br.get(&authorize(&client, &[])).await), "code")
        .unwrap()
        .to_owned();
    s.clock.advance_secs(60);
    let (status, e) = exchange(&s, &client, &code).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let (status, e) = exchange(&s, &client, "ac_made_up").await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

async fn prompt_none_and_prompt_login_and_max_age(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    s.signup("erin@example.com").await;
    let mut br = Browser::new(&s);
    // Not signed in: prompt=none answers login_required at once.
    let pairs = reply(&br.get(&authorize(&client, &[("prompt", "none")])).await);
    assert_eq!(param(&pairs, "error"), Some("login_required"));
    assert_eq!(param(&pairs, "state"), Some("st-123"));
    let first = sign_in_for_code(&mut br, &authorize(&client, &[]), "erin@example.com").await;
    let (_, t) = exchange(&s, &client, &first).await;
    let auth_time = claims(t["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    // Signed in: prompt=none gets a code without a page.
    let pairs = reply(&br.get(&authorize(&client, &[("prompt", "none")])).await);
    assert!(param(&pairs, "code").is_some());

    // prompt=login shows the form to someone signed in, and the new sign-in replaces
    // the old session.
    s.clock.advance_secs(5);
    let old = br.cookie(SESSION).map(str::to_owned);
    let p = br.get(&authorize(&client, &[("prompt", "login")])).await;
    assert_eq!(p.location(), "/login");
    let form = br.get("/login").await;
    assert!(form.body.contains("name=\"password\""), "{}", form.body);
    let code = sign_in_again(&mut br, &form).await;
    let (_, t) = exchange(&s, &client, &code).await;
    let again = claims(t["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    assert!(again > auth_time, "a new sign-in: {again} > {auth_time}");
    let mut stale = Browser::new(&s);
    stale.set_cookie(SESSION, old);
    assert_eq!(
        stale.get("/account/security").await.location(),
        "/login",
        "the old session ended"
    );

    // max_age: a sign-in older than that must happen again; prompt=none then fails.
    s.clock.advance_secs(120);
    let pairs = reply(
        &br.get(&authorize(&client, &[("max_age", "60"), ("prompt", "none")]))
            .await,
    );
    assert_eq!(param(&pairs, "error"), Some("login_required"));
    let p = br.get(&authorize(&client, &[("max_age", "60")])).await;
    assert_eq!(p.location(), "/login");
    let form = br.get("/login").await;
    let code = sign_in_again(&mut br, &form).await;
    let (_, t) = exchange(&s, &client, &code).await;
    let id = claims(t["id_token"].as_str().unwrap());
    assert!(id["auth_time"].as_i64().unwrap() * 1000 >= s.clock.now_ms() - 1000);
    // Within max_age, no page.
    let pairs = reply(&br.get(&authorize(&client, &[("max_age", "600")])).await);
    assert!(param(&pairs, "code").is_some());
}

/// Submits the sign-in form shown to someone already signed in; follows to the code.
async fn sign_in_again(br: &mut Browser<'_>, form: &Page) -> String {
    let p = br
        .post(
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("email", "erin@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.location(), "/login/continue", "{}", p.body);
    let pairs = reply(&br.get("/login/continue").await);
    param(&pairs, "code").expect("code").to_owned()
}

async fn acr_values_asks_for_a_second_factor(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    s.signup("fay@example.com").await;
    let mut br = Browser::new(&s);
    // A user without a factor is led to enroll one when the application asks for aal2.
    let p = br.get(&authorize(&client, &[("acr_values", "aal2")])).await;
    assert_eq!(p.location(), "/login");
    let p = br.login("fay@example.com", PASSWORD).await;
    assert_eq!(p.location(), "/login/enroll", "{}", p.body);
    let page = br.get("/login/enroll").await;
    let p = br.post("/login/enroll", &[("csrf", &page.csrf())]).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let secret = p.totp_secret();
    let p = br
        .post(
            "/login/enroll/confirm",
            &[
                ("csrf", &p.csrf()),
                ("factor_id", &p.field("factor_id")),
                ("code", &code(&s, &secret, 0)),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "the backup codes, once: {}", p.body);
    assert!(p.body.contains("/login/continue"));
    // They can be saved as a file, made from the page itself.
    let at = p
        .body
        .find(r#"href="data:text/plain;charset=utf-8,"#)
        .expect("a download link");
    let href = p.body[at + 6..].split('"').next().unwrap();
    assert!(p.body[at..].contains(r#"download="backup-codes.txt""#));
    let file: String = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!(
        "f={}",
        href.trim_start_matches("data:text/plain;charset=utf-8,")
    ))
    .unwrap()[0]
        .1
        .clone();
    let shown: Vec<&str> = p
        .body
        .split("<li><code>")
        .skip(1)
        .map(|c| c.split('<').next().unwrap())
        .collect();
    assert_eq!(shown.len(), 10, "{}", p.body);
    assert!(shown.iter().all(|c| file.lines().any(|l| l == *c)), "{file}");
    let pairs = reply(&br.get("/login/continue").await);
    let (_, t) = exchange(&s, &client, param(&pairs, "code").unwrap()).await;
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "aal2");

    // Already at aal2: no further page. Asking for more than the user can give
    // (phishing resistant, without a passkey) asks once, then reports what was reached.
    let pairs = reply(&br.get(&authorize(&client, &[("acr_values", "aal2")])).await);
    assert!(param(&pairs, "code").is_some());
}

async fn refresh_rotates_and_is_bound_to_its_client(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    let other = public_app(&s).await;
    s.signup("gus@example.com").await;
    let mut br = Browser::new(&s);
    let code = sign_in_for_code(&mut br, &authorize(&client, &[]), "gus@example.com").await;
    let (_, t) = exchange(&s, &client, &code).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |client: String, rt: String, scope: Option<&'static str>| {
        let s = &s;
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("client_id", client),
                ("refresh_token", rt),
            ];
            if let Some(sc) = scope {
                form.push(("scope", sc.to_owned()));
            }
            send(s.post("/oauth/token").form(&form)).await
        }
    };
    let (status, t2) = refresh(client.clone(), rt.clone(), Some("openid")).await;
    assert_eq!(status, 200, "{t2}");
    assert_eq!(t2["scope"], "openid");
    let id = claims(t2["id_token"].as_str().unwrap());
    assert!(id.get("nonce").is_none());
    let rt2 = t2["refresh_token"].as_str().map(str::to_owned);
    // Widening is refused.
    let (status, e) = refresh(
        client.clone(),
        t["refresh_token"].as_str().unwrap().into(),
        Some("openid phone"),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    // Reuse of the first token ends the family.
    let (status, _) = refresh(client.clone(), rt.clone(), None).await;
    assert_eq!(status, 400);
    if let Some(rt2) = rt2 {
        assert_eq!(refresh(client.clone(), rt2, None).await.0, 400);
    }
    // Another client's refresh token ends its session; the native API refuses it too.
    let code = param(&reply(&br.get(&authorize(&client, &[])).await), "code")
        .unwrap()
        .to_owned();
    let (_, t) = exchange(&s, &client, &code).await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let (status, e) = refresh(other.clone(), rt.clone(), None).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(userinfo(&s, t["access_token"].as_str().unwrap()).await.0, 401);
    let code = param(&reply(&br.get(&authorize(&client, &[])).await), "code")
        .unwrap()
        .to_owned();
    let (_, t) = exchange(&s, &client, &code).await;
    let (status, _) = s
        .post_json("/v1/auth/refresh", json!({"refresh_token": t["refresh_token"]}))
        .await;
    assert_eq!(status, 401);
    // Without offline_access there is no refresh token.
    let path = authorize(&client, &[("scope", "openid")]);
    let code = param(&reply(&br.get(&path).await), "code").unwrap().to_owned();
    let (_, t) = exchange(&s, &client, &code).await;
    assert!(t.get("refresh_token").is_none(), "{t}");
}

async fn client_credentials_and_client_authentication(b: Backend) {
    let s = spawn(b).await;
    let (conf, secret) = confidential_app(&s).await;
    let public = public_app(&s).await;
    let cc = [("grant_type", "client_credentials")];
    // HTTP Basic and the body both work.
    let (status, t) = send(s.post("/oauth/token").basic_auth(&conf, Some(&secret)).form(&cc)).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["scope"], "read:reports");
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    let at = claims(t["access_token"].as_str().unwrap());
    assert_eq!(
        (at["sub"].as_str(), at["client_id"].as_str()),
        (Some(conf.as_str()), Some(conf.as_str()))
    );
    assert!(at.get("sid").is_none());
    let (status, _) = send(s.post("/oauth/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", conf.as_str()),
        ("client_secret", secret.as_str()),
    ]))
    .await;
    assert_eq!(status, 200);
    // It is no user's token.
    let (status, _) = send(
        s.get("/v1/users/me")
            .bearer_auth(t["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(userinfo(&s, t["access_token"].as_str().unwrap()).await.0, 401);
    // A scope it was not given.
    let (status, e) = send(
        s.post("/oauth/token")
            .basic_auth(&conf, Some(&secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "delete:users")]),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")));
    // Wrong secret: 401 with a Basic challenge.
    let r = s
        .post("/oauth/token")
        .basic_auth(&conf, Some("cs_wrong"))
        .form(&cc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "invalid_client");
    // Two methods at once; a public client; a grant it does not have; no grant at all.
    let (status, e) = send(s.post("/oauth/token").basic_auth(&conf, Some(&secret)).form(&[
        ("grant_type", "client_credentials"),
        ("client_secret", secret.as_str()),
    ]))
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_request")));
    let (status, e) = token(
        &s,
        &[("grant_type", "client_credentials"), ("client_id", &public)],
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{e}"
    );
    // A public client's id is public: wrong secrets sent for it, however many, lock nobody
    // out (it has no secret to guess).
    for _ in 0..15 {
        let (status, e) = token(
            &s,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &public),
                ("client_secret", "x"),
            ],
        )
        .await;
        assert_eq!(
            (status, e["error"].as_str()),
            (401, Some("invalid_client")),
            "{e}"
        );
    }
    let (status, e) = token(
        &s,
        &[("grant_type", "client_credentials"), ("client_id", &public)],
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("unauthorized_client")),
        "still heard: {e}"
    );
    let (status, e) = token(&s, &[("grant_type", "implicit"), ("client_id", &public)]).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    // The password grant exists, but only for applications registered with it.
    let (status, e) = token(&s, &[("grant_type", "password"), ("client_id", &public)]).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("unauthorized_client")));
    let (status, e) = token(&s, &[("client_id", &public)]).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_request")));
    // Form-encoded or a JSON object of strings (as Auth0's clients send); each parameter once.
    let (status, e) = send(
        s.post("/oauth/token")
            .json(&json!({"grant_type": "client_credentials"})),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (401, Some("invalid_client")));
    for (ct, body) in [
        (
            "application/json",
            r#"{"grant_type":"client_credentials","grant_type":"password"}"#,
        ),
        ("application/json", r#"{"grant_type":["client_credentials"]}"#),
        ("application/json", r#"["grant_type"]"#),
        ("text/plain", "grant_type=client_credentials"),
    ] {
        let (status, e) = send(s.post("/oauth/token").header("content-type", ct).body(body)).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("invalid_request")),
            "{body}"
        );
    }
    let (status, _) = send(
        s.post("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&grant_type=client_credentials"),
    )
    .await;
    assert_eq!(status, 400);
    // Answers are never cached.
    let r = s.post("/oauth/token").form(&cc).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
}

async fn revocation_ends_the_application_session(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    let other = public_app(&s).await;
    s.signup("hal@example.com").await;
    let mut br = Browser::new(&s);
    let code = sign_in_for_code(&mut br, &authorize(&client, &[]), "hal@example.com").await;
    let (_, t) = exchange(&s, &client, &code).await;
    let (access, rt) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    // Another client's attempt is ignored, with the same answer.
    let r = s
        .post("/oauth/revoke")
        .form(&[("client_id", other.as_str()), ("token", rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(userinfo(&s, access).await.0, 200);
    let r = s
        .post("/oauth/revoke")
        .form(&[
            ("client_id", client.as_str()),
            ("token", rt),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(userinfo(&s, access).await.0, 401);
    // The browser's own session goes on: the next request gets a code at once.
    let pairs = reply(&br.get(&authorize(&client, &[])).await);
    let (_, t) = exchange(&s, &client, param(&pairs, "code").unwrap()).await;
    // An access token revokes its session too; unknown tokens answer the same.
    let access = t["access_token"].as_str().unwrap();
    let r = s
        .post("/oauth/revoke")
        .form(&[("client_id", client.as_str()), ("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(userinfo(&s, access).await.0, 401);
    let r = s
        .post("/oauth/revoke")
        .form(&[("client_id", client.as_str()), ("token", "rt_nothing")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, e) = send(s.post("/oauth/revoke").form(&[("client_id", client.as_str())])).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_request")));
}

async fn logout_goes_back_only_to_registered_uris(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    s.signup("ivy@example.com").await;
    let mut br = Browser::new(&s);
    let code = sign_in_for_code(&mut br, &authorize(&client, &[]), "ivy@example.com").await;
    let (_, t) = exchange(&s, &client, &code).await;
    let (access, id_token) = (
        t["access_token"].as_str().unwrap().to_owned(),
        t["id_token"].as_str().unwrap().to_owned(),
    );
    // Unregistered or look-alike post-logout URIs are never followed.
    for uri in [
        "https://evil.example/",
        "http://127.0.0.1:9/signed-out/",
        "http://127.0.0.1:9/callback",
    ] {
        let q = serde_urlencoded::to_string([
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", uri),
            ("state", "bye"),
        ])
        .unwrap();
        let page = br.get(&format!("/logout?{q}")).await;
        assert_eq!(page.status, 200);
        assert!(
            !page.body.contains("evil.example") || uri.contains("evil"),
            "{uri}"
        );
        // Nothing happens on a GET: the session still works.
        assert_eq!(userinfo(&s, &access).await.0, 200);
    }
    // A forged form (no token) is refused.
    let p = br
        .post(
            "/logout",
            &[
                ("id_token_hint", id_token.as_str()),
                ("post_logout_redirect_uri", POST_LOGOUT),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    // The registered one, confirmed on the page: signed out everywhere it signed in.
    let q = serde_urlencoded::to_string([
        ("id_token_hint", id_token.as_str()),
        ("post_logout_redirect_uri", POST_LOGOUT),
        ("state", "bye"),
    ])
    .unwrap();
    let page = br.get(&format!("/logout?{q}")).await;
    page.is_html();
    assert!(page.body.contains("Acme SPA"), "{}", page.body);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self' http://127.0.0.1:9;"), "{csp}");
    let p = br
        .post(
            "/logout",
            &[
                ("csrf", &page.csrf()),
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", POST_LOGOUT),
                ("state", "bye"),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "http://127.0.0.1:9/signed-out?state=bye")
    );
    assert_eq!(
        userinfo(&s, &access).await.0,
        401,
        "the application's session ended"
    );
    assert_eq!(br.get("/account/security").await.location(), "/login");
    // A registered URI with a hint for another application is not followed either.
    let mut br = Browser::new(&s);
    let page = br
        .get("/logout?post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fsigned-out")
        .await;
    let p = br
        .post(
            "/logout",
            &[("csrf", &page.csrf()), ("post_logout_redirect_uri", POST_LOGOUT)],
        )
        .await;
    assert_eq!(
        p.location(),
        "/login?notice=signed_out",
        "no client named: no redirect"
    );
}

async fn form_post_answers_with_a_form_to_the_application(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    s.signup("jo@example.com").await;
    let mut br = Browser::new(&s);
    sign_in_for_code(&mut br, &authorize(&client, &[]), "jo@example.com").await;
    let p = br
        .get(&authorize(&client, &[("response_mode", "form_post")]))
        .await;
    assert_eq!(p.status, 200);
    p.is_html();
    assert!(
        p.body.contains("action=\"http://127.0.0.1:9/callback\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("name=\"code\""));
    assert!(p.body.contains("name=\"state\" value=\"st-123\""));
    let csp = p.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self' http://127.0.0.1:9;"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("'unsafe-inline'"));
}

async fn cancelling_tells_the_application(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    let mut br = Browser::new(&s);
    assert_eq!(br.get(&authorize(&client, &[])).await.location(), "/login");
    let login = br.get("/login").await;
    assert!(login.body.contains("Acme SPA"), "the page says who is asking");
    // Its forms may lead (through redirects) back to the application, and nowhere else.
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self' http://127.0.0.1:9;"), "{csp}");
    // Without the form's token, nothing.
    assert_eq!(br.post("/authorize/cancel", &[]).await.status, 403);
    let p = br.post("/authorize/cancel", &[("csrf", &login.csrf())]).await;
    let pairs = reply(&p);
    assert_eq!(param(&pairs, "error"), Some("access_denied"));
    assert_eq!(param(&pairs, "state"), Some("st-123"));
    // The request is gone: continuing leads to the account page.
    assert_eq!(br.get("/login/continue").await.location(), "/account/security");
}

async fn the_tenant_policy_holds_through_authorize(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    s.signup("kim@example.com").await;
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": true, "mfa_allowed_factors": ["totp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200);
    let mut br = Browser::new(&s);
    assert_eq!(br.get(&authorize(&client, &[])).await.location(), "/login");
    // The password alone leads to enrollment, never to the application.
    let p = br.login("kim@example.com", PASSWORD).await;
    assert_eq!(p.location(), "/login/enroll", "{}", p.body);
    assert_eq!(
        br.get("/login/continue").await.location(),
        "/login",
        "no code before the second factor"
    );
    let pairs = reply(&br.get(&authorize(&client, &[("prompt", "none")])).await);
    assert_eq!(param(&pairs, "error"), Some("login_required"));
}

async fn a_code_whose_sign_in_or_application_has_ended_issues_nothing(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    s.signup("lee@example.com").await;
    let mut br = Browser::new(&s);
    let code = sign_in_for_code(&mut br, &authorize(&client, &[]), "lee@example.com").await;
    // Signed out between the redirect and the redemption: the code is worth nothing.
    let account = br.get("/account/security").await;
    assert_eq!(br.post("/logout", &[("csrf", &account.csrf())]).await.status, 303);
    let (status, e) = exchange(&s, &client, &code).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");

    // An application deleted after its code was issued cannot redeem it, and the sessions
    // it was given end with it.
    let code = sign_in_for_code(&mut br, &authorize(&client, &[]), "lee@example.com").await;
    let (_, t) = exchange(&s, &client, &code).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let code = param(&reply(&br.get(&authorize(&client, &[])).await), "code")
        .unwrap()
        .to_owned();
    let (status, _) = send(s.admin(s.http.delete(format!("{}/v1/admin/applications/{client}", s.url)))).await;
    assert_eq!(status, 204);
    let (status, e) = exchange(&s, &client, &code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (401, Some("invalid_client")),
        "{e}"
    );
    assert_eq!(userinfo(&s, &access).await.0, 401);
    // And a pending request for it has nowhere to go back to.
    let p = br.get(&authorize(&client, &[])).await;
    assert_eq!(p.status, 400);
}

async fn email_and_backup_codes_as_the_second_factor(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_allowed_factors": ["totp", "email_otp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200);
    // Unique per run: every test of this process logs to one buffer.
    let email = format!(
        "oidc-mail{}@example.com",
        std::process::id() as u64 * 10 + b as u64
    );
    let body = s.signup(&email).await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "email_otp" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let code = crate::delivery::wait_for_console_email(&s, &email, 1).await;
    let (status, confirmed) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200, "{confirmed}");
    let backup: Vec<String> = serde_json::from_value(confirmed["backup_codes"].clone()).unwrap();
    let (_, factors) = send(s.get("/v1/users/me/mfa/factors").bearer_auth(&token)).await;
    let backup_id = factors["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "backup_codes")
        .map(|f| f["factor_id"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no backup codes factor: {factors}"));

    // An email code: the application learns it is not aal2 (email is not an out-of-band
    // authenticator), even when it asked for aal2.
    let mut br = Browser::new(&s);
    assert_eq!(
        br.get(&authorize(&client, &[("acr_values", "aal2")]))
            .await
            .location(),
        "/login"
    );
    assert_eq!(br.login(&email, PASSWORD).await.location(), "/login/mfa");
    let page = br.get("/login/mfa").await;
    br.post("/login/mfa/send", &[("csrf", &page.csrf()), ("factor_id", &fid)])
        .await;
    let code = crate::delivery::wait_for_console_email(&s, &email, 2).await;
    let p = br
        .post(
            "/login/mfa/verify",
            &[("csrf", &page.csrf()), ("factor_id", &fid), ("code", &code)],
        )
        .await;
    assert_eq!(p.location(), "/login/continue", "{}", p.body);
    let pairs = reply(&br.get("/login/continue").await);
    let (_, t) = exchange(&s, &client, param(&pairs, "code").unwrap()).await;
    let id = claims(t["id_token"].as_str().unwrap());
    assert!(id["amr"].as_array().unwrap().contains(&json!("email")), "{id}");
    assert_eq!(id["acr"], "aal1", "an email code never reaches aal2");

    // A backup code.
    let mut br = Browser::new(&s);
    assert_eq!(br.get(&authorize(&client, &[])).await.location(), "/login");
    assert_eq!(br.login(&email, PASSWORD).await.location(), "/login/mfa");
    let page = br.get("/login/mfa").await;
    let p = br
        .post(
            "/login/mfa/verify",
            &[
                ("csrf", &page.csrf()),
                ("factor_id", &backup_id),
                ("code", &backup[0]),
            ],
        )
        .await;
    assert_eq!(p.location(), "/login/continue", "{}", p.body);
    let pairs = reply(&br.get("/login/continue").await);
    let (_, t) = exchange(&s, &client, param(&pairs, "code").unwrap()).await;
    let id = claims(t["id_token"].as_str().unwrap());
    assert!(
        id["amr"].as_array().unwrap().contains(&json!("backup_code")),
        "{id}"
    );
}

async fn every_sign_in_screen_names_the_application_and_can_cancel(b: Backend) {
    let s = spawn(b).await;
    let client = public_app(&s).await;
    // The second-factor step.
    crate::pages::user_with_totp(&s, "bob@example.com").await;
    let mut br = Browser::new(&s);
    br.get(&authorize(&client, &[])).await;
    assert_eq!(
        br.login("bob@example.com", PASSWORD).await.location(),
        "/login/mfa"
    );
    let mfa = br.get("/login/mfa").await;
    assert!(mfa.body.contains("continue to Acme SPA"), "{}", mfa.body);
    assert!(mfa.body.contains("action=\"/authorize/cancel\""), "{}", mfa.body);
    let pairs = reply(&br.post("/authorize/cancel", &[("csrf", &mfa.csrf())]).await);
    assert_eq!(param(&pairs, "error"), Some("access_denied"));
    assert_eq!(param(&pairs, "state"), Some("st-123"));

    // Forced enrollment (asked for by acr_values), each of its screens.
    s.signup("eve@example.com").await;
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_allowed_factors": ["totp", "sms", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200);
    let mut br = Browser::new(&s);
    br.get(&authorize(&client, &[("acr_values", "aal2")])).await;
    assert_eq!(
        br.login("eve@example.com", PASSWORD).await.location(),
        "/login/enroll"
    );
    for path in ["/login/enroll", "/u2/mfa/phone"] {
        let p = br.get(path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.body);
        assert!(p.body.contains("continue to Acme SPA"), "{path}: {}", p.body);
        assert!(
            p.body.contains("action=\"/authorize/cancel\""),
            "{path}: {}",
            p.body
        );
    }
    let enroll = br.get("/login/enroll").await;
    let p = br.post("/login/enroll", &[("csrf", &enroll.csrf())]).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.body.contains("continue to Acme SPA"),
        "the TOTP set-up: {}",
        p.body
    );
    let pairs = reply(&br.post("/authorize/cancel", &[("csrf", &p.csrf())]).await);
    assert_eq!(param(&pairs, "error"), Some("access_denied"));
    // Without an application waiting, the screens have no cancel.
    let mut br = Browser::new(&s);
    br.login("bob@example.com", PASSWORD).await;
    let mfa = br.get("/login/mfa").await;
    assert!(!mfa.body.contains("/authorize/cancel"), "{}", mfa.body);
}
