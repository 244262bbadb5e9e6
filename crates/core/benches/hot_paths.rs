//! Micro-benchmarks of the pure, per-request cryptography in `latchkey-core` (no I/O):
//! TOTP verification (an accepted code, and a wrong code that scans the whole ±1 window)
//! and raw HOTP; sealing and opening a 20-byte TOTP seed; the keyed hashes of a 6-digit
//! one-time code and of a refresh token; signing and verifying an access token; and
//! Argon2id password hashing and verification with the default (OWASP) parameters.
//!
//! Run: `cargo bench -p latchkey-core --bench hot_paths`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use latchkey_core::hash::{HashPurpose, KeyedHasher};
use latchkey_core::ids::{ChallengeId, FactorId, SessionId, TenantId, UserId};
use latchkey_core::jwt::{self, Claims, Signer};
use latchkey_core::password::{self, Argon2Params, PasswordHasher};
use latchkey_core::rand::OsRandom;
use latchkey_core::seal::{self, Keyring, MasterKey};
use latchkey_core::secret::opaque_token;
use latchkey_core::totp;
use std::hint::black_box;
use std::time::Duration;
use zeroize::Zeroizing;

/// A fixed instant (2027-01-15), so the codes are the same on every run.
const NOW_MS: i64 = 1_800_000_000_000;
const SECRET: [u8; totp::SECRET_BYTES] = [
    0x3d, 0xc6, 0xca, 0xa4, 0x82, 0x4a, 0x6d, 0x28, 0x87, 0x67, 0xb2, 0x33, 0x1e, 0x20, 0xb4, 0x31, 0x66,
    0xcb, 0x85, 0xd9,
];

const SHA1: totp::Algorithm = totp::Algorithm::Sha1;

fn bench_totp(c: &mut Criterion) {
    let step = totp::step_at(NOW_MS);
    let good = totp::code_at_step(SHA1, &SECRET, step);
    // A well-formed code that matches none of the three steps in the window.
    let bad = (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .find(|code| totp::verify(SHA1, &SECRET, code, NOW_MS, 1, None).is_none())
        .expect("some code is rejected");
    assert_eq!(totp::verify(SHA1, &SECRET, &good, NOW_MS, 1, None), Some(step));

    let mut g = c.benchmark_group("totp");
    g.bench_function("verify_accepted", |b| {
        b.iter(|| {
            totp::verify(
                SHA1,
                black_box(&SECRET),
                black_box(&good),
                black_box(NOW_MS),
                1,
                Some(step - 2),
            )
        })
    });
    g.bench_function("verify_rejected", |b| {
        b.iter(|| {
            totp::verify(
                SHA1,
                black_box(&SECRET),
                black_box(&bad),
                black_box(NOW_MS),
                1,
                Some(step - 2),
            )
        })
    });
    g.bench_function("hotp", |b| {
        b.iter(|| totp::hotp(SHA1, black_box(&SECRET), black_box(step as u64), totp::DIGITS))
    });
    g.finish();
}

fn bench_seal(c: &mut Criterion) {
    let ring = Keyring::new(MasterKey::from_bytes([7u8; 32]), vec![]);
    let factor = FactorId::generate(NOW_MS, &OsRandom);
    let aad = seal::aad("factors", "secret_sealed", factor.as_str());
    let sealed = ring.seal(&SECRET, &aad, &OsRandom).unwrap();
    assert_eq!(&**ring.open(&sealed, &aad).unwrap(), &SECRET);

    let mut g = c.benchmark_group("seal");
    g.bench_function("seal_totp_secret", |b| {
        b.iter(|| ring.seal(black_box(&SECRET), black_box(&aad), &OsRandom).unwrap())
    });
    g.bench_function("open_totp_secret", |b| {
        b.iter(|| ring.open(black_box(&sealed), black_box(&aad)).unwrap())
    });
    g.finish();
}

fn bench_hash(c: &mut Criterion) {
    let hasher = KeyedHasher::new(Zeroizing::new(vec![7u8; 32]));
    // Contexts as the server builds them: `<factor id>:<challenge id>` for a sent code, none
    // for a refresh token.
    let factor = FactorId::generate(NOW_MS, &OsRandom);
    let challenge = ChallengeId::generate(NOW_MS, &OsRandom);
    let otp_context = format!("{factor}:{challenge}");
    let refresh = opaque_token("rt_", &OsRandom);

    let mut g = c.benchmark_group("hash");
    g.bench_function("otp_code", |b| {
        b.iter(|| {
            hasher.hash(
                HashPurpose::OneTimeCode,
                black_box(&otp_context),
                black_box(b"492039"),
            )
        })
    });
    g.bench_function("refresh_token", |b| {
        b.iter(|| {
            hasher.hash(
                HashPurpose::RefreshToken,
                black_box(""),
                black_box(refresh.expose().as_bytes()),
            )
        })
    });
    g.finish();
}

fn bench_jwt(c: &mut Criterion) {
    let signer = Signer::from_secret(&[9u8; 32]).unwrap();
    let public = signer.public_bytes();
    let kid = signer.kid().to_owned();
    let lookup = |k: &str| (k == kid).then_some(public);
    let now_s = NOW_MS / 1000;
    let issuer = "https://auth.example.com";
    let claims = Claims {
        iss: issuer.into(),
        sub: UserId::generate(NOW_MS - 86_400_000, &OsRandom).to_string(),
        tid: TenantId::generate(NOW_MS - 90 * 86_400_000, &OsRandom).to_string(),
        sid: SessionId::generate(NOW_MS - 60_000, &OsRandom).to_string(),
        iat: now_s,
        exp: now_s + 900,
        auth_time: now_s - 60,
        amr: vec!["pwd".into(), "otp".into()],
        acr: "aal2".into(),
        mfa_time: Some(now_s - 30),
        jti: jwt::new_jti(&OsRandom),
        aud: None,
        client_id: None,
        scope: None,
    };
    let token = signer.sign(&claims);
    assert_eq!(
        jwt::verify(&token, lookup, |c: &jwt::Claims| c.iss == issuer, NOW_MS).unwrap(),
        claims
    );

    let mut g = c.benchmark_group("jwt");
    g.bench_function("sign_access_token", |b| {
        b.iter(|| signer.sign(black_box(&claims)))
    });
    g.bench_function("verify_access_token", |b| {
        b.iter(|| {
            jwt::verify(
                black_box(&token),
                lookup,
                |c: &jwt::Claims| c.iss == issuer,
                black_box(NOW_MS),
            )
            .unwrap()
        })
    });
    g.finish();
}

fn bench_password(c: &mut Criterion) {
    let hasher = PasswordHasher::new(Argon2Params::default(), &OsRandom).unwrap();
    let raw = "correct horse battery staple";
    let normalized = password::check_new(raw).unwrap();
    let stored = hasher.hash(&normalized, &OsRandom).unwrap();
    assert!(hasher.verify(raw, Some(&stored)));

    let mut g = c.benchmark_group("argon2id_default");
    g.sample_size(10);
    g.bench_function("hash", |b| {
        b.iter(|| hasher.hash(black_box(&normalized), &OsRandom).unwrap())
    });
    g.bench_function("verify", |b| {
        b.iter(|| hasher.verify(black_box(raw), black_box(Some(&stored))))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = hot_paths;
    config = config();
    targets = bench_totp, bench_seal, bench_hash, bench_jwt, bench_password
}
criterion_main!(hot_paths);
