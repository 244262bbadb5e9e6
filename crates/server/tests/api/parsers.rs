//! Property tests for the server's parsers of untrusted input: the strict JSON body
//! extractor and configuration loading. They call the parsers directly (no server), so a
//! few hundred cases each stay fast. The core parsers have theirs beside their code.

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::Request;
use latchkey_server::config::{Config, ConfigErrors, Overrides};
use latchkey_server::http::common::extract::StrictJson;
use latchkey_server::http::v1::dto::{EnrollRequest, SettingsPatchRequest, SignupRequest, VerifyRequest};
use latchkey_server::http::v1::error::ApiError;
use latchkey_server::http::v1::V1;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

/// Runs the extractor on one body; `Err` carries the status and code.
fn extract<T: DeserializeOwned>(
    rt: &tokio::runtime::Runtime,
    content_type: &str,
    body: Vec<u8>,
) -> Result<T, (u16, &'static str)> {
    let req = Request::post("/")
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    rt.block_on(StrictJson::<T, V1>::from_request(req, &()))
        .map(|StrictJson(v, _)| v)
        .map_err(|e: ApiError| (e.status.as_u16(), e.code.as_str()))
}

/// Every rejection is a client error with a stable code: never a panic, never a 5xx.
fn all_bodies_are_client_errors_or_accepted(
    rt: &tokio::runtime::Runtime,
    body: &[u8],
) -> Result<(), TestCaseError> {
    fn check<T: DeserializeOwned>(rt: &tokio::runtime::Runtime, body: &[u8]) -> Result<(), TestCaseError> {
        if let Err((status, code)) = extract::<T>(rt, "application/json", body.to_vec()) {
            prop_assert!((400..500).contains(&status), "{status} {code}");
            prop_assert!(
                [
                    "invalid_json",
                    "invalid_field",
                    "missing_field",
                    "unknown_field",
                    "duplicate_field"
                ]
                .contains(&code),
                "{code}"
            );
        }
        Ok(())
    }
    check::<VerifyRequest>(rt, body)?;
    check::<SignupRequest>(rt, body)?;
    check::<EnrollRequest>(rt, body)?;
    check::<SettingsPatchRequest>(rt, body)?;
    check::<Value>(rt, body)?;
    Ok(())
}

/// Arbitrary JSON, keys biased towards the fields our requests have.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::from),
        "[0-9]{6}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("code".to_owned()),
        Just("challenge_id".to_owned()),
        Just("factor_id".to_owned()),
        Just("email".to_owned()),
        Just("password".to_owned()),
        Just("type".to_owned()),
        Just("totp_window".to_owned()),
        Just("send_limits".to_owned()),
        "\\PC{0,8}",
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_or_5xx(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let rt = runtime();
        all_bodies_are_client_errors_or_accepted(&rt, &body)?;
    }

    #[test]
    fn arbitrary_json_never_panics_or_5xx(v in json_value()) {
        let rt = runtime();
        all_bodies_are_client_errors_or_accepted(&rt, v.to_string().as_bytes())?;
    }

    /// RFC 7493 §2.3 (I-JSON: "MUST NOT have duplicate names"): a repeated key is refused,
    /// never last-wins, whatever the values (SECURITY.md test 65).
    #[test]
    fn duplicate_keys_are_refused(first in "[0-9]{6}", second in "[0-9]{6}", pos in 0usize..3) {
        let rt = runtime();
        let mut fields = vec![
            r#""challenge_id":"chl_x""#.to_owned(),
            r#""factor_id":"fac_x""#.to_owned(),
        ];
        fields.insert(pos.min(2), format!(r#""code":"{first}""#));
        fields.push(format!(r#""code":"{second}""#));
        let body = format!("{{{}}}", fields.join(","));
        prop_assert_eq!(
            extract::<VerifyRequest>(&rt, "application/json", body.into_bytes()).err(),
            Some((400, "duplicate_field"))
        );
    }

    /// Only a JSON media type is read; anything else is 415 before the body is looked at.
    #[test]
    fn other_media_types_are_refused(ct in "[a-z]{1,10}/[a-z+.-]{1,12}") {
        let rt = runtime();
        let is_json = ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"));
        let got = extract::<Value>(&rt, &ct, b"{}".to_vec());
        if is_json {
            prop_assert!(got.is_ok());
        } else {
            prop_assert_eq!(got.err(), Some((415, "unsupported_media_type")));
        }
    }
}

/// The settings `Config::load_from` takes from the environment, with values that are
/// sometimes right and sometimes not. The `*_FILE` variants are left out: they read paths.
const KEYS: &[&str] = &[
    "LISTEN",
    "DATA_DIR",
    "DATABASE_URL",
    "DATABASE_MAX_CONNECTIONS",
    "PUBLIC_URL",
    "MASTER_KEY",
    "PREVIOUS_MASTER_KEYS",
    "BOOTSTRAP_SECRET_KEY",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "ARGON2_MEMORY_KIB",
    "ARGON2_ITERATIONS",
    "ARGON2_PARALLELISM",
    "HASH_CONCURRENCY",
    "MAX_BODY_BYTES",
    "SHUTDOWN_GRACE",
    "MFA_REQUIRED",
    "TOTP_ISSUER",
    "SMS_PROVIDER",
    "EMAIL_PROVIDER",
    "DELIVERY_TIMEOUT",
    "DELIVERY_MAX_ATTEMPTS",
    "SQLITE_SYNCHRONOUS",
];

fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,24}",
        "[0-9]{1,12}",
        "[0-9]{1,4}[smhd]",
        Just("true".to_owned()),
        Just("json".to_owned()),
        Just("127.0.0.1:0".to_owned()),
        Just("postgres://u@h/db".to_owned()),
        Just("https://id.example".to_owned()),
        Just(r#"{"provider":"console"}"#.to_owned()),
        Just(r#"{"provider":"twilio"}"#.to_owned()),
        "[0-9a-f]{64}",
        "sk_live_[a-z0-9]{32}",
    ]
}

fn load(dir: &std::path::Path, env: &[(String, String)]) -> Result<Config, ConfigErrors> {
    let o = Overrides {
        config_file: Some(dir.join("empty.toml")),
        ..Default::default()
    };
    Config::load_from(&o, env.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Never panics; every error names where it came from; and a value refused on its own
    /// is still reported when other settings are wrong too (all problems at once).
    #[test]
    fn config_loading_lists_every_problem(
        pairs in prop::collection::vec((0..KEYS.len(), env_value()), 0..6),
        extra in prop_oneof![Just(None), "[A-Z_]{1,12}".prop_map(Some)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty.toml"), "").unwrap();
        let mut env: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (format!("LATCHKEY_{}", KEYS[*k]), v.clone()))
            .collect();
        if let Some(name) = extra {
            env.push((format!("LATCHKEY_{name}"), "1".into()));
        }
        let together = load(dir.path(), &env);
        if let Err(errors) = &together {
            prop_assert!(!errors.0.is_empty());
            for line in &errors.0 {
                let sourced = env.iter().any(|(k, _)| line.starts_with(&format!("{k}:")))
                    || ["access_token_ttl:", "refresh_token_ttl:", "argon2:"]
                        .iter()
                        .any(|p| line.starts_with(p));
                prop_assert!(sourced, "{line:?} does not say where it came from");
            }
        }
        for (name, value) in &env {
            // A variable given twice: only its last value counts, like the shell's.
            if env.iter().filter(|(k, _)| k == name).count() > 1 {
                continue;
            }
            if let Err(alone) = load(dir.path(), &[(name.clone(), value.clone())]) {
                if alone.0.iter().any(|l| l.starts_with(&format!("{name}:"))) {
                    let listed = together
                        .as_ref()
                        .err()
                        .is_some_and(|e| e.0.iter().any(|l| l.starts_with(&format!("{name}:"))));
                    prop_assert!(listed, "{name} refused alone but not listed with the others");
                }
            }
        }
    }
}
