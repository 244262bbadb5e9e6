//! The hosted pages as a browser meets them: security headers and CSP on every answer, the
//! cookie's flags, anti-forgery refusals, sign-in through the second factor to the account
//! page, forced enrollment, errors as pages (never JSON), sign-out and revocation, step-up.

use crate::both_stores;
use crate::helpers::*;
use crate::mfa::code;
use latchkey_testkit::webauthn::{Forge, SoftAuthenticator};
use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION, SET_COOKIE};
use serde_json::{json, Value};

both_stores!(
    every_answer_carries_the_security_headers,
    the_cookie_has_the_right_flags,
    forms_without_the_right_token_are_refused,
    sign_in_with_totp_reaches_the_account_page,
    a_wrong_password_shows_the_form_again,
    signed_out_visitors_are_sent_to_sign_in,
    logout_ends_the_session,
    a_session_revoked_elsewhere_signs_the_page_out,
    the_account_page_adds_an_authenticator_app,
    forced_enrollment_on_the_pages,
    changes_need_a_recent_second_factor,
    passkey_endpoints_check_forgery_and_answer_json,
    passkeys_added_on_the_account_page_sign_in,
    security_key_as_second_factor_on_the_pages,
    adding_a_passkey_needs_a_recent_second_factor,
    forced_enrollment_with_a_passkey_on_the_pages,
);

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'";

/// One answer, as a browser would keep it.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The value of the first `<input … name="NAME" value="…">`.
    pub(crate) fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        self.body[at..].split('"').next().unwrap().to_owned()
    }

    pub(crate) fn csrf(&self) -> String {
        self.field("csrf")
    }

    /// The TOTP key shown as text beside the QR code.
    pub(crate) fn totp_secret(&self) -> String {
        let at = self.body.find("id=\"totp-secret\"").expect("secret shown");
        let rest = &self.body[at..];
        let start = rest.find('>').unwrap() + 1;
        let end = rest.find('<').unwrap();
        rest[start..end].replace(' ', "")
    }

    pub(crate) fn is_html(&self) {
        let ct = self.headers.get(CONTENT_TYPE).unwrap().to_str().unwrap();
        assert!(ct.starts_with("text/html"), "{ct}");
        assert!(!self.body.contains("{\"error\""), "{}", self.body);
    }
}

/// The pages' session cookie's name: `__Host-` prefixed, since the test server's public
/// URL is https.
pub(crate) const SESSION: &str = "__Host-lk_session";

/// A browser: its own cookies (the pages' session, and an application's pending
/// sign-in), no automatic redirects.
pub(crate) struct Browser<'a> {
    s: &'a TestServer,
    http: reqwest::Client,
    cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(s: &'a TestServer) -> Self {
        Browser {
            s,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Default::default(),
        }
    }

    /// The value of a cookie the browser holds.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Sets (or, with `None`, drops) a cookie, as someone who copied one would.
    pub(crate) fn set_cookie(&mut self, name: &str, value: Option<String>) {
        match value {
            Some(v) => self.cookies.insert(name.to_owned(), v),
            None => self.cookies.remove(name),
        };
    }

    pub(crate) async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = if self.cookies.is_empty() {
            req
        } else {
            let header: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req.header("cookie", header.join("; "))
        };
        let resp = req.send().await.unwrap();
        let page = Page {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: String::new(),
        };
        let body = resp.text().await.unwrap();
        for v in page.headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (name, rest) = v.split_once('=').unwrap();
            let value = rest.split(';').next().unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page { body, ..page }
    }

    /// A GET of this browser's (redirects not followed), to add headers to before `send`.
    pub(crate) fn request(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.s.url))
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.s.url));
        self.send(req).await
    }

    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.s.url)).form(fields);
        self.send(req).await
    }

    /// GET `path` for its form token, then POST `fields` with it.
    pub(crate) async fn submit(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(from).await.csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    pub(crate) async fn login(&mut self, email: &str, password: &str) -> Page {
        self.submit("/login", "/login", &[("email", email), ("password", password)])
            .await
    }
}

fn tick(s: &TestServer) {
    s.clock.advance_secs(30);
}

/// A user with a confirmed TOTP factor, through the API. Returns the secret.
pub(crate) async fn user_with_totp(s: &TestServer, email: &str) -> String {
    let body = s.signup(email).await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "totp", "name": "My phone" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let secret = e["secret"].as_str().unwrap().to_owned();
    let fid = e["factor_id"].as_str().unwrap();
    let (status, c) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "code": code(s, &secret, 0) })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    tick(s);
    secret
}

/// Signs in on the pages through the TOTP step.
/// Every visible `<input type="…">` of `page` is a type the stylesheet styles as a field
/// (`input[type=…]` in `/assets/pages.css`): an input of a type it forgot (as `tel` once
/// was) shows as the browser's bare, narrow default box.
pub(crate) async fn inputs_are_styled(b: &mut Browser<'_>, page: &Page) {
    let css = b.get("/assets/pages.css").await.body;
    let types: Vec<&str> = page
        .body
        .split("<input")
        .skip(1)
        .filter_map(|tag| {
            let tag = tag.split('>').next().unwrap_or("");
            let at = tag.find("type=\"")? + "type=\"".len();
            tag[at..].split('"').next()
        })
        .filter(|t| !matches!(*t, "hidden" | "checkbox" | "radio" | "submit"))
        .collect();
    assert!(!types.is_empty(), "no field on the page: {}", page.body);
    for t in types {
        assert!(
            css.contains(&format!("input[type={t}]")),
            "pages.css does not style input[type={t}]"
        );
    }
}

async fn sign_in_with_totp(b: &mut Browser<'_>, email: &str, secret: &str) -> Page {
    let p = b.login(email, PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"), "{}", p.body);
    let mfa = b.get("/login/mfa").await;
    let fid = mfa.field("factor_id");
    let totp = code(b.s, secret, 0);
    let p = b
        .post(
            "/login/mfa/verify",
            &[("csrf", &mfa.csrf()), ("factor_id", &fid), ("code", &totp)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    p
}

pub(crate) fn check_headers(p: &Page, what: &str) {
    let h = |name: &str| p.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(h("content-security-policy").as_deref(), Some(CSP), "{what}");
    assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"), "{what}");
    assert_eq!(h("referrer-policy").as_deref(), Some("no-referrer"), "{what}");
}

async fn every_answer_carries_the_security_headers(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    let mut br = Browser::new(&s);
    let login = br.get("/login").await;
    assert_eq!(login.status, 200);
    login.is_html();
    check_headers(&login, "GET /login");
    assert_eq!(login.headers["cache-control"], "no-store");
    // No inline script or style for the CSP to forbid.
    assert!(!login.body.contains("<style") && !login.body.contains("style="));
    assert!(!login.body.contains("<script>"));
    assert!(login.body.contains("<main") && login.body.contains("<h1>"));
    assert!(login.body.contains("autocomplete=\"username\""));
    assert!(login.body.contains("autocomplete=\"current-password\""));
    assert!(login.body.contains("<label for=\"email\">"));

    let redirect = br.get("/account/security").await;
    assert_eq!(redirect.status, 303);
    check_headers(&redirect, "redirect");
    assert_eq!(redirect.headers["cache-control"], "no-store");

    let refused = br.post("/login", &[("email", "a@b.c")]).await;
    assert_eq!(refused.status, 403);
    check_headers(&refused, "403");
    refused.is_html();

    let wrong_method = br.post("/login/continue", &[]).await;
    assert_eq!(wrong_method.status, 405);
    wrong_method.is_html();
    check_headers(&wrong_method, "405");

    for (path, ct) in [
        ("/assets/pages.css", "text/css"),
        ("/assets/webauthn.js", "text/javascript"),
    ] {
        let asset = br.get(path).await;
        assert_eq!(asset.status, 200, "{path}");
        check_headers(&asset, path);
        assert!(asset.headers[CONTENT_TYPE].to_str().unwrap().starts_with(ct));
    }

    let p = br.login("alice@example.com", PASSWORD).await;
    assert_eq!(p.status, 303);
    let account = br.get("/account/security").await;
    assert_eq!(account.status, 200);
    check_headers(&account, "account");
    assert_eq!(account.headers["cache-control"], "no-store");

    // The pages are not part of the API's description.
    let (_, doc) = send(s.get("/openapi.json")).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        paths.keys().all(|p| p.starts_with("/v")
            || p.starts_with("/.well-known")
            || p.starts_with("/healthz")
            || p.starts_with("/readyz")
            || p.starts_with("/oauth/")
            || p == "/userinfo"
            || p.starts_with("/auth/")
            || p.starts_with("/api/v2/")
            || p.starts_with("/mfa/")
            || p.starts_with("/openapi")),
        "{:?}",
        paths.keys()
    );
}

async fn the_cookie_has_the_right_flags(b: Backend) {
    let s = spawn(b).await;
    // Behind https (the test server's public URL), the cookie is `__Host-` prefixed, with
    // what the prefix requires: Secure, Path=/, no Domain.
    let p = Browser::new(&s).get("/login").await;
    let cookie = p.headers[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-lk_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(cookie.split("; ").any(|f| f == flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    // Sealed: nothing readable in it.
    assert!(!cookie.contains("anonymous"));
    // Over HTTPS a bare `lk_session` (which a sibling subdomain or a plain-HTTP page could
    // plant) is not read: a form posted with one is refused as a forgery.
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let token = p
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let post_with = |name: &str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/login", s.url))
            .header("cookie", format!("{name}={value}"))
            .form(&[
                ("csrf", token),
                ("email", "a@example.com"),
                ("password", PASSWORD),
            ])
            .send()
    };
    assert_eq!(post_with("lk_session").await.unwrap().status().as_u16(), 403);
    assert_ne!(
        post_with("__Host-lk_session").await.unwrap().status().as_u16(),
        403
    );
    let (backend, dir, schema, clock) = s.stop().await;

    // Served over plain http, the cookie cannot be Secure (the browser would drop it).
    let s = spawn_with(backend, dir, schema, clock, |c| {
        c.public_url = Some("http://127.0.0.1:8080".into())
    })
    .await;
    let p = Browser::new(&s).get("/login").await;
    let cookie = p.headers[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("lk_session="), "{cookie}");
    assert!(
        !cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

async fn forms_without_the_right_token_are_refused(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    let creds = [("email", "alice@example.com"), ("password", PASSWORD)];
    let mut alice = Browser::new(&s);
    let mut other = Browser::new(&s);
    let token = alice.get("/login").await.csrf();
    let others_token = other.get("/login").await.csrf();
    assert_ne!(token, others_token);

    let missing = alice.post("/login", &creds).await;
    assert_eq!(missing.status, 403);
    missing.is_html();
    let wrong = alice
        .post(
            "/login",
            &[&creds[..], &[("csrf", "0".repeat(64).as_str())]].concat(),
        )
        .await;
    assert_eq!(wrong.status, 403);
    let foreign = alice
        .post(
            "/login",
            &[&creds[..], &[("csrf", others_token.as_str())]].concat(),
        )
        .await;
    assert_eq!(foreign.status, 403, "a token of another browser's session");
    let twice = alice
        .post(
            "/login",
            &[&creds[..], &[("csrf", token.as_str()), ("csrf", token.as_str())]].concat(),
        )
        .await;
    assert_eq!(twice.status, 403);

    // The right token without the cookie it belongs to.
    let mut stranger = Browser::new(&s);
    let no_cookie = stranger
        .post("/login", &[&creds[..], &[("csrf", token.as_str())]].concat())
        .await;
    assert_eq!(no_cookie.status, 403);

    // The right token, sent from another site.
    let with = [&creds[..], &[("csrf", token.as_str())]].concat();
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "null"), ("sec-fetch-site", "cross-site")],
    ] {
        let mut req = alice.http.post(format!("{}/login", s.url)).form(&with);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let p = alice.send(req).await;
        assert_eq!(p.status, 403, "{headers:?}");
    }

    // From this site. Under `Referrer-Policy: no-referrer` browsers send `Origin: null`
    // with their own site's forms: the checks pass, then the password is wrong.
    let wrong_password = [
        ("email", "alice@example.com"),
        ("password", "nope"),
        ("csrf", token.as_str()),
    ];
    let req = alice
        .http
        .post(format!("{}/login", s.url))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&wrong_password);
    assert_eq!(alice.send(req).await.status, 401);
    let req = alice
        .http
        .post(format!("{}/login", s.url))
        .header("origin", s.url.clone())
        .header("sec-fetch-site", "same-origin")
        .form(&with);
    let ok = alice.send(req).await;
    assert_eq!(
        (ok.status, ok.location()),
        (303, "/account/security"),
        "{}",
        ok.body
    );

    // Signing in changed the token: the one from before sign-in no longer works.
    let stale = alice.post("/logout", &[("csrf", token.as_str())]).await;
    assert_eq!(stale.status, 403);
    assert_eq!(alice.get("/account/security").await.status, 200);
}

async fn sign_in_with_totp_reaches_the_account_page(b: Backend) {
    let s = spawn(b).await;
    let secret = user_with_totp(&s, "alice@example.com").await;
    let mut br = Browser::new(&s);
    let form = br.get("/login").await;
    inputs_are_styled(&mut br, &form).await;
    let p = br.login("alice@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"));
    let mfa = br.get("/login/mfa").await;
    assert_eq!(mfa.status, 200);
    mfa.is_html();
    assert!(mfa.body.contains("Authenticator app · My phone"), "{}", mfa.body);
    assert!(mfa.body.contains("Backup codes"));
    assert!(mfa.body.contains("autocomplete=\"one-time-code\""));

    // Not yet signed in.
    assert_eq!(br.get("/account/security").await.status, 303);

    let fid = mfa.field("factor_id");
    let wrong = code(&s, &secret, 7);
    let p = br
        .post(
            "/login/mfa/verify",
            &[("csrf", &mfa.csrf()), ("factor_id", &fid), ("code", &wrong)],
        )
        .await;
    assert_eq!(p.status, 401);
    p.is_html();
    assert!(p.body.contains("That code is not right"));
    let err_id = format!("code-{fid}-error");
    assert!(
        p.body
            .contains(&format!("aria-describedby=\"code-{fid}-hint {err_id}\"")),
        "{}",
        p.body
    );
    assert!(p.body.contains("aria-invalid=\"true\""));
    assert!(p.body.contains("autofocus"));

    let right = code(&s, &secret, 0);
    let p = br
        .post(
            "/login/mfa/verify",
            &[("csrf", &mfa.csrf()), ("factor_id", &fid), ("code", &right)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    let account = br.get("/account/security").await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("Signed in as alice@example.com"));
    assert!(account.body.contains("My phone"));
    assert!(account.body.contains("Passkeys and security keys"));
    assert_ne!(account.csrf(), mfa.csrf(), "a new id once signed in");

    // The same code cannot be used again, even in a new sign-in.
    let mut again = Browser::new(&s);
    again.login("alice@example.com", PASSWORD).await;
    let mfa = again.get("/login/mfa").await;
    let p = again
        .post(
            "/login/mfa/verify",
            &[("csrf", &mfa.csrf()), ("factor_id", &fid), ("code", &right)],
        )
        .await;
    assert_eq!(p.status, 401, "{}", p.body);
}

async fn a_wrong_password_shows_the_form_again(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    let mut br = Browser::new(&s);
    let p = br.login("alice@example.com", "not the password").await;
    assert_eq!(p.status, 401);
    p.is_html();
    assert!(p.body.contains("The email or password is not right."));
    assert!(p.body.contains("aria-describedby=\"password-error\""));
    assert!(
        p.body.contains("value=\"alice@example.com\""),
        "the email is kept"
    );
    assert!(
        !p.body.contains("not the password"),
        "the password is never echoed"
    );

    let p = br.login("", PASSWORD).await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("Enter your email address."));
    assert!(p.body.contains("aria-describedby=\"email-error\""));

    // Throttled: the same form, 429 and Retry-After.
    let mut last = 0;
    for _ in 0..8 {
        let p = br.login("alice@example.com", "still wrong").await;
        last = p.status;
        if p.status == 429 {
            assert!(p.headers.contains_key("retry-after"));
            assert!(p.body.contains("Too many attempts"));
            p.is_html();
            break;
        }
    }
    assert_eq!(last, 429);
}

async fn signed_out_visitors_are_sent_to_sign_in(b: Backend) {
    let s = spawn(b).await;
    let mut br = Browser::new(&s);
    for path in ["/account/security", "/account/reauth"] {
        let p = br.get(path).await;
        assert_eq!((p.status, p.location()), (303, "/login"), "{path}");
    }
    assert_eq!(br.get("/login/mfa").await.location(), "/login");
    assert_eq!(br.get("/login/enroll").await.location(), "/login");
    // A forged or foreign cookie is no session.
    br.set_cookie(SESSION, Some("v1.nope.AAAA".into()));
    assert_eq!(br.get("/account/security").await.location(), "/login");
}

async fn logout_ends_the_session(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    let mut br = Browser::new(&s);
    assert_eq!(br.login("alice@example.com", PASSWORD).await.status, 303);
    let account = br.get("/account/security").await;
    assert_eq!(account.status, 200);
    let kept = br.cookie(SESSION).map(str::to_owned);
    let p = br.post("/logout", &[("csrf", &account.csrf())]).await;
    assert_eq!((p.status, p.location()), (303, "/login?notice=signed_out"));
    assert!(p.headers[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert!(br.cookie(SESSION).is_none());
    let login = br.get("/login?notice=signed_out").await;
    assert!(login.body.contains("You have signed out."));

    // The old cookie, kept by someone: its session is over.
    br.set_cookie(SESSION, kept);
    assert_eq!(br.get("/account/security").await.location(), "/login");
}

async fn a_session_revoked_elsewhere_signs_the_page_out(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("alice@example.com").await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let mut br = Browser::new(&s);
    assert_eq!(br.login("alice@example.com", PASSWORD).await.status, 303);
    assert_eq!(br.get("/account/security").await.status, 200);
    // An admin resets the user's MFA, which ends every session.
    let (status, _) = send(s.mfa_admin(s.http.delete(format!("{}/v2/admin/users/{uid}/mfa", s.url)))).await;
    assert!(status < 300, "{status}");
    let p = br.get("/account/security").await;
    assert_eq!((p.status, p.location()), (303, "/login"));
}

async fn the_account_page_adds_an_authenticator_app(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    let mut br = Browser::new(&s);
    br.login("alice@example.com", PASSWORD).await;
    let account = br.get("/account/security").await;
    assert!(account.body.contains("You have no second factor yet"));
    let enroll = br
        .post(
            "/account/security/totp",
            &[("csrf", &account.csrf()), ("name", "Work phone")],
        )
        .await;
    assert_eq!(enroll.status, 200, "{}", enroll.body);
    assert!(enroll.body.contains("src=\"data:image/svg+xml;base64,"));
    let secret = enroll.totp_secret();
    assert_eq!(secret.len(), 32);
    let fid = enroll.field("factor_id");

    let wrong = br
        .post(
            "/account/security/totp/confirm",
            &[
                ("csrf", &enroll.csrf()),
                ("factor_id", &fid),
                ("code", &code(&s, &secret, 9)),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains(&secret[..8]), "the secret is shown once");
    let done = br
        .post(
            "/account/security/totp/confirm",
            &[
                ("csrf", &enroll.csrf()),
                ("factor_id", &fid),
                ("code", &code(&s, &secret, 0)),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Save your backup codes"));
    assert_eq!(done.body.matches("<li><code>").count(), 10);
    let account = br.get("/account/security").await;
    assert!(account.body.contains("Work phone"));
    assert!(account.body.contains("10 codes left"));
}

async fn forced_enrollment_on_the_pages(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": true, "mfa_allowed_factors": ["totp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200);
    let mut br = Browser::new(&s);
    let p = br.login("alice@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"), "{}", p.body);
    let page = br.get("/login/enroll").await;
    assert!(page.body.contains("Set up two-step verification"));
    // Passkeys are not allowed here: only the authenticator app is offered.
    assert!(!page.ceremony("/login/enroll/passkey"), "{}", page.body);
    let shown = br.post("/login/enroll", &[("csrf", &page.csrf())]).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let secret = shown.totp_secret();
    let fid = shown.field("factor_id");
    let done = br
        .post(
            "/login/enroll/confirm",
            &[
                ("csrf", &shown.csrf()),
                ("factor_id", &fid),
                ("code", &code(&s, &secret, 0)),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Save your backup codes"));
    assert!(done.headers.contains_key(SET_COOKIE), "signed in");
    let account = br.get("/account/security").await;
    assert_eq!(account.status, 200);
}

async fn changes_need_a_recent_second_factor(b: Backend) {
    let s = spawn(b).await;
    let secret = user_with_totp(&s, "alice@example.com").await;
    let mut br = Browser::new(&s);
    sign_in_with_totp(&mut br, "alice@example.com", &secret).await;
    s.clock.advance_secs(16 * 60);
    let account = br.get("/account/security").await;
    let remove_path = {
        let at = account.body.find("/account/security/factors/").unwrap();
        account.body[at..].split('"').next().unwrap().to_owned()
    };
    let p = br.post(&remove_path, &[("csrf", &account.csrf())]).await;
    assert_eq!(p.status, 403);
    p.is_html();
    assert!(p.body.contains("Confirm it is you"));
    assert!(p.body.contains("href=\"/account/reauth\""));

    // Re-verify: password, then the second factor; the session is replaced.
    let old_cookie = br.cookie(SESSION).map(str::to_owned);
    let p = br
        .submit("/account/reauth", "/account/reauth", &[("password", PASSWORD)])
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"), "{}", p.body);
    let mfa = br.get("/login/mfa").await;
    let fid = mfa.field("factor_id");
    let p = br
        .post(
            "/login/mfa/verify",
            &[
                ("csrf", &mfa.csrf()),
                ("factor_id", &fid),
                ("code", &code(&s, &secret, 0)),
            ],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    let account = br.get("/account/security").await;
    let p = br.post(&remove_path, &[("csrf", &account.csrf())]).await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/account/security?notice=removed"),
        "{}",
        p.body
    );
    assert!(br
        .get("/account/security?notice=removed")
        .await
        .body
        .contains("The factor was removed."));

    // The session re-verification replaced has ended.
    br.set_cookie(SESSION, old_cookie);
    assert_eq!(br.get("/account/security").await.location(), "/login");
}

// WebAuthn on the pages: the options endpoints (JSON for the page's script, behind the
// forms' anti-forgery checks) and the forms that finish each ceremony, driven by the
// software authenticator as the browser at the test server's public URL.

const ORIGIN: &str = "https://id.test";

async fn allow_webauthn(s: &TestServer) {
    let body = json!({ "mfa_allowed_factors": ["totp", "webauthn", "backup_codes"] });
    let (status, cfg) = send(s.admin(s.patch("/v1/admin/config")).json(&body)).await;
    assert_eq!(status, 200, "{cfg}");
}

impl Page {
    fn json(&self) -> Value {
        let ct = self.headers.get(CONTENT_TYPE).unwrap().to_str().unwrap();
        assert!(ct.starts_with("application/json"), "{ct}: {}", self.body);
        serde_json::from_str(&self.body).unwrap()
    }

    /// The value of `attr` on the ceremony form posting to `action`.
    fn ceremony(&self, action: &str) -> bool {
        self.body.contains(&format!("action=\"{action}\" data-webauthn="))
    }
}

impl Browser<'_> {
    /// POSTs `fields` (with the token of `from`) to an options endpoint: its JSON answer.
    async fn options(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let token = self.get(from).await.csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        let p = self.post(path, &all).await;
        check_headers(&p, path);
        (p.status, p.json())
    }

    /// Adds a passkey of `auth` on the account page: the page after the confirm form.
    async fn add_passkey(&mut self, auth: &mut SoftAuthenticator, name: &str) -> Page {
        self.add_passkey_forged(auth, name, &Forge::default()).await
    }

    async fn add_passkey_forged(&mut self, auth: &mut SoftAuthenticator, name: &str, forge: &Forge) -> Page {
        let (status, o) = self
            .options(
                "/account/security",
                "/account/passkeys/options",
                &[("name", name)],
            )
            .await;
        assert_eq!(status, 200, "{o}");
        let fid = o["factor_id"].as_str().unwrap().to_owned();
        let reg = auth.register(&o["options"], ORIGIN, forge).unwrap();
        let csrf = self.get("/account/security").await.csrf();
        self.post(
            "/account/passkeys/confirm",
            &[
                ("csrf", &csrf),
                ("factor_id", &fid),
                ("credential", &reg.to_string()),
            ],
        )
        .await
    }

    /// Passwordless: options, the authenticator's answer, the sign-in form.
    async fn passkey_signin(&mut self, auth: &mut SoftAuthenticator) -> (Page, Value) {
        let (status, o) = self.options("/login", "/login/passkey/options", &[]).await;
        assert_eq!(status, 200, "{o}");
        let assertion = auth.assert(&o["options"], ORIGIN, &Forge::default()).unwrap();
        let csrf = self.get("/login").await.csrf();
        let p = self
            .post(
                "/login/passkey",
                &[("csrf", &csrf), ("credential", &assertion.to_string())],
            )
            .await;
        (p, assertion)
    }
}

async fn passkey_endpoints_check_forgery_and_answer_json(b: Backend) {
    let s = spawn(b).await;
    let mut br = Browser::new(&s);
    // Not allowed by the tenant: no button, and the script is told so.
    let login = br.get("/login").await;
    assert!(!login.ceremony("/login/passkey"), "{}", login.body);
    assert!(login.body.contains("autocomplete=\"username\""), "{}", login.body);
    assert!(!login.body.contains("webauthn\""), "{}", login.body);
    let (status, o) = br.options("/login", "/login/passkey/options", &[]).await;
    assert_eq!(status, 404, "{o}");
    assert!(o["message"].as_str().unwrap().contains("not enabled"), "{o}");

    allow_webauthn(&s).await;
    let login = br.get("/login").await;
    assert!(login.ceremony("/login/passkey"), "{}", login.body);
    assert!(login.body.contains("data-options=\"/login/passkey/options\""));
    assert!(login.body.contains("Sign in with a passkey"));
    assert!(!login.body.contains("<script>"));
    // Passkeys in the email field's autofill: the field says so, and the passkey form asks
    // the script for a conditional request.
    assert!(
        login.body.contains("autocomplete=\"username webauthn\""),
        "{}",
        login.body
    );
    assert!(
        login.body.contains("data-mediation=\"conditional\""),
        "{}",
        login.body
    );

    // The options endpoint checks the form token and the site like any form.
    let csrf = login.csrf();
    let url = format!("{}/login/passkey/options", s.url);
    for (what, fields, site) in [
        ("no token", vec![], None),
        ("a wrong token", vec![("csrf", "x")], None),
        ("another site", vec![("csrf", csrf.as_str())], Some("cross-site")),
    ] {
        let mut req = br.http.post(&url).form(&fields);
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        let p = br.send(req).await;
        assert_eq!(p.status, 403, "{what}: {}", p.body);
        check_headers(&p, what);
        assert!(p.json()["message"]
            .as_str()
            .unwrap()
            .contains("not sent from this site"));
    }
    // JSON, as the page's script sends it, is not a form.
    let p = br.send(br.http.post(&url).json(&json!({ "csrf": csrf }))).await;
    assert_eq!(p.status, 415, "{}", p.body);

    let (status, o) = br.options("/login", "/login/passkey/options", &[]).await;
    assert_eq!(status, 200, "{o}");
    let pk = &o["options"]["publicKey"];
    assert_eq!(pk["rpId"], "id.test", "{o}");
    assert!(pk["challenge"].as_str().unwrap().len() >= 43);
    assert!(
        pk["allowCredentials"].as_array().is_none_or(|a| a.is_empty()),
        "{o}"
    );
    assert_eq!(pk["userVerification"], "required");
    assert_eq!(o["options"]["mediation"], "conditional");

    // The finishing form refuses forgery as a page, and explains a missing answer.
    let p = br.post("/login/passkey", &[("credential", "{}")]).await;
    assert_eq!(p.status, 403);
    p.is_html();
    for (credential, status, words) in [
        ("", 400, "need JavaScript"),
        ("not json", 400, "was not accepted"),
        ("{\"id\":\"AAAA\"}", 401, "was not accepted"),
    ] {
        let p = br
            .submit("/login", "/login/passkey", &[("credential", credential)])
            .await;
        assert_eq!(p.status, status, "{credential}: {}", p.body);
        p.is_html();
        check_headers(&p, credential);
        assert!(p.body.contains(words), "{credential}: {}", p.body);
        assert!(p.body.contains("role=\"alert\""));
        // After a refused passkey the page waits for the user: no autofill request at once.
        assert!(!p.body.contains("data-mediation="), "{credential}: {}", p.body);
        assert!(p.body.contains("autocomplete=\"username webauthn\""));
    }

    // The second-factor and account endpoints send a visitor without that step away.
    let (status, o) = br
        .options("/login", "/login/mfa/webauthn/options", &[("factor_id", "")])
        .await;
    assert_eq!((status, o["location"].as_str()), (401, Some("/login")), "{o}");
    let (status, o) = br.options("/login", "/account/passkeys/options", &[]).await;
    assert_eq!((status, o["location"].as_str()), (401, Some("/login")), "{o}");

    // None of these is part of the API's description.
    let (_, doc) = send(s.get("/openapi.json")).await;
    let doc = doc.to_string();
    assert!(!doc.contains("/login/") && !doc.contains("/account/passkeys"));
}

async fn passkeys_added_on_the_account_page_sign_in(b: Backend) {
    let s = spawn(b).await;
    allow_webauthn(&s).await;
    s.signup("alice@example.com").await;
    let mut br = Browser::new(&s);
    assert_eq!(br.login("alice@example.com", PASSWORD).await.status, 303);
    let account = br.get("/account/security").await;
    assert!(account.ceremony("/account/passkeys/confirm"), "{}", account.body);
    assert!(account
        .body
        .contains("data-options=\"/account/passkeys/options\""));
    assert!(account.body.contains("<label for=\"passkey-name\">"));

    // No answer from the browser: said plainly, nothing added.
    let p = br
        .submit(
            "/account/security",
            "/account/passkeys/confirm",
            &[("factor_id", ""), ("credential", "")],
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    p.is_html();
    assert!(p.body.contains("need JavaScript"));

    // The first factor of the account: its backup codes, once.
    let mut auth = SoftAuthenticator::new();
    let p = br.add_passkey(&mut auth, "Laptop").await;
    assert_eq!(p.status, 200, "{}", p.body);
    p.is_html();
    assert!(p.body.contains("Save your backup codes"), "{}", p.body);
    let account = br.get("/account/security?notice=passkey_added").await;
    assert!(account.body.contains("Your passkey or security key was added."));
    assert!(account.body.contains("Laptop"), "{}", account.body);
    assert!(account.body.contains("Kept on one device"), "{}", account.body);

    // Adding another needs a recent second factor, which a password session has not.
    let (status, o) = br
        .options("/account/security", "/account/passkeys/options", &[])
        .await;
    assert_eq!(
        (status, o["location"].as_str()),
        (403, Some("/account/reauth")),
        "{o}"
    );

    // Sign out; passwordless sign-in with the passkey.
    br.submit("/account/security", "/logout", &[]).await;
    let (p, used) = br.passkey_signin(&mut auth).await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    let account = br.get("/account/security").await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("Signed in as alice@example.com"));

    // A synced passkey next (this session has just proven one), named as such.
    let mut phone = SoftAuthenticator::synced();
    let p = br.add_passkey(&mut phone, "Phone").await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/account/security?notice=passkey_added"),
        "{}",
        p.body
    );
    assert!(br.get("/account/security").await.body.contains("Synced passkey"));

    // The same credential again (an authenticator ignoring `excludeCredentials`): refused
    // on the page.
    let same = Forge {
        ignore_exclude_credentials: true,
        credential_id: Some(auth.credential_ids()[0].clone()),
        ..Forge::default()
    };
    let p = br.add_passkey_forged(&mut auth, "Laptop again", &same).await;
    assert!(matches!(p.status, 400 | 409), "{}", p.status);
    p.is_html();
    assert!(p.body.contains("role=\"alert\""), "{}", p.body);

    // A forged registration (another origin): refused on the page.
    let (_, o) = br
        .options("/account/security", "/account/passkeys/options", &[])
        .await;
    let mut other = SoftAuthenticator::new();
    let reg = other
        .register(&o["options"], "https://evil.test", &Forge::default())
        .unwrap();
    let csrf = br.get("/account/security").await.csrf();
    let p = br
        .post(
            "/account/passkeys/confirm",
            &[
                ("csrf", &csrf),
                ("factor_id", o["factor_id"].as_str().unwrap()),
                ("credential", &reg.to_string()),
            ],
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    p.is_html();
    assert!(p.body.contains("was not accepted"), "{}", p.body);

    // The same answer again (a replay) is refused, as a page.
    let mut other_browser = Browser::new(&s);
    let p = other_browser
        .submit("/login", "/login/passkey", &[("credential", &used.to_string())])
        .await;
    assert_eq!(p.status, 401, "{}", p.body);
    p.is_html();
    assert!(p.body.contains("That passkey was not accepted"), "{}", p.body);

    // Without user verification a passkey is one factor and signs nobody in.
    let (status, o) = other_browser
        .options("/login", "/login/passkey/options", &[])
        .await;
    assert_eq!(status, 200);
    let assertion = phone
        .assert(
            &o["options"],
            ORIGIN,
            &Forge {
                uv: Some(false),
                ..Forge::default()
            },
        )
        .unwrap();
    let p = other_browser
        .submit(
            "/login",
            "/login/passkey",
            &[("credential", &assertion.to_string())],
        )
        .await;
    assert_eq!(p.status, 401, "{}", p.body);

    let (p, _) = other_browser.passkey_signin(&mut phone).await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
}

async fn security_key_as_second_factor_on_the_pages(b: Backend) {
    let s = spawn(b).await;
    allow_webauthn(&s).await;
    let body = s.signup("alice@example.com").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let mut key = SoftAuthenticator::new().security_key();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "webauthn", "name": "YubiKey" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let reg = key.register(&e["webauthn"], ORIGIN, &Forge::default()).unwrap();
    let (status, c) = send(
        s.post(&format!(
            "/v1/users/me/mfa/factors/{}/confirm",
            e["factor_id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .json(&json!({ "credential": reg })),
    )
    .await;
    assert_eq!(status, 200, "{c}");

    let mut br = Browser::new(&s);
    let p = br.login("alice@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"), "{}", p.body);
    let mfa = br.get("/login/mfa").await;
    assert!(mfa.ceremony("/login/mfa/verify"), "{}", mfa.body);
    assert!(mfa.body.contains("Use your security key or passkey"));
    assert!(
        mfa.body.contains("Passkey or security key · YubiKey"),
        "{}",
        mfa.body
    );

    // Options only with the page's token; then the user's credential is allowed.
    let p = br
        .post("/login/mfa/webauthn/options", &[("factor_id", "x")])
        .await;
    assert_eq!(p.status, 403);
    let fid = mfa.field("factor_id");
    let (status, o) = br
        .options(
            "/login/mfa",
            "/login/mfa/webauthn/options",
            &[("factor_id", &fid)],
        )
        .await;
    assert_eq!(status, 200, "{o}");
    let allowed = o["options"]["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "{o}");

    // Sent without the script: the page says what is needed.
    let p = br
        .submit(
            "/login/mfa",
            "/login/mfa/verify",
            &[("factor_id", &fid), ("credential", "")],
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.body.contains("need JavaScript"));

    // Another origin's answer: refused on the page, the sign-in still open.
    let forged = key
        .assert(&o["options"], "https://evil.test", &Forge::default())
        .unwrap();
    let p = br
        .submit(
            "/login/mfa",
            "/login/mfa/verify",
            &[("factor_id", &fid), ("credential", &forged.to_string())],
        )
        .await;
    assert_eq!(p.status, 401, "{}", p.body);
    p.is_html();
    assert!(p.body.contains("was not accepted"), "{}", p.body);

    // A new ceremony, answered right: signed in.
    let (_, o) = br
        .options(
            "/login/mfa",
            "/login/mfa/webauthn/options",
            &[("factor_id", &fid)],
        )
        .await;
    let answer = key.assert(&o["options"], ORIGIN, &Forge::default()).unwrap();
    let p = br
        .submit(
            "/login/mfa",
            "/login/mfa/verify",
            &[("factor_id", &fid), ("credential", &answer.to_string())],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    let account = br.get("/account/security").await;
    assert!(account.body.contains("Signed in as alice@example.com"));
    assert!(account.body.contains("YubiKey"));

    // The same answer in another sign-in: refused.
    let mut again = Browser::new(&s);
    again.login("alice@example.com", PASSWORD).await;
    let p = again
        .submit(
            "/login/mfa",
            "/login/mfa/verify",
            &[("factor_id", &fid), ("credential", &answer.to_string())],
        )
        .await;
    assert_eq!(p.status, 401, "{}", p.body);
}

async fn adding_a_passkey_needs_a_recent_second_factor(b: Backend) {
    let s = spawn(b).await;
    allow_webauthn(&s).await;
    let secret = user_with_totp(&s, "alice@example.com").await;
    let mut br = Browser::new(&s);
    sign_in_with_totp(&mut br, "alice@example.com", &secret).await;
    s.clock.advance_secs(16 * 60);
    let (status, o) = br
        .options(
            "/account/security",
            "/account/passkeys/options",
            &[("name", "Laptop")],
        )
        .await;
    assert_eq!(
        (status, o["location"].as_str()),
        (403, Some("/account/reauth")),
        "{o}"
    );
    let reauth = br.get("/account/reauth").await;
    assert_eq!(reauth.status, 200);
    assert!(reauth.body.contains("Confirm it is you"));
}

async fn forced_enrollment_with_a_passkey_on_the_pages(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    let (status, cfg) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": true, "mfa_allowed_factors": ["webauthn", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200, "{cfg}");
    let mut br = Browser::new(&s);
    let p = br.login("alice@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"), "{}", p.body);

    // Only a passkey or security key can be set up: no authenticator app.
    let page = br.get("/login/enroll").await;
    assert_eq!(page.status, 200);
    check_headers(&page, "/login/enroll");
    assert!(page.ceremony("/login/enroll/passkey"), "{}", page.body);
    assert!(page
        .body
        .contains("data-options=\"/login/enroll/passkey/options\""));
    assert!(page.body.contains("Add a passkey or security key"));
    assert!(!page.body.contains("action=\"/login/enroll\""), "{}", page.body);
    assert!(!page.body.contains("<script>"));

    // Sent without the script: the page says what is needed.
    let p = br
        .submit(
            "/login/enroll",
            "/login/enroll/passkey",
            &[("factor_id", ""), ("credential", "")],
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    p.is_html();
    assert!(p.body.contains("need JavaScript"), "{}", p.body);

    // The options endpoint checks the form token like any form.
    let p = br
        .post("/login/enroll/passkey/options", &[("name", "Laptop")])
        .await;
    assert_eq!(p.status, 403, "{}", p.body);
    assert!(p.json()["message"].is_string());
    // A visitor who is not enrolling is sent back to sign-in.
    let mut stranger = Browser::new(&s);
    let (status, o) = stranger
        .options("/login", "/login/enroll/passkey/options", &[])
        .await;
    assert_eq!((status, o["location"].as_str()), (401, Some("/login")), "{o}");

    let (status, o) = br
        .options(
            "/login/enroll",
            "/login/enroll/passkey/options",
            &[("name", "Laptop")],
        )
        .await;
    assert_eq!(status, 200, "{o}");
    let fid = o["factor_id"].as_str().unwrap().to_owned();
    assert!(o["options"]["publicKey"]["challenge"].is_string(), "{o}");
    let mut auth = SoftAuthenticator::new();

    // A registration for another relying party: refused on the page, the set-up still open.
    let forged = SoftAuthenticator::new()
        .register(
            &o["options"],
            ORIGIN,
            &Forge {
                rp_id: Some("evil.test".into()),
                ..Forge::default()
            },
        )
        .unwrap();
    let p = br
        .submit(
            "/login/enroll",
            "/login/enroll/passkey",
            &[("factor_id", &fid), ("credential", &forged.to_string())],
        )
        .await;
    assert_eq!(p.status, 401, "{}", p.body);
    p.is_html();
    assert!(p.body.contains("was not accepted"), "{}", p.body);
    assert!(p.body.contains("role=\"alert\""));
    assert!(p.ceremony("/login/enroll/passkey"), "{}", p.body);

    // The real registration completes the sign-in; the backup codes are shown once.
    let reg = auth.register(&o["options"], ORIGIN, &Forge::default()).unwrap();
    let done = br
        .submit(
            "/login/enroll",
            "/login/enroll/passkey",
            &[("factor_id", &fid), ("credential", &reg.to_string())],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    done.is_html();
    assert!(done.body.contains("Save your backup codes"), "{}", done.body);
    assert_eq!(done.body.matches("<li><code>").count(), 10, "{}", done.body);
    assert!(done.headers.contains_key(SET_COOKIE), "signed in");
    let account = br.get("/account/security").await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("Signed in as alice@example.com"));
    assert!(account.body.contains("Laptop"), "{}", account.body);

    // The enrollment is over: its page sends the browser on, and the answer cannot be used
    // again.
    assert_eq!(br.get("/login/enroll").await.location(), "/login");

    // Then the passkey signs in alone.
    br.submit("/account/security", "/logout", &[]).await;
    let (p, _) = br.passkey_signin(&mut auth).await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
}
