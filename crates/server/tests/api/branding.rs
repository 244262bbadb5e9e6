//! A tenant's branding on the hosted pages: its name, logo and accent colour, set through
//! `/v1/admin/config`, checked (no invisible characters, `https` logos, colours white text
//! can be read on), escaped where shown, and allowed by the pages' policy only as far as
//! they need (the logo's origin in `img-src`, the colour through a stylesheet, never inline).

use crate::both_stores;
use crate::helpers::*;
use serde_json::{json, Value};

both_stores!(branding_shows_on_the_pages, branding_is_checked_and_resets);

async fn patch(s: &TestServer, branding: Value) -> (u16, Value) {
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "branding": branding })),
    )
    .await
}

async fn login_page(s: &TestServer) -> (String, String) {
    let r = s.get("/login").send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    (r.text().await.unwrap(), csp)
}

async fn branding_shows_on_the_pages(b: Backend) {
    let s = spawn(b).await;
    let (status, config) = patch(
        &s,
        json!({
            "display_name": "Acme <Notes>",
            "logo_url": "https://cdn.acme.example/logo.svg",
            "primary_color": "#1F6F43",
        }),
    )
    .await;
    assert_eq!(status, 200, "{config}");
    assert_eq!(
        config["branding"],
        json!({ "display_name": "Acme <Notes>", "logo_url": "https://cdn.acme.example/logo.svg", "primary_color": "#1f6f43" })
    );
    let (body, csp) = login_page(&s).await;
    assert!(
        body.contains("<title>Sign in · Acme &lt;Notes&gt;</title>"),
        "{body}"
    );
    assert!(
        body.contains(
            r#"<img class="logo" src="https://cdn.acme.example/logo.svg" alt="">Acme &lt;Notes&gt;"#
        ),
        "{body}"
    );
    assert!(!body.contains("<Notes>"), "escaped everywhere");
    assert!(body.contains(r#"href="/assets/brand.css?v=1f6f43""#), "{body}");
    assert!(
        csp.contains("img-src 'self' data: https://cdn.acme.example;"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let css = s.get("/assets/brand.css?v=1f6f43").send().await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.text().await.unwrap(), ":root { --accent: #1f6f43; }\n");
    // The JSON API is not branded.
    let (_, health) = send(s.get("/healthz")).await;
    assert_eq!(health["status"], "ok");
}

async fn branding_is_checked_and_resets(b: Backend) {
    let s = spawn(b).await;
    for (branding, field) in [
        (json!({ "display_name": "Acme\u{202E}" }), "branding.display_name"),
        (json!({ "display_name": "" }), "branding.display_name"),
        (
            json!({ "logo_url": "http://cdn.acme.example/logo.svg" }),
            "branding.logo_url",
        ),
        (
            json!({ "logo_url": "https://cdn.acme.example/x\".svg" }),
            "branding.logo_url",
        ),
        (json!({ "logo_url": "javascript:alert(1)" }), "branding.logo_url"),
        (json!({ "primary_color": "red" }), "branding.primary_color"),
        (json!({ "primary_color": "#ffe066" }), "branding.primary_color"),
    ] {
        let (status, err) = patch(&s, branding.clone()).await;
        assert_eq!(
            (status, error_code(&err)),
            (400, "invalid_settings"),
            "{branding}"
        );
        let problems = err["error"]["problems"].as_array().unwrap();
        assert!(problems.iter().any(|p| p["field"] == field), "{branding}: {err}");
    }
    let (status, err) = patch(&s, json!({ "colour": "#000000" })).await;
    assert_eq!(status, 400, "{err}");
    // Set, then back to the product's look with nulls.
    let (status, _) = patch(&s, json!({ "display_name": "Acme", "primary_color": "#1f6f43" })).await;
    assert_eq!(status, 200);
    assert!(login_page(&s).await.0.contains("Acme"));
    let (status, config) = patch(&s, json!({ "display_name": null, "primary_color": null })).await;
    assert_eq!(status, 200);
    assert_eq!(config["branding"]["display_name"], Value::Null);
    let (body, csp) = login_page(&s).await;
    assert!(body.contains("<title>Sign in · Latchkey</title>"), "{body}");
    assert!(!body.contains("brand.css"));
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    let css = s.get("/assets/brand.css").send().await.unwrap();
    assert_eq!(css.text().await.unwrap(), "");
}
