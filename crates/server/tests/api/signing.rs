//! Signing keys: a key per ID-token algorithm in the JWKS, ID tokens that verify (by the
//! server and independently, from the JWKS alone), rotation that publishes a key before it
//! signs and retires the old one once its tokens have expired, and a second server on the
//! same database that sees a rotation.

use crate::both_stores;
use crate::helpers::*;
use latchkey_core::jwt::JwtError;
use latchkey_core::oidc::SigningAlg;
use latchkey_core::secret::b64url_decode;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey};
use openssl::sign::Verifier;
use serde_json::{json, Value};

both_stores!(
    jwks_lists_a_key_per_algorithm_and_id_tokens_verify,
    rotation_publishes_before_it_signs_and_retires_after_expiry,
    a_second_server_sees_a_rotation,
);

fn header(token: &str) -> Value {
    serde_json::from_slice(&b64url_decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

async fn jwks(s: &TestServer) -> Value {
    let (status, body) = send(s.get("/.well-known/jwks.json")).await;
    assert_eq!(status, 200);
    body
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies `token` with the JWK of its kid, using OpenSSL alone: what a relying party
/// that knows nothing of Latchkey's code does.
fn verifies_with_jwks(jwks: &Value, token: &str) -> bool {
    let kid = header(token)["kid"].clone();
    let Some(jwk) = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid) else {
        return false;
    };
    assert_eq!(jwk["alg"], header(token)["alg"]);
    let field = |name: &str| b64url_decode(jwk[name].as_str().unwrap()).unwrap();
    let bn = |name: &str| BigNum::from_slice(&field(name)).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = b64url_decode(sig).unwrap();
    match jwk["kty"].as_str().unwrap() {
        "RSA" => {
            let rsa = openssl::rsa::Rsa::from_public_components(bn("n"), bn("e")).unwrap();
            let key = PKey::from_rsa(rsa).unwrap();
            let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
            v.update(input.as_bytes()).unwrap();
            v.verify(&sig).unwrap()
        }
        "EC" => {
            assert_eq!(jwk["crv"], "P-256");
            let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
            let ec =
                openssl::ec::EcKey::from_public_key_affine_coordinates(&group, &bn("x"), &bn("y")).unwrap();
            let key = PKey::from_ec_key(ec).unwrap();
            assert_eq!(sig.len(), 64);
            let der = openssl::ecdsa::EcdsaSig::from_private_components(
                BigNum::from_slice(&sig[..32]).unwrap(),
                BigNum::from_slice(&sig[32..]).unwrap(),
            )
            .unwrap()
            .to_der()
            .unwrap();
            let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
            v.update(input.as_bytes()).unwrap();
            v.verify(&der).unwrap()
        }
        "OKP" => {
            assert_eq!(jwk["crv"], "Ed25519");
            let key = PKey::public_key_from_raw_bytes(&field("x"), Id::ED25519).unwrap();
            let mut v = Verifier::new_without_digest(&key).unwrap();
            v.verify_oneshot(&sig, input.as_bytes()).unwrap()
        }
        other => panic!("unexpected kty {other}"),
    }
}

fn id_claims(s: &TestServer, sub: &str) -> Value {
    let now = s.app.now() / 1000;
    json!({ "iss": s.app.issuer, "sub": sub, "aud": "app_1", "iat": now, "exp": now + 300, "nonce": "n1" })
}

async fn jwks_lists_a_key_per_algorithm_and_id_tokens_verify(b: Backend) {
    let s = spawn(b).await;
    let crypto = &s.app.crypto;
    let set = jwks(&s).await;
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3, "{set}");
    for (alg, kty) in [("RS256", "RSA"), ("ES256", "EC"), ("EdDSA", "OKP")] {
        let k = keys.iter().find(|k| k["alg"] == alg).unwrap();
        assert_eq!((k["kty"].as_str(), k["use"].as_str()), (Some(kty), Some("sig")));
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(k.get(private).is_none(), "{alg} shows {private}");
        }
    }
    // Access tokens are signed by the EdDSA key the JWKS lists.
    assert_eq!(
        crypto.signer().kid(),
        crypto.signing_kid(SigningAlg::EdDSA),
        "access tokens and EdDSA ID tokens share the EdDSA key"
    );

    for alg in SigningAlg::ALL {
        let claims = id_claims(&s, "usr_1");
        let token = crypto.sign_id_token(alg, &claims).unwrap();
        let h = header(&token);
        assert_eq!(
            h,
            json!({ "alg": alg.as_str(), "typ": "JWT", "kid": crypto.signing_kid(alg) })
        );
        assert!(verifies_with_jwks(&set, &token), "{alg:?}");
        assert_eq!(
            crypto.verify_id_token(&s.app.store, &token, &s.app.issuer).await,
            Ok(claims.clone())
        );
        assert_eq!(
            crypto
                .verify_id_token(&s.app.store, &token, "https://other.test")
                .await,
            Err(JwtError::WrongIssuer)
        );
        // Tampered: another subject under the same signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = latchkey_core::secret::b64url(&serde_json::to_vec(&id_claims(&s, "usr_2")).unwrap());
        assert_eq!(
            crypto
                .verify_id_token(&s.app.store, &parts.join("."), &s.app.issuer)
                .await,
            Err(JwtError::BadSignature)
        );
    }
    // An expired ID token still verifies: a logout's id_token_hint may be old.
    let mut old = id_claims(&s, "usr_1");
    old["exp"] = json!(1);
    let token = crypto.sign_id_token(SigningAlg::RS256, &old).unwrap();
    assert_eq!(
        crypto.verify_id_token(&s.app.store, &token, &s.app.issuer).await,
        Ok(old)
    );

    // An access token is not an ID token, and an EdDSA ID token is not an access token,
    // though the same key signs both: their types differ.
    let body = s.signup("alice@example.com").await;
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        crypto.verify_id_token(&s.app.store, access, &s.app.issuer).await,
        Err(JwtError::BadHeader)
    );
    let mut claims = id_claims(&s, body["user"]["id"].as_str().unwrap());
    for (k, v) in claims_of(access) {
        claims[k] = v;
    }
    let id_token = crypto.sign_id_token(SigningAlg::EdDSA, &claims).unwrap();
    let (status, _) = send(s.get("/v1/users/me").bearer_auth(&id_token)).await;
    assert_eq!(status, 401);
    assert_eq!(send(s.get("/v1/users/me").bearer_auth(access)).await.0, 200);
    s.stop().await;
}

/// Every claim of an access token (so only the type tells the two apart).
fn claims_of(token: &str) -> Vec<(String, Value)> {
    claims(token).as_object().unwrap().clone().into_iter().collect()
}

async fn rotation_publishes_before_it_signs_and_retires_after_expiry(b: Backend) {
    let s = spawn(b).await;
    let (crypto, store) = (&s.app.crypto, &s.app.store);
    let old = crypto.signing_kid(SigningAlg::RS256);
    let others = (
        crypto.signing_kid(SigningAlg::ES256),
        crypto.signer().kid().to_owned(),
    );
    let before = crypto
        .sign_id_token(SigningAlg::RS256, &id_claims(&s, "usr_1"))
        .unwrap();

    let r = crypto
        .rotate_signing_key(store, SigningAlg::RS256, 600, s.app.rng.as_ref())
        .await
        .unwrap();
    assert_ne!(r.kid, old);
    assert_eq!(r.retiring, std::slice::from_ref(&old));
    assert_eq!(r.signs_from - r.published_at, 600_000);
    assert_eq!(r.retire_at, r.signs_from + 24 * 3600 * 1000 + 5 * 60 * 1000);

    // Published at once; the old key still signs.
    let set = jwks(&s).await;
    assert!(kids(&set).contains(&r.kid) && kids(&set).contains(&old), "{set}");
    assert_eq!(
        header(
            &crypto
                .sign_id_token(SigningAlg::RS256, &id_claims(&s, "u"))
                .unwrap()
        )["kid"],
        old
    );
    s.clock.set_ms(r.signs_from - 1);
    assert_eq!(crypto.signing_kid(SigningAlg::RS256), old);
    // From signs_from the new key signs (chosen by the clock, no read needed).
    s.clock.set_ms(r.signs_from);
    let after = crypto
        .sign_id_token(SigningAlg::RS256, &id_claims(&s, "usr_1"))
        .unwrap();
    assert_eq!(header(&after)["kid"], r.kid);
    // Other algorithms and access tokens are untouched.
    assert_eq!(
        (
            crypto.signing_kid(SigningAlg::ES256),
            crypto.signer().kid().to_owned()
        ),
        others
    );

    // Both verify while both are published, by the server and from the JWKS.
    let set = jwks(&s).await;
    for token in [&before, &after] {
        assert!(crypto.verify_id_token(store, token, &s.app.issuer).await.is_ok());
        assert!(verifies_with_jwks(&set, token));
    }
    // The old key stays published until its retirement, then it is gone and verifies nothing.
    s.clock.set_ms(r.retire_at - 1);
    assert!(kids(&jwks(&s).await).contains(&old));
    assert!(crypto
        .verify_id_token(store, &before, &s.app.issuer)
        .await
        .is_ok());
    s.clock.set_ms(r.retire_at);
    let set = jwks(&s).await;
    assert!(!kids(&set).contains(&old), "{set}");
    assert_eq!(kids(&set).len(), 3);
    assert_eq!(
        crypto.verify_id_token(store, &before, &s.app.issuer).await,
        Err(JwtError::UnknownKey)
    );
    assert!(crypto.verify_id_token(store, &after, &s.app.issuer).await.is_ok());

    // EdDSA with no publish-ahead: access tokens are signed by the new key at once, and a
    // token from the old key keeps working while it lives.
    let alice = s.signup("alice@example.com").await;
    let old_access = alice["access_token"].as_str().unwrap();
    let r = crypto
        .rotate_signing_key(store, SigningAlg::EdDSA, 0, s.app.rng.as_ref())
        .await
        .unwrap();
    let (_, fresh) = s.signin("alice@example.com", PASSWORD).await;
    assert_eq!(header(fresh["access_token"].as_str().unwrap())["kid"], r.kid);
    assert_eq!(send(s.get("/v1/users/me").bearer_auth(old_access)).await.0, 200);
    s.stop().await;
}

async fn a_second_server_sees_a_rotation(b: Backend) {
    let one = spawn(b).await;
    // A second replica on the same database, on the same (hand-driven) clock.
    let two = spawn_with(
        b,
        one.dir.clone(),
        one.pg_schema.clone(),
        one.clock.clone(),
        |_| {},
    )
    .await;
    assert_eq!(
        jwks(&one).await,
        jwks(&two).await,
        "replicas publish the same keys"
    );
    for alg in SigningAlg::ALL {
        assert_eq!(one.app.crypto.signing_kid(alg), two.app.crypto.signing_kid(alg));
    }

    // Without publish-ahead, the first replica signs with its new key at once; the second
    // has not read it yet, and reads it when a token names it.
    let r = one
        .app
        .crypto
        .rotate_signing_key(&one.app.store, SigningAlg::EdDSA, 0, one.app.rng.as_ref())
        .await
        .unwrap();
    assert!(!kids(&jwks(&two).await).contains(&r.kid), "not read yet");
    let body = one.signup("alice@example.com").await;
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(header(access)["kid"], r.kid);
    assert_eq!(send(two.get("/v1/users/me").bearer_auth(access)).await.0, 200);
    assert!(kids(&jwks(&two).await).contains(&r.kid));
    let id = one
        .app
        .crypto
        .sign_id_token(SigningAlg::EdDSA, &id_claims(&one, "usr_1"))
        .unwrap();
    assert!(two
        .app
        .crypto
        .verify_id_token(&two.app.store, &id, &two.app.issuer)
        .await
        .is_ok());

    // A scheduled rotation: the second replica publishes the new key within a reload
    // interval of its clock, and signs with it from its time, like the first.
    let r = one
        .app
        .crypto
        .rotate_signing_key(&one.app.store, SigningAlg::RS256, 600, one.app.rng.as_ref())
        .await
        .unwrap();
    one.clock.advance_secs(61);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !kids(&jwks(&two).await).contains(&r.kid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the second replica never read the new key"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_ne!(two.app.crypto.signing_kid(SigningAlg::RS256), r.kid);
    one.clock.set_ms(r.signs_from);
    assert_eq!(two.app.crypto.signing_kid(SigningAlg::RS256), r.kid);
    let token = two
        .app
        .crypto
        .sign_id_token(SigningAlg::RS256, &id_claims(&two, "usr_1"))
        .unwrap();
    assert!(verifies_with_jwks(&jwks(&one).await, &token));
    two.stop().await;
    one.stop().await;
}
