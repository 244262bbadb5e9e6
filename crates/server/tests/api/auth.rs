//! Sign-up, sign-in, tokens, refresh rotation and sign-out.

use crate::both_stores;
use crate::helpers::*;
use serde_json::json;

both_stores!(
    signup_signs_in_and_me_works,
    email_variants_are_one_account,
    unknown_email_and_wrong_password_look_the_same,
    access_token_claims_and_signature,
    refresh_rotates_and_reuse_revokes_the_family,
    signout_ends_the_session,
    signup_validates_input,
    tokens_survive_a_restart_and_logs_carry_no_secrets,
    invisible_characters_make_no_look_alike_account,
    bidi_overrides_are_refused_in_names,
    access_tokens_are_typed_and_unique,
);

async fn signup_signs_in_and_me_works(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("alice@example.com").await;
    assert_eq!(body["user"]["email"], "alice@example.com");
    assert!(body["user"]["id"].as_str().unwrap().starts_with("usr_01"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("rt_"));
    assert!(body["user"].get("password_hash").is_none());

    let (status, signed_in) = s.signin("alice@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{signed_in}");
    let token = signed_in["access_token"].as_str().unwrap();
    let (status, me) = send(s.get("/v1/users/me").bearer_auth(token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], body["user"]["id"]);
    assert_eq!(me["email"], "alice@example.com");

    // Duplicate sign-up.
    let (status, dup) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "Alice@Example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, error_code(&dup)), (409, "email_taken"));
    s.stop().await;
}

async fn email_variants_are_one_account(b: Backend) {
    let s = spawn(b).await;
    let id = s.signup("alice@example.com").await["user"]["id"].clone();
    for variant in [
        "ALICE@example.com",
        " alice@example.com ",
        "ａｌｉｃｅ@example.com",
        "Alice@EXAMPLE.com",
    ] {
        let (status, body) = s.signin(variant, PASSWORD).await;
        assert_eq!(status, 200, "{variant}: {body}");
        assert_eq!(body["user"]["id"], id);
    }
    // The password is NFKC-normalised and trimmed too.
    let (status, _) = s.signin("alice@example.com", &format!(" {PASSWORD}\n")).await;
    assert_eq!(status, 200);
    s.stop().await;
}

async fn unknown_email_and_wrong_password_look_the_same(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    let (s1, mut b1) = s.signin("alice@example.com", "wrong password").await;
    let (s2, mut b2) = s.signin("nobody@example.com", "wrong password").await;
    let (s3, mut b3) = s.signin("not-an-email", "wrong password").await;
    for b in [&mut b1, &mut b2, &mut b3] {
        b["error"].as_object_mut().unwrap().remove("request_id");
    }
    assert_eq!((s1, s2, s3), (401, 401, 401));
    assert_eq!(b1, b2);
    assert_eq!(b1, b3);
    assert_eq!(error_code(&b1), "invalid_credentials");
    s.stop().await;
}

async fn access_token_claims_and_signature(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("alice@example.com").await;
    let token = body["access_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["iss"], "https://id.test");
    assert_eq!(c["sub"], body["user"]["id"]);
    assert_eq!(c["tid"], s.app.default_tenant.to_string());
    assert_eq!(c["amr"], json!(["pwd"]));
    assert_eq!(c["acr"], "aal1");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert!(c["sid"].as_str().unwrap().starts_with("ses_"));

    // The JWKS verifies it.
    let (_, jwks) = send(s.get("/.well-known/jwks.json")).await;
    let header: serde_json::Value = serde_json::from_slice(
        &latchkey_core::secret::b64url_decode(token.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap();
    let x: [u8; 32] = latchkey_core::secret::b64url_decode(jwk["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let now = latchkey_core::clock::Clock::now_ms(&s.clock);
    latchkey_core::jwt::verify(
        token,
        |_| Some(x),
        |c: &latchkey_core::jwt::Claims| c.iss == "https://id.test",
        now,
    )
    .unwrap();

    // An expired token is refused.
    s.clock.advance_secs(901);
    let (status, err) = send(s.get("/v1/users/me").bearer_auth(token)).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_token"));
    // A forged one too.
    let (status, _) = send(s.get("/v1/users/me").bearer_auth(format!("{token}x"))).await;
    assert_eq!(status, 401);
    s.stop().await;
}

async fn refresh_rotates_and_reuse_revokes_the_family(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("alice@example.com").await;
    let r1 = body["refresh_token"].as_str().unwrap().to_owned();
    let (status, next) = s
        .post_json("/v1/auth/refresh", json!({ "refresh_token": r1 }))
        .await;
    assert_eq!(status, 200, "{next}");
    let r2 = next["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(
        claims(next["access_token"].as_str().unwrap())["amr"],
        json!(["pwd"])
    );
    let a2 = next["access_token"].as_str().unwrap().to_owned();
    assert_eq!(send(s.get("/v1/users/me").bearer_auth(&a2)).await.0, 200);

    // Reusing r1 is refused and kills the family: r2 and its access token stop working.
    let (status, err) = s
        .post_json("/v1/auth/refresh", json!({ "refresh_token": r1 }))
        .await;
    assert_eq!((status, error_code(&err)), (401, "invalid_refresh_token"));
    let (status, _) = s
        .post_json("/v1/auth/refresh", json!({ "refresh_token": r2 }))
        .await;
    assert_eq!(status, 401);
    assert_eq!(send(s.get("/v1/users/me").bearer_auth(&a2)).await.0, 401);

    // Garbage and another tenant's hint are refused the same way.
    let (status, _) = s
        .post_json("/v1/auth/refresh", json!({ "refresh_token": "rt_nope" }))
        .await;
    assert_eq!(status, 401);
    let fresh = s.signup("bob@example.com").await;
    let (other, _) = s.app.create_tenant("other").await.unwrap();
    let (status, _) = send(
        s.post("/v1/auth/refresh")
            .header("x-tenant-id", other.id.to_string())
            .json(&json!({ "refresh_token": fresh["refresh_token"] })),
    )
    .await;
    assert_eq!(status, 401);

    // Refresh families expire after the refresh lifetime.
    let (status, _) = s
        .post_json(
            "/v1/auth/refresh",
            json!({ "refresh_token": fresh["refresh_token"] }),
        )
        .await;
    assert_eq!(status, 200, "the hint check did not spend the token");
    let body = s.signup("carol@example.com").await;
    s.clock.advance_secs(30 * 86_400 + 1);
    let (status, _) = s
        .post_json(
            "/v1/auth/refresh",
            json!({ "refresh_token": body["refresh_token"] }),
        )
        .await;
    assert_eq!(status, 401);
    s.stop().await;
}

async fn signout_ends_the_session(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("alice@example.com").await;
    let access = body["access_token"].as_str().unwrap();
    let (status, _) = send(s.post("/v1/auth/signout").bearer_auth(access)).await;
    assert_eq!(status, 204);
    assert_eq!(send(s.get("/v1/users/me").bearer_auth(access)).await.0, 401);
    let (status, _) = s
        .post_json(
            "/v1/auth/refresh",
            json!({ "refresh_token": body["refresh_token"] }),
        )
        .await;
    assert_eq!(status, 401);

    // Signing out by refresh token.
    let (_, other) = s.signin("alice@example.com", PASSWORD).await;
    let (status, _) = s
        .post_json(
            "/v1/auth/signout",
            json!({ "refresh_token": other["refresh_token"] }),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        send(
            s.get("/v1/users/me")
                .bearer_auth(other["access_token"].as_str().unwrap())
        )
        .await
        .0,
        401
    );
    // Without credentials.
    assert_eq!(send(s.post("/v1/auth/signout")).await.0, 401);
    s.stop().await;
}

async fn signup_validates_input(b: Backend) {
    let s = spawn(b).await;
    let cases = [
        (json!({ "email": "nope", "password": PASSWORD }), "invalid_email"),
        (
            json!({ "email": "a@example.com", "password": "short" }),
            "invalid_password",
        ),
        (
            json!({ "email": "a@example.com", "password": "       1234567      " }),
            "invalid_password",
        ),
        (
            json!({ "email": "a@example.com", "password": PASSWORD, "phone_number": "4155552671" }),
            "invalid_phone_number",
        ),
        (
            json!({ "email": "a@example.com", "password": PASSWORD, "name": "a\u{0}b" }),
            "invalid_name",
        ),
        (json!({ "email": "a@example.com" }), "missing_field"),
        (
            json!({ "email": "a@example.com", "password": PASSWORD, "admin": true }),
            "unknown_field",
        ),
    ];
    for (body, code) in cases {
        let (status, err) = s.post_json("/v1/auth/signup", body.clone()).await;
        assert_eq!((status, error_code(&err)), (400, code), "{body}");
    }
    // Long passwords (well past 64 characters) are accepted.
    let long = "ü".repeat(300);
    let (status, _) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "long@example.com", "password": long }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = s.signin("long@example.com", &long).await;
    assert_eq!(status, 200);
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "p@example.com", "password": PASSWORD, "phone_number": "+14155552671", "name": "Pat" }),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["user"]["phone_number"], "+14155552671");
    assert_eq!(body["user"]["phone_verified"], false);

    // Sign-up can be closed by the tenant.
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "signup_enabled": false })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, err) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "z@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, error_code(&err)), (403, "signup_disabled"));
    s.stop().await;
}

async fn tokens_survive_a_restart_and_logs_carry_no_secrets(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("leak-check@example.com").await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    let (_, again) = s.signin("leak-check@example.com", PASSWORD).await;
    let (_, refreshed) = s
        .post_json(
            "/v1/auth/refresh",
            json!({ "refresh_token": again["refresh_token"] }),
        )
        .await;
    let (b, dir, schema, clock) = s.stop().await;

    // Same database, same master key file: the signing key and sessions carry over.
    let s = spawn_with(b, dir, schema, clock, |_| {}).await;
    let (status, _) = send(s.get("/v1/users/me").bearer_auth(&access)).await;
    assert_eq!(status, 200);
    let (status, _) = s
        .post_json(
            "/v1/auth/refresh",
            json!({ "refresh_token": refreshed["refresh_token"] }),
        )
        .await;
    assert_eq!(status, 200);

    let logs = logs();
    assert!(logs.contains("password sign-in"), "sign-in outcomes are logged");
    for secret in [
        PASSWORD,
        &access,
        body["refresh_token"].as_str().unwrap(),
        again["refresh_token"].as_str().unwrap(),
        refreshed["access_token"].as_str().unwrap(),
        BOOTSTRAP_KEY,
    ] {
        assert!(!logs.contains(secret), "a secret reached the log");
    }
    s.stop().await;
}

/// SECURITY.md tests 69 and 77: an address with an invisible character renders like the
/// real one, so it must not become a second account.
async fn invisible_characters_make_no_look_alike_account(b: Backend) {
    let s = spawn(b).await;
    let alice = s.signup("alice@example.com").await;
    for email in [
        "alice\u{200B}@example.com",
        "alice\u{00AD}@example.com",
        "ali\u{200D}ce@example.com",
        "alice\u{200C}@example.com",
        "\u{202E}alice@example.com",
        "alice\u{200E}@example.com",
        "alice@exam\u{2060}ple.com",
        "\u{2066}alice\u{2069}@example.com",
        "alice\u{FEFF}@example.com",
    ] {
        let (status, err) = s
            .post_json("/v1/auth/signup", json!({ "email": email, "password": PASSWORD }))
            .await;
        assert_eq!(
            (status, error_code(&err)),
            (400, "invalid_email"),
            "{email:?}: {err}"
        );
        // Nor does it sign in to anything.
        let (status, err) = s.signin(email, PASSWORD).await;
        assert_eq!(
            (status, error_code(&err)),
            (401, "invalid_credentials"),
            "{email:?}"
        );
    }
    let (_, found) = send(s.admin(s.get("/v1/admin/users"))).await;
    assert_eq!(found["users"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["users"][0]["id"], alice["user"]["id"]);
    s.stop().await;
}

/// A right-to-left override in a name would reverse its text wherever it is shown (at
/// sign-in, to admins): names and factor names refuse bidi controls and invisible characters.
async fn bidi_overrides_are_refused_in_names(b: Backend) {
    let s = spawn(b).await;
    for (i, name) in [
        "Alice\u{202E}nimda",
        "\u{2067}Bob\u{2069}",
        "Carol\u{200B}",
        "\u{3164}",
        "Dan\u{2028}Smith",
        "Eve\u{E0041}",
    ]
    .into_iter()
    .enumerate()
    {
        let (status, err) = s
            .post_json(
                "/v1/auth/signup",
                json!({ "email": format!("u{i}@example.com"), "password": PASSWORD, "name": name }),
            )
            .await;
        assert_eq!(
            (status, error_code(&err)),
            (400, "invalid_name"),
            "{name:?}: {err}"
        );
    }
    let body = s.signup("frank@example.com").await;
    let token = body["access_token"].as_str().unwrap();
    let enroll = |name: &str| {
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(token)
            .json(&json!({ "type": "totp", "name": name }))
    };
    for name in ["Phone\u{202E}", "\u{202D}Key", "Work\u{2066}", "Laptop\u{00AD}"] {
        let (status, err) = send(enroll(name)).await;
        assert_eq!(
            (status, error_code(&err)),
            (400, "invalid_name"),
            "{name:?}: {err}"
        );
    }
    // Ordinary names in any script still work.
    let (status, e) = send(enroll("Téléphone de José")).await;
    assert_eq!(status, 201, "{e}");
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "g@example.com", "password": PASSWORD, "name": "محمد Smith" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    s.stop().await;
}

/// RFC 9068: access tokens are typed `at+jwt` and carry a random `jti`, so two tokens
/// minted in the same second (the clock here does not move) are never the same bytes.
async fn access_tokens_are_typed_and_unique(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("alice@example.com").await;
    let (_, one) = s.signin("alice@example.com", PASSWORD).await;
    let (_, two) = s.signin("alice@example.com", PASSWORD).await;
    // Two refreshes of one session: same sub, sid, iat and exp; before jti these were
    // byte-identical tokens.
    let (_, r1) = s
        .post_json(
            "/v1/auth/refresh",
            json!({ "refresh_token": body["refresh_token"] }),
        )
        .await;
    let (_, r2) = s
        .post_json(
            "/v1/auth/refresh",
            json!({ "refresh_token": r1["refresh_token"] }),
        )
        .await;
    let tokens: Vec<String> = [&body, &one, &two, &r1, &r2]
        .iter()
        .map(|b| b["access_token"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(claims(&tokens[3])["sid"], claims(&tokens[4])["sid"]);
    assert_eq!(claims(&tokens[3])["iat"], claims(&tokens[4])["iat"]);
    let mut jtis = std::collections::HashSet::new();
    for (i, t) in tokens.iter().enumerate() {
        assert!(
            tokens[..i].iter().all(|u| u != t),
            "token {i} repeats an earlier one"
        );
        let jti = claims(t)["jti"].as_str().unwrap().to_owned();
        let raw = latchkey_core::secret::b64url_decode(&jti).unwrap();
        assert!(raw.len() >= 16, "jti has at least 128 bits: {jti}");
        assert!(jtis.insert(jti), "jti {i} repeats");
        let header: serde_json::Value = serde_json::from_slice(
            &latchkey_core::secret::b64url_decode(t.split('.').next().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(header["typ"], "at+jwt");
    }
    assert_eq!(send(s.get("/v1/users/me").bearer_auth(&tokens[4])).await.0, 200);
    s.stop().await;
}
