//! Issuers per tenant: a tenant with a slug is an OpenID Provider of its own under
//! `/t/{slug}` (discovery, sign-in screens, tokens, userinfo), one with a host at that
//! host's root; and nothing crosses between tenants: not an application, a token, a page
//! session, nor a sealed cookie. Also the pages' language (`ui_locales`,
//! `Accept-Language`).

use crate::both_stores;
use crate::helpers::*;
use crate::oidc::{authorize, param, reply, REDIRECT, VERIFIER};
use crate::pages::{Browser, SESSION};
use crate::recovery::{link, mail_server};
use latchkey_core::ids::TenantId;
use latchkey_server::service::ServiceError;
use serde_json::{json, Value};

both_stores!(
    a_slug_is_an_issuer_of_its_own,
    nothing_crosses_between_tenants,
    a_host_is_an_issuer_of_its_own,
    addresses_are_checked_and_unique,
    emailed_links_name_the_tenants_issuer,
    pages_speak_the_language_asked_for,
);

const ACME: &str = "https://id.test/t/acme";

/// A tenant "Acme" at `/t/acme` (and at `host`, if given), with a public application and a
/// user; its id, secret key and client id.
async fn acme(s: &TestServer, host: Option<&str>) -> (TenantId, String, String) {
    let (tenant, key) = s.app.create_tenant("Acme").await.unwrap();
    s.app
        .set_tenant_addresses(&tenant.id, Some("acme"), host)
        .await
        .unwrap();
    let key = key.expose().to_owned();
    let (status, app) = send(s.post("/v1/admin/applications").bearer_auth(&key).json(&json!({
        "name": "Acme SPA",
        "type": "public",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
    })))
    .await;
    assert_eq!(status, 201, "{app}");
    let (status, body) = send(
        s.post("/v1/auth/signup")
            .header("x-tenant-id", tenant.id.as_str())
            .json(&json!({ "email": "ann@acme.test", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (tenant.id, key, app["client_id"].as_str().unwrap().to_owned())
}

/// The session cookie's name for a tenant other than the default one.
fn session_of(tenant: &TenantId) -> String {
    format!("{SESSION}_{tenant}")
}

/// Signs in at Acme's `/t/acme` screens for a code.
async fn code_at_acme(br: &mut Browser<'_>, client: &str) -> Vec<(String, String)> {
    let p = br.get(&format!("/t/acme{}", authorize(client, &[]))).await;
    assert_eq!((p.status, p.location()), (303, "/t/acme/login"), "{}", p.body);
    let form = br.get("/t/acme/login").await;
    form.is_html();
    assert!(form.body.contains("action=\"/t/acme/login\""), "{}", form.body);
    assert!(
        form.body.contains("href=\"/t/acme/password/forgot\""),
        "{}",
        form.body
    );
    let csrf = form.csrf();
    let p = br
        .post(
            "/t/acme/login",
            &[
                ("csrf", &csrf),
                ("email", "ann@acme.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/t/acme/login/continue"),
        "{}",
        p.body
    );
    reply(&br.get("/t/acme/login/continue").await)
}

async fn exchange_at(s: &TestServer, base: &str, client: &str, code: &str) -> (u16, Value) {
    send(s.post(&format!("{base}/oauth/token")).form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]))
    .await
}

async fn a_slug_is_an_issuer_of_its_own(b: Backend) {
    let s = spawn(b).await;
    let (tenant, _, client) = acme(&s, None).await;

    let (status, d) = send(s.get("/t/acme/.well-known/openid-configuration")).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["issuer"], ACME);
    assert_eq!(d["authorization_endpoint"], format!("{ACME}/authorize"));
    assert_eq!(d["token_endpoint"], format!("{ACME}/oauth/token"));
    assert_eq!(d["userinfo_endpoint"], format!("{ACME}/userinfo"));
    assert_eq!(d["jwks_uri"], format!("{ACME}/.well-known/jwks.json"));
    let (_, rfc8414) = send(s.get("/t/acme/.well-known/oauth-authorization-server")).await;
    assert_eq!(rfc8414, d);
    let (status, jwks) = send(s.get("/t/acme/.well-known/jwks.json")).await;
    assert_eq!(status, 200);
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
    // The root stays the default tenant's issuer.
    let (_, root) = send(s.get("/.well-known/openid-configuration")).await;
    assert_eq!(root["issuer"], "https://id.test");

    let mut br = Browser::new(&s);
    let pairs = code_at_acme(&mut br, &client).await;
    assert_eq!(param(&pairs, "iss"), Some(ACME), "RFC 9207: the tenant's issuer");
    assert!(
        br.cookie(&session_of(&tenant)).is_some(),
        "the tenant's own cookie"
    );
    assert!(br.cookie(SESSION).is_none(), "not the default tenant's");
    let code = param(&pairs, "code").unwrap();
    let (status, t) = exchange_at(&s, "/t/acme", &client, code).await;
    assert_eq!(status, 200, "{t}");
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], ACME);
    assert_eq!(id["aud"], client.as_str());
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["iss"], ACME);
    let (status, info) = send(s.get("/t/acme/userinfo").bearer_auth(access)).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["email"], "ann@acme.test");
    // The tenant's tokens work on the native API too.
    let (status, me) = send(s.get("/v1/users/me").bearer_auth(access)).await;
    assert_eq!(status, 200, "{me}");

    // The account page and sign-out under the slug.
    let p = br.get("/t/acme/account/security").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("ann@acme.test"));
    assert!(p.body.contains("action=\"/t/acme/logout\""), "{}", p.body);

    // A slug nobody has, and paths that are not the provider's or the pages', are not found:
    // a page for a person.
    let p = br.get("/t/nobody/login").await;
    assert_eq!(p.status, 404);
    p.is_html();
    let (status, _) = send(s.post("/t/acme/v1/auth/signin").json(&json!({
        "email": "ann@acme.test", "password": PASSWORD
    })))
    .await;
    assert_eq!(status, 404);
    s.stop().await;
}

async fn nothing_crosses_between_tenants(b: Backend) {
    let s = spawn(b).await;
    let (tenant, _, client) = acme(&s, None).await;
    s.signup("dora@default.test").await;

    // Acme's application is unknown to the default tenant's issuer: a page, no redirect.
    let mut br = Browser::new(&s);
    let p = br.get(&authorize(&client, &[])).await;
    assert_eq!(p.status, 400, "{}", p.body);
    p.is_html();

    let pairs = code_at_acme(&mut br, &client).await;
    let code = param(&pairs, "code").unwrap().to_owned();
    // Acme's code is not redeemed at the root's token endpoint.
    let (status, e) = exchange_at(&s, "", &client, &code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (401, Some("invalid_client")),
        "{e}"
    );
    let (status, t) = exchange_at(&s, "/t/acme", &client, &code).await;
    assert_eq!(status, 200, "{t}");
    let access = t["access_token"].as_str().unwrap();
    // Acme's token is not the default issuer's: its userinfo does not know it.
    let (status, _) = send(s.get("/userinfo").bearer_auth(access)).await;
    assert_eq!(status, 401);

    // Signed in at Acme is not signed in at the root, and the other way round.
    let p = br.get("/account/security").await;
    assert_eq!((p.status, p.location()), (303, "/login"));
    let mut other = Browser::new(&s);
    let p = other.login("dora@default.test", PASSWORD).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(other.get("/account/security").await.status, 200);
    let p = other.get("/t/acme/account/security").await;
    assert_eq!((p.status, p.location()), (303, "/t/acme/login"));
    // Dora's password is not an Acme account's.
    let form = other.get("/t/acme/login").await;
    let p = other
        .post(
            "/t/acme/login",
            &[
                ("csrf", &form.csrf()),
                ("email", "dora@default.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 401, "{}", p.body);

    // A sealed cookie of Acme's, moved under the default tenant's name, opens nothing: the
    // sealing names its tenant.
    let acme_cookie = br.cookie(&session_of(&tenant)).unwrap().to_owned();
    let mut thief = Browser::new(&s);
    thief.set_cookie(SESSION, Some(acme_cookie));
    let p = thief.get("/account/security").await;
    assert_eq!((p.status, p.location()), (303, "/login"));
    // And the default tenant's cookie, under Acme's name, neither.
    let dora_cookie = other.cookie(SESSION).unwrap().to_owned();
    let mut thief = Browser::new(&s);
    thief.set_cookie(&session_of(&tenant), Some(dora_cookie));
    let p = thief.get("/t/acme/account/security").await;
    assert_eq!((p.status, p.location()), (303, "/t/acme/login"));
    s.stop().await;
}

async fn a_host_is_an_issuer_of_its_own(b: Backend) {
    let s = spawn(b).await;
    let (_, _, client) = acme(&s, Some("login.acme.test")).await;
    for host in ["login.acme.test", "LOGIN.Acme.test"] {
        let (status, d) = send(s.get("/.well-known/openid-configuration").header("host", host)).await;
        assert_eq!(status, 200, "{d}");
        assert_eq!(d["issuer"], "https://login.acme.test");
        assert_eq!(d["token_endpoint"], "https://login.acme.test/oauth/token");
    }
    // With a host, the slug is no longer an issuer (a tenant has one).
    let (status, _) = send(s.get("/t/acme/.well-known/openid-configuration")).await;
    assert_eq!(status, 404);
    // Any other host is the default tenant's.
    let (_, d) = send(
        s.get("/.well-known/openid-configuration")
            .header("host", "evil.example"),
    )
    .await;
    assert_eq!(d["issuer"], "https://id.test");

    // The screens at the tenant's host, paths at its root.
    let mut br = Browser::new(&s);
    let p = br
        .send(
            br.request(&authorize(&client, &[]))
                .header("host", "login.acme.test"),
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login"), "{}", p.body);
    let p = br
        .send(br.request("/login").header("host", "login.acme.test"))
        .await;
    assert!(
        p.body.contains("Acme SPA"),
        "the waiting application, found under the host: {}",
        p.body
    );
    // Its tokens name the host.
    let (status, t) = send(s.post("/oauth/token").header("host", "login.acme.test").form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &client),
        ("code", "nope"),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]))
    .await;
    assert_eq!(
        (status, t["error"].as_str()),
        (400, Some("invalid_grant")),
        "the client is known there: {t}"
    );

    // Cleared: the host answers as the default tenant again (within this replica at once).
    let tenant = s.app.addresses.by_host("login.acme.test").unwrap();
    s.app.set_tenant_addresses(&tenant, None, None).await.unwrap();
    let (_, d) = send(
        s.get("/.well-known/openid-configuration")
            .header("host", "login.acme.test"),
    )
    .await;
    assert_eq!(d["issuer"], "https://id.test");
    s.stop().await;
}

async fn addresses_are_checked_and_unique(b: Backend) {
    let s = spawn(b).await;
    let (a, _) = s.app.create_tenant("A").await.unwrap();
    let (other, _) = s.app.create_tenant("B").await.unwrap();
    let input = |r: Result<_, ServiceError>| match r {
        Err(ServiceError::Input(e)) => (e.code().as_str(), e.to_string()),
        other => panic!("{other:?}"),
    };
    for bad in ["Acme", "-acme", "ac/me", "", "ac%2Fme"] {
        let (code, _) = input(s.app.set_tenant_addresses(&a.id, Some(bad), None).await);
        assert_eq!(code, "invalid_tenant_address", "{bad}");
    }
    for bad in ["https://acme.test", "acme.test/x", "localhost", "Acme.test"] {
        let (code, _) = input(s.app.set_tenant_addresses(&a.id, None, Some(bad)).await);
        assert_eq!(code, "invalid_tenant_address", "{bad}");
    }
    // The public URL's host is the default tenant's.
    let (_, msg) = input(s.app.set_tenant_addresses(&a.id, None, Some("id.test")).await);
    assert!(msg.contains("public URL"), "{msg}");
    // The default tenant's issuer is the public URL.
    let default = s.app.default_tenant.clone();
    let (_, msg) = input(s.app.set_tenant_addresses(&default, Some("main"), None).await);
    assert!(msg.contains("default tenant"), "{msg}");
    // One tenant per slug and per host.
    let issuer = s
        .app
        .set_tenant_addresses(&a.id, Some("acme"), Some("login.acme.test"))
        .await
        .unwrap();
    assert_eq!(issuer.url, "https://login.acme.test");
    let (_, msg) = input(s.app.set_tenant_addresses(&other.id, Some("acme"), None).await);
    assert!(msg.contains("another tenant"), "{msg}");
    let (_, msg) = input(
        s.app
            .set_tenant_addresses(&other.id, None, Some("login.acme.test"))
            .await,
    );
    assert!(msg.contains("another tenant"), "{msg}");
    assert!(matches!(
        s.app
            .set_tenant_addresses(
                &TenantId::parse("tnt_01J00000000000000000000000").unwrap(),
                Some("x"),
                None
            )
            .await,
        Err(ServiceError::TenantNotFound)
    ));
    s.stop().await;
}

async fn emailed_links_name_the_tenants_issuer(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let (tenant, _, _) = acme(&s, None).await;
    // A provider change needs a key with `mfa:admin`.
    let (_, key) = s
        .app
        .create_api_key(&tenant, "ops", &[latchkey_core::scope::KeyScope::MfaAdmin])
        .await
        .unwrap();
    let (status, body) = send(s.http.put(format!("{}/v1/admin/email-provider", s.url)).bearer_auth(key.expose()).json(&json!({
        "provider": "smtp", "host": "127.0.0.1", "port": mail.port(), "tls": "none", "from": "Acme <no-reply@acme.test>"
    })))
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(
        s.post("/v1/auth/password/forgot")
            .header("x-tenant-id", tenant.as_str())
            .header("host", "evil.example")
            .json(&json!({ "email": "ann@acme.test" })),
    )
    .await;
    assert_eq!(status, 202);
    let l = link(&mail.next().await);
    assert!(
        l.starts_with("https://id.test/t/acme/password/reset?token=pr_"),
        "{l}"
    );
    // The link's page is the tenant's.
    let mut br = Browser::new(&s);
    let path = l.strip_prefix("https://id.test").unwrap();
    let p = br.get(path).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("action=\"/t/acme/password/reset\""), "{}", p.body);
    s.stop().await;
}

async fn pages_speak_the_language_asked_for(b: Backend) {
    let s = spawn(b).await;
    let client = {
        let (status, app) = send(s.admin(s.post("/v1/admin/applications")).json(&json!({
            "name": "Acme SPA",
            "type": "public",
            "redirect_uris": [REDIRECT],
        })))
        .await;
        assert_eq!(status, 201, "{app}");
        app["client_id"].as_str().unwrap().to_owned()
    };
    // English by default.
    let r = s.get("/login").send().await.unwrap();
    assert_eq!(r.headers()["content-language"], "en");
    let body = r.text().await.unwrap();
    assert!(body.contains("<html lang=\"en\">"), "{body}");
    assert!(body.contains("Sign in"));
    // The browser's preference, by weight.
    for header in ["de-DE,de;q=0.9,en;q=0.8", "fr, de;q=0.5, en;q=0.1"] {
        let r = s
            .get("/login")
            .header("accept-language", header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-language"], "de", "{header}");
        let body = r.text().await.unwrap();
        assert!(body.contains("<html lang=\"de\">"), "{body}");
        assert!(body.contains("Anmelden"), "{body}");
        assert!(!body.contains(">Sign in<"), "{body}");
    }
    let r = s
        .get("/login")
        .header("accept-language", "fr, ja")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-language"], "en");
    // An application's ui_locales wins over the browser's, on every screen of its sign-in.
    let mut br = Browser::new(&s);
    let p = br.get(&authorize(&client, &[("ui_locales", "fr-CA de")])).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let req = br.request("/login").header("accept-language", "en");
    let p = br.send(req).await;
    assert_eq!(p.headers["content-language"], "de");
    assert!(p.body.contains("Anmelden"), "{}", p.body);
    // Errors too are pages in the language.
    let p = br
        .send(
            br.request("/authorize?client_id=nope")
                .header("accept-language", "de"),
        )
        .await;
    assert_eq!(p.status, 400);
    assert_eq!(p.headers["content-language"], "de");
    // Discovery lists what the pages speak.
    let (_, d) = send(s.get("/.well-known/openid-configuration")).await;
    assert_eq!(d["ui_locales_supported"], json!(["en", "de"]));
    s.stop().await;
}
