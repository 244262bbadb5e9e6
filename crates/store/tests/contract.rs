//! The store contract: every backend must behave identically. Each case runs on SQLite and,
//! when `LATCHKEY_TEST_DATABASE_URL` is set (always in CI), on PostgreSQL in a schema of
//! its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use latchkey_core::clock::UnixMillis;
use latchkey_core::email::Email;
use latchkey_core::factor::{ChallengePurpose, FactorKind, FactorStatus};
use latchkey_core::ids::*;
use latchkey_core::rand::OsRandom;
use latchkey_core::settings::TenantSettings;
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use latchkey_store::model::*;
use latchkey_store::{open, DynStore, OpenOptions, StoreError};
use std::sync::Arc;

const T0: UnixMillis = 1_800_000_000_000;

struct Backend {
    store: DynStore,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let store = open(&OpenOptions::new(url)).await.unwrap();
    store.migrate().await.unwrap();
    Backend {
        store,
        _dir: Some(dir),
    }
}

fn pg_url() -> Option<String> {
    match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set LATCHKEY_TEST_DATABASE_URL so PostgreSQL is never skipped"
            );
            None
        }
    }
}

async fn postgres() -> Option<Backend> {
    let url = pg_url()?;
    let schema = format!("lk_test_{}", ulid(T0).to_lowercase());
    let mut opts = OpenOptions::new(url);
    opts.pg_schema = Some(schema);
    let store = open(&opts).await.unwrap();
    store.migrate().await.unwrap();
    Some(Backend { store, _dir: None })
}

fn ulid(t: UnixMillis) -> String {
    latchkey_core::ids::ulid(t, &OsRandom)
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let b = super::sqlite().await;
                super::$case(b.store.clone()).await;
                b.store.close().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(b) = super::postgres().await else {
                    eprintln!("LATCHKEY_TEST_DATABASE_URL unset: PostgreSQL case skipped");
                    return;
                };
                super::$case(b.store.clone()).await;
                b.store.close().await;
            })*
        }
    };
}

contract!(
    migrations_are_idempotent,
    tenants_round_trip,
    default_tenant_is_created_once,
    api_keys_are_found_by_hash_and_revoked,
    users_are_unique_per_tenant_and_scoped,
    refresh_tokens_rotate_once_and_reuse_revokes_family,
    parallel_refresh_rotates_exactly_once,
    throttle_counts_locks_and_resets,
    parallel_throttle_burst_cannot_exceed_limit,
    server_secrets_and_signing_keys,
    pending_factors_activate_once_with_backup_codes_first,
    parallel_totp_step_is_accepted_once,
    parallel_backup_code_is_accepted_once,
    a_challenge_completes_once,
    failed_proof_leaves_the_challenge_open,
    deleting_factors_and_resetting_mfa,
    audit_events_page_newest_first,
    issuing_codes_respects_cooldown_limits_and_supersedes,
    outbox_messages_are_claimed_once,
    sent_codes_complete_challenges_once,
    providers_and_stats,
    sign_in_writes_commit_only_with_the_challenge,
    attempts_lock_count_and_complete_in_one_transaction,
    parallel_attempts_evaluate_at_most_the_free_ones,
    a_group_commit_keeps_each_write_apart,
    seeding_loads_rows_as_given,
    activation_rechecks_its_rules_in_its_transaction,
    a_first_factor_ends_other_sessions_and_enrollments,
    factor_changes_end_every_session_but_the_callers,
    narrowing_counts_users_to_reenroll,
    a_sent_code_keeps_its_challenge_open,
    idempotency_keys_start_once_and_replay,
    meta_values_round_trip,
);

fn tenant(name: &str) -> Tenant {
    Tenant {
        id: TenantId::generate(T0, &OsRandom),
        name: name.into(),
        settings: TenantSettings::default(),
        created_at: T0,
    }
}

fn key(t: &TenantId, hash: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::generate(T0, &OsRandom),
        tenant_id: t.clone(),
        name: "k".into(),
        key_hash: hash.into(),
        display_prefix: "sk_live_abcd".into(),
        created_at: T0,
        revoked_at: None,
    }
}

fn user(t: &TenantId, email: &str) -> User {
    User {
        id: UserId::generate(T0, &OsRandom),
        tenant_id: t.clone(),
        email: Email::parse(email).unwrap(),
        password_hash: "$argon2id$fake".into(),
        name: Some("A".into()),
        phone_sealed: None,
        phone_hash: None,
        phone_verified_at: None,
        created_at: T0,
        updated_at: T0,
    }
}

async fn user_in_new_tenant(s: &DynStore) -> User {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let u = user(&t.id, "alice@example.com");
    s.insert_user(&u).await.unwrap();
    u
}

fn session(u: &User, expires_at: UnixMillis) -> Session {
    Session {
        id: SessionId::generate(T0, &OsRandom),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        amr: vec!["pwd".into()],
        acr: "aal1".into(),
        auth_time: T0,
        mfa_at: None,
        created_at: T0,
        expires_at,
        revoked_at: None,
    }
}

async fn migrations_are_idempotent(s: DynStore) {
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    s.ping().await.unwrap();
}

async fn tenants_round_trip(s: DynStore) {
    let mut t = tenant("Acme");
    s.insert_tenant(&t).await.unwrap();
    assert_eq!(s.get_tenant(&t.id).await.unwrap(), Some(t.clone()));
    assert!(matches!(s.insert_tenant(&t).await, Err(StoreError::Conflict)));
    t.settings.access_token_ttl_secs = 120;
    assert!(s.update_tenant_settings(&t, T0 + 1).await.unwrap());
    assert_eq!(
        s.get_tenant(&t.id)
            .await
            .unwrap()
            .unwrap()
            .settings
            .access_token_ttl_secs,
        120
    );
    assert_eq!(
        s.get_tenant(&TenantId::generate(T0, &OsRandom)).await.unwrap(),
        None
    );
}

async fn default_tenant_is_created_once(s: DynStore) {
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let t = tenant("default");
                let k = key(&t.id, &format!("hash-{i}"));
                s.ensure_default_tenant(&t, Some(&k)).await.unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    let mut created = 0;
    for a in attempts {
        let (id, c) = a.await.unwrap();
        ids.push(id);
        created += usize::from(c);
    }
    assert_eq!(created, 1, "exactly one caller creates the default tenant");
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    assert!(s.get_tenant(&ids[0]).await.unwrap().is_some());
    assert_eq!(s.list_api_keys(&ids[0]).await.unwrap().len(), 1);
}

async fn api_keys_are_found_by_hash_and_revoked(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let k = key(&t.id, "h1");
    s.insert_api_key(&k).await.unwrap();
    assert!(matches!(
        s.insert_api_key(&key(&t.id, "h1")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.find_api_key_by_hash("h1").await.unwrap(), Some(k.clone()));
    assert_eq!(s.find_api_key_by_hash("h2").await.unwrap(), None);
    assert!(s.revoke_api_key(&k.id, T0 + 5).await.unwrap());
    assert!(!s.revoke_api_key(&k.id, T0 + 6).await.unwrap());
    assert_eq!(
        s.find_api_key_by_hash("h1").await.unwrap().unwrap().revoked_at,
        Some(T0 + 5)
    );
    assert_eq!(s.list_api_keys(&t.id).await.unwrap().len(), 1);
}

async fn users_are_unique_per_tenant_and_scoped(s: DynStore) {
    let (a, b) = (tenant("a"), tenant("b"));
    s.insert_tenant(&a).await.unwrap();
    s.insert_tenant(&b).await.unwrap();
    let u = user(&a.id, "alice@example.com");
    s.insert_user(&u).await.unwrap();
    assert!(matches!(
        s.insert_user(&user(&a.id, "ALICE@example.com")).await,
        Err(StoreError::Conflict)
    ));
    s.insert_user(&user(&b.id, "alice@example.com")).await.unwrap();
    assert_eq!(s.get_user(&a.id, &u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        s.get_user(&b.id, &u.id).await.unwrap(),
        None,
        "no cross-tenant reads"
    );
    assert_eq!(
        s.find_user_by_email(&a.id, "alice@example.com").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        s.find_user_by_email(&a.id, "bob@example.com").await.unwrap(),
        None
    );
    for i in 0..4 {
        s.insert_user(&user(&a.id, &format!("u{i}@example.com")))
            .await
            .unwrap();
    }
    let page1 = s.list_users(&a.id, None, 3).await.unwrap();
    assert_eq!(page1.len(), 3);
    let page2 = s.list_users(&a.id, Some(&page1[2].id), 3).await.unwrap();
    assert_eq!(page2.len(), 2);
    assert!(page1.iter().all(|u| u.tenant_id == a.id));
}

async fn refresh_tokens_rotate_once_and_reuse_revokes_family(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let ses = session(&u, T0 + 1_000_000);
    s.create_session(&ses, "r1").await.unwrap();
    assert_eq!(s.get_session(&ses.id).await.unwrap(), Some(ses.clone()));
    assert_eq!(
        s.rotate_refresh_token("r1", "r2", T0 + 1).await.unwrap(),
        RotateOutcome::Rotated(ses.clone())
    );
    assert_eq!(
        s.rotate_refresh_token("nope", "x", T0 + 2).await.unwrap(),
        RotateOutcome::Unknown
    );
    // Replaying r1 is theft: the family dies, so r2 stops working too.
    assert_eq!(
        s.rotate_refresh_token("r1", "r3", T0 + 3).await.unwrap(),
        RotateOutcome::Reused
    );
    assert!(s
        .get_session(&ses.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert_eq!(
        s.rotate_refresh_token("r2", "r4", T0 + 4).await.unwrap(),
        RotateOutcome::Dead
    );
    // Expiry.
    let short = session(&u, T0 + 10);
    s.create_session(&short, "s1").await.unwrap();
    assert_eq!(
        s.rotate_refresh_token("s1", "s2", T0 + 10).await.unwrap(),
        RotateOutcome::Dead
    );
    // Explicit revocation.
    let other = session(&u, T0 + 1_000_000);
    s.create_session(&other, "o1").await.unwrap();
    assert_eq!(
        s.session_for_refresh("o1").await.unwrap().map(|x| x.id),
        Some(other.id.clone())
    );
    assert!(s.revoke_session(&other.id, T0 + 5).await.unwrap());
    assert!(!s.revoke_session(&other.id, T0 + 6).await.unwrap());
    assert_eq!(
        s.rotate_refresh_token("o1", "o2", T0 + 7).await.unwrap(),
        RotateOutcome::Dead
    );
}

async fn parallel_refresh_rotates_exactly_once(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let ses = session(&u, T0 + 1_000_000);
    s.create_session(&ses, "p1").await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.rotate_refresh_token("p1", &format!("next-{i}"), T0 + 1)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    for t in tasks {
        match t.await.unwrap() {
            RotateOutcome::Rotated(_) => rotated += 1,
            RotateOutcome::Reused => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rotated, 1);
}

/// The last TOTP step a factor accepted, as stored now.
async fn last_step(s: &DynStore, f: &Factor) -> Option<i64> {
    s.get_factor(&f.tenant_id, &f.id)
        .await
        .unwrap()
        .unwrap()
        .last_step
}

/// The throttle key of a second factor.
fn factor_key(u: &User, factor: &FactorId) -> ThrottleKey {
    ThrottleKey {
        tenant_id: u.tenant_id.clone(),
        scope: "factor",
        subject: factor.to_string(),
    }
}

fn tkey(t: &TenantId, subject: &str) -> ThrottleKey {
    ThrottleKey {
        tenant_id: t.clone(),
        scope: "password",
        subject: subject.into(),
    }
}

async fn throttle_counts_locks_and_resets(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let k = tkey(&t.id, "alice@example.com");
    let p = ThrottlePolicy::PASSWORD;
    for n in 1..=5 {
        assert_eq!(
            s.throttle_attempt(&k, &p, T0).await.unwrap(),
            ThrottleDecision::Allowed { failures: n }
        );
    }
    // The 5th attempt set a 1 s delay.
    assert_eq!(
        s.throttle_attempt(&k, &p, T0 + 200).await.unwrap(),
        ThrottleDecision::Locked { retry_after_secs: 1 }
    );
    assert_eq!(
        s.throttle_attempt(&k, &p, T0 + 1000).await.unwrap(),
        ThrottleDecision::Allowed { failures: 6 }
    );
    assert_eq!(
        s.throttle_attempt(&k, &p, T0 + 1000).await.unwrap(),
        ThrottleDecision::Locked { retry_after_secs: 2 }
    );
    // Another subject and another tenant are untouched.
    assert_eq!(
        s.throttle_attempt(&tkey(&t.id, "bob@example.com"), &p, T0)
            .await
            .unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
    // Clearing (a success) starts over.
    s.throttle_clear(&k).await.unwrap();
    assert_eq!(
        s.throttle_attempt(&k, &p, T0 + 1000).await.unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
    // A long quiet period starts over too.
    let later = T0 + 1000 + 3_600_001;
    assert_eq!(
        s.throttle_attempt(&k, &p, later).await.unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
}

async fn parallel_throttle_burst_cannot_exceed_limit(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let k = tkey(&t.id, "victim@example.com");
    let p = ThrottlePolicy::PASSWORD;
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (s, k, barrier) = (s.clone(), k.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.throttle_attempt(&k, &p, T0).await.unwrap()
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if let ThrottleDecision::Allowed { .. } = task.await.unwrap() {
            allowed += 1;
        }
    }
    // Exactly the allowed attempts; the last of them set the first delay.
    assert_eq!(allowed, p.free_attempts);
}

async fn server_secrets_and_signing_keys(s: DynStore) {
    assert_eq!(
        s.ensure_server_secret("pepper", "sealed-a", T0).await.unwrap(),
        "sealed-a"
    );
    assert_eq!(
        s.ensure_server_secret("pepper", "sealed-b", T0).await.unwrap(),
        "sealed-a"
    );
    let k1 = SigningKeyRecord {
        kid: "k1".into(),
        algorithm: "EdDSA".into(),
        public_key: vec![1; 32],
        private_sealed: "lk1.x.y".into(),
        created_at: T0,
    };
    let k2 = SigningKeyRecord {
        kid: "k2".into(),
        created_at: T0 + 1,
        ..k1.clone()
    };
    s.insert_signing_key(&k1).await.unwrap();
    s.insert_signing_key(&k2).await.unwrap();
    assert_eq!(
        s.active_signing_keys().await.unwrap(),
        vec![k2.clone(), k1.clone()]
    );
    let sealed = s.list_sealed(SealedColumn::SigningKeyPrivate).await.unwrap();
    assert_eq!(sealed.len(), 2);
    assert!(s
        .replace_sealed(SealedColumn::SigningKeyPrivate, "k1", "lk1.x.y", "lk1.z.w")
        .await
        .unwrap());
    assert!(!s
        .replace_sealed(SealedColumn::SigningKeyPrivate, "k1", "lk1.x.y", "lk1.q.q")
        .await
        .unwrap());
    assert!(s
        .replace_sealed(SealedColumn::ServerSecret, "pepper", "sealed-a", "sealed-c")
        .await
        .unwrap());
    assert_eq!(
        s.ensure_server_secret("pepper", "sealed-d", T0).await.unwrap(),
        "sealed-c"
    );
}

fn factor(u: &User, kind: FactorKind, status: FactorStatus) -> Factor {
    Factor {
        id: FactorId::generate(T0, &OsRandom),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        kind,
        name: Some("phone".into()),
        status,
        secret_sealed: Some("lk1.k.sealed".into()),
        last_step: None,
        destination_sealed: None,
        enrolled_by: None,
        algorithm: None,
        created_at: T0,
        expires_at: (status == FactorStatus::Pending).then_some(T0 + 600_000),
        confirmed_at: None,
        last_used_at: None,
    }
}

fn backup(u: &User, codes: &[&str]) -> BackupInstall {
    let mut f = factor(u, FactorKind::BackupCodes, FactorStatus::Active);
    f.secret_sealed = None;
    f.expires_at = None;
    BackupInstall {
        factor: f,
        code_hashes: codes.iter().map(|c| c.to_string()).collect(),
    }
}

fn challenge(u: &User, expires_at: UnixMillis) -> Challenge {
    Challenge {
        id: ChallengeId::generate(T0, &OsRandom),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        purpose: ChallengePurpose::SignIn,
        amr: vec!["pwd".into()],
        factor_id: None,
        created_at: T0,
        expires_at,
        completed_at: None,
    }
}

/// A user with one active TOTP factor and backup codes c1..c10.
async fn enrolled(s: &DynStore) -> (User, Factor, FactorId) {
    let u = user_in_new_tenant(s).await;
    let f = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&f).await.unwrap();
    let codes: Vec<String> = (1..=10).map(|i| format!("c{i}")).collect();
    let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let b = backup(&u, &refs);
    assert_eq!(
        s.activate_factor(&f.id, &Check::TotpStep(100), &b, &ActivationRules::default(), T0)
            .await
            .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: true
        }
    );
    (
        u,
        s.get_factor(&f.tenant_id, &f.id).await.unwrap().unwrap(),
        b.factor.id,
    )
}

async fn pending_factors_activate_once_with_backup_codes_first(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let first = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&first).await.unwrap();
    // Restarting the enrollment replaces the pending factor.
    let second = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&second).await.unwrap();
    assert_eq!(s.get_factor(&u.tenant_id, &first.id).await.unwrap(), None);
    let b = backup(&u, &["a", "b"]);
    // Not after it lapses.
    assert_eq!(
        s.activate_factor(
            &second.id,
            &Check::TotpStep(5),
            &b,
            &ActivationRules::default(),
            T0 + 600_000
        )
        .await
        .unwrap(),
        ActivateOutcome::NotPending
    );
    assert_eq!(
        s.activate_factor(
            &second.id,
            &Check::TotpStep(5),
            &b,
            &ActivationRules::default(),
            T0 + 1
        )
        .await
        .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: true
        }
    );
    assert_eq!(
        s.activate_factor(
            &second.id,
            &Check::TotpStep(6),
            &b,
            &ActivationRules::default(),
            T0 + 2
        )
        .await
        .unwrap(),
        ActivateOutcome::NotPending,
        "only once"
    );
    let active = s.get_factor(&u.tenant_id, &second.id).await.unwrap().unwrap();
    assert_eq!(
        (active.status, active.last_step, active.expires_at),
        (FactorStatus::Active, Some(5), None)
    );
    assert_eq!(s.unused_backup_codes(&b.factor.id).await.unwrap(), 2);
    // A second factor does not reinstall backup codes.
    let third = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&third).await.unwrap();
    let other = backup(&u, &["x"]);
    assert_eq!(
        s.activate_factor(
            &third.id,
            &Check::TotpStep(1),
            &other,
            &ActivationRules::default(),
            T0 + 3
        )
        .await
        .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: false
        }
    );
    assert_eq!(s.unused_backup_codes(&b.factor.id).await.unwrap(), 2);
    let all = s.list_factors(&u.tenant_id, &u.id).await.unwrap();
    assert_eq!(all.len(), 3);
    let sealed = s.list_sealed(SealedColumn::FactorSecret).await.unwrap();
    assert!(sealed.iter().any(|(id, _)| id == second.id.as_str()));
    assert!(
        !sealed.iter().any(|(id, _)| id == b.factor.id.as_str()),
        "no NULL secrets listed"
    );
}

async fn parallel_totp_step_is_accepted_once(s: DynStore) {
    let (u, f, _) = enrolled(&s).await;
    let mut ids = Vec::new();
    for _ in 0..50 {
        let c = challenge(&u, T0 + 300_000);
        s.insert_challenge(&c).await.unwrap();
        ids.push(c.id);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(ids.len()));
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let (s, barrier, fid) = (s.clone(), barrier.clone(), f.id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.complete_challenge(
                    &id,
                    &Proof::TotpStep {
                        factor_id: fid,
                        step: 101,
                    },
                    T0 + 1,
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            CompleteOutcome::Completed { .. } => ok += 1,
            CompleteOutcome::ProofRejected => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    // An older step never works again.
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let old = Proof::TotpStep {
        factor_id: f.id.clone(),
        step: 100,
    };
    assert_eq!(
        s.complete_challenge(&c.id, &old, T0 + 2).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
}

async fn parallel_backup_code_is_accepted_once(s: DynStore) {
    let (u, _, bid) = enrolled(&s).await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        let c = challenge(&u, T0 + 300_000);
        s.insert_challenge(&c).await.unwrap();
        ids.push(c.id);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(ids.len()));
    let tasks: Vec<_> = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let (s, barrier, bid) = (s.clone(), barrier.clone(), bid.clone());
            // Twenty-eight race for c3; two use c4 and c5.
            let code = match i {
                0 => "c4",
                1 => "c5",
                _ => "c3",
            };
            tokio::spawn(async move {
                barrier.wait().await;
                let proof = Proof::BackupCode {
                    factor_id: bid,
                    code_hash: code.into(),
                };
                (code, s.complete_challenge(&id, &proof, T0 + 1).await.unwrap())
            })
        })
        .collect();
    let mut wins = std::collections::HashMap::new();
    for t in tasks {
        let (code, outcome) = t.await.unwrap();
        if let CompleteOutcome::Completed { .. } = outcome {
            *wins.entry(code).or_insert(0) += 1;
        }
    }
    assert_eq!(wins.get("c3"), Some(&1));
    assert_eq!(wins.get("c4"), Some(&1));
    assert_eq!(wins.get("c5"), Some(&1));
    assert_eq!(s.unused_backup_codes(&bid).await.unwrap(), 7);
}

async fn a_challenge_completes_once(s: DynStore) {
    let (u, _, bid) = enrolled(&s).await;
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    assert!(s.choose_factor(&c.id, &bid, T0).await.unwrap());
    assert_eq!(
        s.get_challenge(&u.tenant_id, &c.id)
            .await
            .unwrap()
            .unwrap()
            .factor_id,
        Some(bid.clone())
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (1..=10)
        .map(|i| {
            let (s, barrier, bid, id) = (s.clone(), barrier.clone(), bid.clone(), c.id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let proof = Proof::BackupCode {
                    factor_id: bid,
                    code_hash: format!("c{i}"),
                };
                s.complete_challenge(&id, &proof, T0 + 1).await.unwrap()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if let CompleteOutcome::Completed { .. } = t.await.unwrap() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(
        s.unused_backup_codes(&bid).await.unwrap(),
        9,
        "losers consumed nothing"
    );
    assert!(
        !s.choose_factor(&c.id, &bid, T0 + 2).await.unwrap(),
        "completed challenges are closed"
    );
    // Other tenants cannot see it.
    let other = tenant("other");
    s.insert_tenant(&other).await.unwrap();
    assert_eq!(s.get_challenge(&other.id, &c.id).await.unwrap(), None);
}

async fn failed_proof_leaves_the_challenge_open(s: DynStore) {
    let (u, _, bid) = enrolled(&s).await;
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let wrong = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "nope".into(),
    };
    assert_eq!(
        s.complete_challenge(&c.id, &wrong, T0 + 1).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
    let right = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "c1".into(),
    };
    assert_eq!(
        s.complete_challenge(&c.id, &right, T0 + 2).await.unwrap(),
        CompleteOutcome::Completed {
            backup_installed: false
        }
    );
    let again = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "c2".into(),
    };
    assert_eq!(
        s.complete_challenge(&c.id, &again, T0 + 3).await.unwrap(),
        CompleteOutcome::ChallengeGone
    );
    // Expired challenges are gone too.
    let late = challenge(&u, T0 + 10);
    s.insert_challenge(&late).await.unwrap();
    assert_eq!(
        s.complete_challenge(&late.id, &again, T0 + 10).await.unwrap(),
        CompleteOutcome::ChallengeGone
    );
    assert_eq!(s.unused_backup_codes(&bid).await.unwrap(), 9);
}

async fn deleting_factors_and_resetting_mfa(s: DynStore) {
    let (u, totp, bid) = enrolled(&s).await;
    // Regeneration replaces every code at once.
    let mut b = backup(&u, &["n1", "n2", "n3"]);
    b.factor.id = bid.clone();
    assert_eq!(s.replace_backup_codes(&b, None, T0).await.unwrap(), bid);
    assert_eq!(s.unused_backup_codes(&bid).await.unwrap(), 3);
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let old = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "c1".into(),
    };
    assert_eq!(
        s.complete_challenge(&c.id, &old, T0 + 1).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
    // Deleting the last real factor takes the backup codes with it.
    assert!(s
        .delete_factor(&u.tenant_id, &u.id, &totp.id, None, T0)
        .await
        .unwrap());
    assert!(!s
        .delete_factor(&u.tenant_id, &u.id, &totp.id, None, T0)
        .await
        .unwrap());
    assert!(s.list_factors(&u.tenant_id, &u.id).await.unwrap().is_empty());
    assert_eq!(s.unused_backup_codes(&bid).await.unwrap(), 0);
    // Reset removes everything and closes open challenges.
    let (u2, _, _) = enrolled(&s).await;
    let open = challenge(&u2, T0 + 300_000);
    s.insert_challenge(&open).await.unwrap();
    assert_eq!(s.reset_mfa(&u2.tenant_id, &u2.id, T0 + 5).await.unwrap(), 2);
    assert!(s.list_factors(&u2.tenant_id, &u2.id).await.unwrap().is_empty());
    assert!(
        s.get_challenge(&u2.tenant_id, &open.id)
            .await
            .unwrap()
            .unwrap()
            .expires_at
            <= T0 + 5
    );
}

async fn audit_events_page_newest_first(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    for i in 0..5 {
        s.insert_audit(&AuditEvent {
            id: format!("evt_{}", ulid(T0 + i)),
            tenant_id: u.tenant_id.clone(),
            user_id: (i % 2 == 0).then(|| u.id.clone()),
            actor: "system".into(),
            action: format!("a{i}"),
            factor_id: None,
            outcome: "success".into(),
            ip: Some("127.0.0.1".into()),
            detail: None,
            created_at: T0 + i,
        })
        .await
        .unwrap();
    }
    let page = s.list_audit(&u.tenant_id, None, None, 3).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["a4", "a3", "a2"]
    );
    let rest = s
        .list_audit(&u.tenant_id, None, Some(&page[2].id), 3)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["a1", "a0"]
    );
    let mine = s.list_audit(&u.tenant_id, Some(&u.id), None, 10).await.unwrap();
    assert_eq!(mine.len(), 3);
    let other = tenant("o");
    s.insert_tenant(&other).await.unwrap();
    assert!(s.list_audit(&other.id, None, None, 10).await.unwrap().is_empty());
}

fn sms_factor(u: &User, status: FactorStatus) -> Factor {
    let mut f = factor(u, FactorKind::Sms, status);
    f.secret_sealed = None;
    f.destination_sealed = Some("+14155552671".into());
    f
}

fn issue(
    u: &User,
    f: &Factor,
    challenge: Option<&ChallengeId>,
    hash: &str,
    new: bool,
    now: UnixMillis,
) -> CodeIssue {
    let key = match challenge {
        Some(c) => format!("chl:{c}:{}", f.id),
        None => format!("enroll:{}", u.id),
    };
    CodeIssue {
        tenant_id: u.tenant_id.clone(),
        new_factor: new.then(|| f.clone()),
        code: OtpCode {
            id: format!("otp_{}", ulid(now)),
            factor_id: f.id.clone(),
            challenge_id: challenge.cloned(),
            code_hash: hash.into(),
            created_at: now,
            expires_at: now + 600_000,
        },
        message: OutboxMessage {
            id: format!("msg_{}", ulid(now)),
            tenant_id: u.tenant_id.clone(),
            user_id: u.id.clone(),
            factor_id: f.id.clone(),
            channel: latchkey_core::factor::Channel::Sms,
            destination_sealed: "+14155552671".into(),
            payload_sealed: "lk1.k.payload".into(),
            status: DeliveryStatus::Queued,
            attempts: 0,
            next_attempt_at: now,
            locked_until: None,
            expires_at: now + 600_000,
            last_error: None,
            provider: None,
            provider_message_id: None,
            created_at: now,
            updated_at: now,
        },
        limits: vec![SendLimit {
            scope: "destination_hourly",
            subject: "+14155552671".into(),
            window_secs: 3600,
            limit: 3,
        }],
        cooldown_key: key,
        cooldown_secs: 60,
        stats: vec![("sms_sent_by_country", "US".into())],
    }
}

async fn issuing_codes_respects_cooldown_limits_and_supersedes(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    // Align to the start of an hour window so the limit test is deterministic.
    let t = T0 - T0.rem_euclid(3_600_000);
    let f = sms_factor(&u, FactorStatus::Pending);
    let mut f = f;
    f.expires_at = Some(t + 600_000);
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h1", true, t), t)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    assert_eq!(
        s.get_factor(&u.tenant_id, &f.id)
            .await
            .unwrap()
            .unwrap()
            .destination_sealed
            .as_deref(),
        Some("+14155552671")
    );
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h2", false, t + 1000), t + 1000)
            .await
            .unwrap(),
        IssueOutcome::Cooldown { retry_after_secs: 59 }
    );
    // After the cooldown a resend replaces the code: the first no longer confirms.
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h2", false, t + 60_000), t + 60_000)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let b = backup(&u, &["x"]);
    let old = Check::SentCode {
        code_hash: "h1".into(),
        challenge_id: None,
    };
    assert_eq!(
        s.activate_factor(&f.id, &old, &b, &ActivationRules::default(), t + 61_000)
            .await
            .unwrap(),
        ActivateOutcome::Rejected
    );
    assert_eq!(
        s.get_factor(&u.tenant_id, &f.id).await.unwrap().unwrap().status,
        FactorStatus::Pending,
        "rolled back"
    );
    // The third send this hour reaches the destination limit of 3 only on the fourth.
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h3", false, t + 120_000), t + 120_000)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let limited = s
        .issue_code(&issue(&u, &f, None, "h4", false, t + 180_000), t + 180_000)
        .await
        .unwrap();
    assert_eq!(
        limited,
        IssueOutcome::Limited {
            scope: "destination_hourly",
            retry_after_secs: 3420
        }
    );
    // Nothing of the refused issue was written: h4 does not exist, h3 still confirms.
    let h4 = Check::SentCode {
        code_hash: "h4".into(),
        challenge_id: None,
    };
    assert_eq!(
        s.activate_factor(&f.id, &h4, &b, &ActivationRules::default(), t + 181_000)
            .await
            .unwrap(),
        ActivateOutcome::Rejected
    );
    let h3 = Check::SentCode {
        code_hash: "h3".into(),
        challenge_id: None,
    };
    assert_eq!(
        s.activate_factor(&f.id, &h3, &b, &ActivationRules::default(), t + 182_000)
            .await
            .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: true
        }
    );
    assert_eq!(
        s.activate_factor(&f.id, &h3, &b, &ActivationRules::default(), t + 183_000)
            .await
            .unwrap(),
        ActivateOutcome::Rejected,
        "used once"
    );
    let stats = s.delivery_stats(&u.tenant_id).await.unwrap();
    assert_eq!(
        stats,
        vec![("sms_sent_by_country".to_string(), "US".to_string(), 3)]
    );
    // A new hour window starts a new count.
    let next_hour = t + 3_600_000;
    let c = challenge(&u, next_hour + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let active = s.get_factor(&u.tenant_id, &f.id).await.unwrap().unwrap();
    assert_eq!(
        s.issue_code(
            &issue(&u, &active, Some(&c.id), "h5", false, next_hour),
            next_hour
        )
        .await
        .unwrap(),
        IssueOutcome::Issued
    );
}

async fn outbox_messages_are_claimed_once(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let f = sms_factor(&u, FactorStatus::Pending);
    assert_eq!(
        s.issue_code(&issue(&u, &f, None, "h1", true, T0), T0)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                s.claim_outbox(T0, 30_000, 10).await.unwrap()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    assert_eq!(claimed.len(), 1, "one worker gets the message");
    let m = &claimed[0];
    assert_eq!((m.status, m.attempts), (DeliveryStatus::Sending, 1));
    assert!(
        s.claim_outbox(T0 + 29_000, 30_000, 10).await.unwrap().is_empty(),
        "leased"
    );
    // A worker that died mid-send: the lease runs out and the message is tried again.
    let again = s.claim_outbox(T0 + 30_000, 30_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    let retry = DeliveryUpdate {
        status: DeliveryStatus::Queued,
        next_attempt_at: T0 + 40_000,
        last_error: Some("503 from provider".into()),
        provider: Some("twilio".into()),
        provider_message_id: None,
    };
    s.finish_outbox(&m.id, &retry, T0 + 31_000).await.unwrap();
    assert!(
        s.claim_outbox(T0 + 39_000, 30_000, 10).await.unwrap().is_empty(),
        "backoff respected"
    );
    assert_eq!(s.claim_outbox(T0 + 40_000, 30_000, 10).await.unwrap().len(), 1);
    let sent = DeliveryUpdate {
        status: DeliveryStatus::Sent,
        next_attempt_at: T0 + 40_000,
        last_error: None,
        provider: Some("twilio".into()),
        provider_message_id: Some("SM123".into()),
    };
    s.finish_outbox(&m.id, &sent, T0 + 41_000).await.unwrap();
    assert!(s.claim_outbox(T0 + 100_000, 30_000, 10).await.unwrap().is_empty());
    let last = s.last_delivery(&f.id).await.unwrap().unwrap();
    assert_eq!(
        (last.status, last.attempts, last.provider_message_id.as_deref()),
        (DeliveryStatus::Sent, 3, Some("SM123"))
    );
    assert_eq!(last.provider.as_deref(), Some("twilio"));
}

async fn sent_codes_complete_challenges_once(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let mut f = sms_factor(&u, FactorStatus::Active);
    f.expires_at = None;
    s.insert_factor(&f).await.unwrap();
    let c1 = challenge(&u, T0 + 300_000);
    let c2 = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c1).await.unwrap();
    s.insert_challenge(&c2).await.unwrap();
    assert_eq!(
        s.issue_code(&issue(&u, &f, Some(&c1.id), "code1", false, T0), T0)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let proof = Proof::SentCode {
        factor_id: f.id.clone(),
        code_hash: "code1".into(),
    };
    // Bound to its challenge: it does not complete another.
    assert_eq!(
        s.complete_challenge(&c2.id, &proof, T0 + 1).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
    assert_eq!(
        s.complete_challenge(&c1.id, &proof, T0 + 2).await.unwrap(),
        CompleteOutcome::Completed {
            backup_installed: false
        }
    );
    // Expiry: a code past its lifetime does nothing.
    assert_eq!(
        s.issue_code(&issue(&u, &f, Some(&c2.id), "code2", false, T0 + 3), T0 + 3)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let late = Proof::SentCode {
        factor_id: f.id.clone(),
        code_hash: "code2".into(),
    };
    assert_eq!(
        s.complete_challenge(&c2.id, &late, T0 + 3 + 600_000)
            .await
            .unwrap(),
        CompleteOutcome::ChallengeGone
    );
    let c3 = challenge(&u, T0 + 3_000_000);
    s.insert_challenge(&c3).await.unwrap();
    assert_eq!(
        s.issue_code(&issue(&u, &f, Some(&c3.id), "code3", false, T0 + 4), T0 + 4)
            .await
            .unwrap(),
        IssueOutcome::Issued
    );
    let p3 = Proof::SentCode {
        factor_id: f.id.clone(),
        code_hash: "code3".into(),
    };
    assert_eq!(
        s.complete_challenge(&c3.id, &p3, T0 + 4 + 600_000).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
}

async fn providers_and_stats(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    assert_eq!(s.get_provider(&u.tenant_id, "sms").await.unwrap(), None);
    s.put_provider(&u.tenant_id, "sms", "lk1.a.b", T0).await.unwrap();
    s.put_provider(&u.tenant_id, "sms", "lk1.a.c", T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        s.get_provider(&u.tenant_id, "sms").await.unwrap().as_deref(),
        Some("lk1.a.c")
    );
    assert_eq!(s.get_provider(&u.tenant_id, "email").await.unwrap(), None);
    let sealed = s.list_sealed(SealedColumn::ProviderConfig).await.unwrap();
    assert!(sealed
        .iter()
        .any(|(id, v)| id == &latchkey_store::provider_row_id(&u.tenant_id, "sms") && v == "lk1.a.c"));
    assert!(s.delete_provider(&u.tenant_id, "sms").await.unwrap());
    assert!(!s.delete_provider(&u.tenant_id, "sms").await.unwrap());
    s.bump_stat(&u.tenant_id, "sms_refused", "country").await.unwrap();
    s.bump_stat(&u.tenant_id, "sms_refused", "country").await.unwrap();
    assert_eq!(
        s.delivery_stats(&u.tenant_id).await.unwrap(),
        vec![("sms_refused".into(), "country".into(), 2)]
    );
}

async fn sign_in_writes_commit_only_with_the_challenge(s: DynStore) {
    let (u, _, bid) = enrolled(&s).await;
    let key = factor_key(&u, &bid);
    let p = ThrottlePolicy::PASSWORD;
    for _ in 0..3 {
        s.throttle_attempt(&key, &p, T0).await.unwrap();
    }
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let ses = session(&u, T0 + 1_000_000);
    let writes = SignInWrites {
        clear_throttle: Some(key.clone()),
        audit: Some(AuditEvent {
            id: format!("evt_{}", ulid(T0)),
            tenant_id: u.tenant_id.clone(),
            user_id: Some(u.id.clone()),
            actor: "system".into(),
            action: "mfa.verify".into(),
            factor_id: Some(bid.clone()),
            outcome: "success".into(),
            ip: None,
            detail: None,
            created_at: T0,
        }),
        session: Some((ses.clone(), "rt-hash".into())),
    };
    // A wrong proof: none of the writes happen.
    let wrong = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "nope".into(),
    };
    assert_eq!(
        s.complete_sign_in(&c.id, &wrong, &writes, T0 + 1).await.unwrap(),
        CompleteOutcome::ProofRejected
    );
    assert_eq!(s.get_session(&ses.id).await.unwrap(), None);
    assert!(s
        .list_audit(&u.tenant_id, None, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.throttle_attempt(&key, &p, T0).await.unwrap(),
        ThrottleDecision::Allowed { failures: 4 }
    );
    // The right one: all of them, with the challenge.
    let right = Proof::BackupCode {
        factor_id: bid.clone(),
        code_hash: "c1".into(),
    };
    assert_eq!(
        s.complete_sign_in(&c.id, &right, &writes, T0 + 2).await.unwrap(),
        CompleteOutcome::Completed {
            backup_installed: false
        }
    );
    assert_eq!(s.get_session(&ses.id).await.unwrap(), Some(ses.clone()));
    assert_eq!(s.list_audit(&u.tenant_id, None, None, 10).await.unwrap().len(), 1);
    assert_eq!(
        s.throttle_attempt(&key, &p, T0).await.unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
    assert_eq!(
        s.rotate_refresh_token("rt-hash", "rt-next", T0 + 3)
            .await
            .unwrap(),
        RotateOutcome::Rotated(ses)
    );
}

fn event(u: &User, action: &str, outcome: &str) -> AuditEvent {
    AuditEvent {
        id: format!("evt_{}", ulid(T0)),
        tenant_id: u.tenant_id.clone(),
        user_id: Some(u.id.clone()),
        actor: "system".into(),
        action: action.into(),
        factor_id: None,
        outcome: outcome.into(),
        ip: None,
        detail: None,
        created_at: T0,
    }
}

fn attempt(
    u: &User,
    c: &Challenge,
    key: &ThrottleKey,
    proof: Option<Proof>,
    ses: Option<&Session>,
) -> SignInAttempt {
    SignInAttempt {
        challenge_id: c.id.clone(),
        proof,
        throttle: key.clone(),
        policy: ThrottlePolicy::PASSWORD,
        writes: SignInWrites {
            clear_throttle: None,
            audit: Some(event(u, "mfa.verify", "success")),
            session: ses.map(|s| (s.clone(), format!("rt-{}", s.id))),
        },
        on_failure: Some(event(u, "mfa.verify", "failure")),
        on_locked: Some(event(u, "mfa.attempt", "locked")),
    }
}

async fn outcomes(s: &DynStore, u: &User) -> Vec<String> {
    let mut seen: Vec<String> = s
        .list_audit(&u.tenant_id, None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{}", e.action, e.outcome))
        .collect();
    seen.sort();
    seen
}

async fn attempts_lock_count_and_complete_in_one_transaction(s: DynStore) {
    let (u, totp, _) = enrolled(&s).await;
    let key = factor_key(&u, &totp.id);
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let right = Proof::TotpStep {
        factor_id: totp.id.clone(),
        step: 200,
    };
    // Four refused codes: counted, audited, the challenge stays open.
    for _ in 0..4 {
        assert_eq!(
            s.attempt_sign_in(&attempt(&u, &c, &key, None, None), T0)
                .await
                .unwrap(),
            AttemptOutcome::Rejected
        );
    }
    // A replayed step is refused by the store and counted: the fifth failure starts a delay.
    let replay = Proof::TotpStep {
        factor_id: totp.id.clone(),
        step: 100,
    };
    assert_eq!(
        s.attempt_sign_in(&attempt(&u, &c, &key, Some(replay), None), T0)
            .await
            .unwrap(),
        AttemptOutcome::Rejected
    );
    assert_eq!(outcomes(&s, &u).await, vec!["mfa.verify:failure"; 5]);
    // Locked: even the right code is not tried, and nothing but the audit record is written.
    let ses = session(&u, T0 + 1_000_000);
    assert_eq!(
        s.attempt_sign_in(&attempt(&u, &c, &key, Some(right.clone()), Some(&ses)), T0 + 500)
            .await
            .unwrap(),
        AttemptOutcome::Locked { retry_after_secs: 1 }
    );
    assert_eq!(s.get_session(&ses.id).await.unwrap(), None);
    assert!(s
        .get_challenge(&u.tenant_id, &c.id)
        .await
        .unwrap()
        .unwrap()
        .completed_at
        .is_none());
    assert_eq!(last_step(&s, &totp).await, Some(100));
    // After the delay the right code completes it all at once and forgets the failures.
    assert_eq!(
        s.attempt_sign_in(&attempt(&u, &c, &key, Some(right.clone()), Some(&ses)), T0 + 1000)
            .await
            .unwrap(),
        AttemptOutcome::Completed {
            backup_installed: false
        }
    );
    assert_eq!(s.get_session(&ses.id).await.unwrap(), Some(ses.clone()));
    assert_eq!(last_step(&s, &totp).await, Some(200));
    let mut want = vec!["mfa.attempt:locked", "mfa.verify:success"];
    want.extend(["mfa.verify:failure"; 5]);
    want.sort();
    assert_eq!(outcomes(&s, &u).await, want);
    assert_eq!(
        s.throttle_attempt(&key, &ThrottlePolicy::PASSWORD, T0 + 1000)
            .await
            .unwrap(),
        ThrottleDecision::Allowed { failures: 1 }
    );
    // The completed challenge is gone for a second attempt, which counts as a failure.
    let again = Proof::TotpStep {
        factor_id: totp.id.clone(),
        step: 201,
    };
    assert_eq!(
        s.attempt_sign_in(&attempt(&u, &c, &key, Some(again), None), T0 + 1000)
            .await
            .unwrap(),
        AttemptOutcome::ChallengeGone
    );
    assert_eq!(
        s.throttle_attempt(&key, &ThrottlePolicy::PASSWORD, T0 + 1000)
            .await
            .unwrap(),
        ThrottleDecision::Allowed { failures: 3 }
    );
    assert_eq!(last_step(&s, &totp).await, Some(200));
}

async fn parallel_attempts_evaluate_at_most_the_free_ones(s: DynStore) {
    let (u, totp, _) = enrolled(&s).await;
    let key = factor_key(&u, &totp.id);
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(60));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let (s, a, barrier) = (s.clone(), attempt(&u, &c, &key, None, None), barrier.clone());
            // One of them carries the right code; it succeeds only if it is decided before
            // the free attempts run out.
            let a = if i == 59 {
                SignInAttempt {
                    proof: Some(Proof::TotpStep {
                        factor_id: totp.id.clone(),
                        step: 300,
                    }),
                    ..a
                }
            } else {
                a
            };
            tokio::spawn(async move {
                barrier.wait().await;
                s.attempt_sign_in(&a, T0).await.unwrap()
            })
        })
        .collect();
    let (mut tried, mut locked) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            AttemptOutcome::Locked { .. } => locked += 1,
            _ => tried += 1,
        }
    }
    // A success forgets the failures before it, so the bound is the free attempts on
    // either side of it; without a success, exactly the free attempts.
    let completed = s
        .get_challenge(&u.tenant_id, &c.id)
        .await
        .unwrap()
        .unwrap()
        .completed_at
        .is_some();
    let bound = ThrottlePolicy::PASSWORD.free_attempts as usize * if completed { 2 } else { 1 };
    assert!(tried <= bound, "{tried} attempts were evaluated (bound {bound})");
    assert_eq!(tried + locked, 60);
}

async fn a_group_commit_keeps_each_write_apart(s: DynStore) {
    // Many writes at once (SQLite commits them together): one that fails must not take the
    // others with it, and each sees the writes decided before it.
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let taken = user(&t.id, "taken@example.com");
    s.insert_user(&taken).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(40));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            let u = if i % 4 == 0 {
                User {
                    id: UserId::generate(T0, &OsRandom),
                    ..taken.clone()
                }
            } else {
                user(&t.id, &format!("u{i}@example.com"))
            };
            tokio::spawn(async move {
                barrier.wait().await;
                (u.clone(), s.insert_user(&u).await)
            })
        })
        .collect();
    for task in tasks {
        let (u, result) = task.await.unwrap();
        if u.email == taken.email {
            assert!(matches!(result, Err(StoreError::Conflict)));
            assert_eq!(s.get_user(&t.id, &u.id).await.unwrap(), None);
        } else {
            result.unwrap();
            assert_eq!(s.get_user(&t.id, &u.id).await.unwrap(), Some(u));
        }
    }
}

async fn seeding_loads_rows_as_given(s: DynStore) {
    let t = tenant("t");
    s.insert_tenant(&t).await.unwrap();
    let before = s.database_bytes().await.unwrap();
    let users: Vec<User> = (0..25)
        .map(|i| User {
            phone_sealed: (i % 2 == 0).then(|| format!("+4420794601{i:02}")),
            phone_hash: None,
            ..user(&t.id, &format!("s{i}@example.com"))
        })
        .collect();
    let factors: Vec<Factor> = users
        .iter()
        .map(|u| Factor {
            secret_sealed: Some(format!("lk1.k.{}", u.id)),
            last_step: None,
            ..factor(u, FactorKind::Totp, FactorStatus::Active)
        })
        .collect();
    let challenges: Vec<Challenge> = users.iter().map(|u| challenge(u, T0 + 60_000)).collect();
    s.seed(&users, &factors, &challenges).await.unwrap();
    for ((u, f), c) in users.iter().zip(&factors).zip(&challenges) {
        assert_eq!(s.get_user(&t.id, &u.id).await.unwrap().as_ref(), Some(u));
        assert_eq!(s.get_factor(&t.id, &f.id).await.unwrap().as_ref(), Some(f));
        assert_eq!(s.get_challenge(&t.id, &c.id).await.unwrap().as_ref(), Some(c));
    }
    assert!(s.database_bytes().await.unwrap() >= before);
    // A duplicate email is refused like any insert.
    let again = User {
        id: UserId::generate(T0, &OsRandom),
        ..users[0].clone()
    };
    assert!(matches!(
        s.seed(&[again], &[], &[]).await,
        Err(StoreError::Conflict)
    ));
}

fn live(s: &Session) -> Session {
    s.clone()
}

async fn is_live(s: &DynStore, id: &SessionId) -> bool {
    s.get_session(id).await.unwrap().unwrap().revoked_at.is_none()
}

async fn new_session(s: &DynStore, u: &User, refresh: &str) -> Session {
    let ses = live(&session(u, T0 + 86_400_000));
    s.create_session(&ses, refresh).await.unwrap();
    ses
}

async fn activation_rechecks_its_rules_in_its_transaction(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let pending = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&pending).await.unwrap();
    let mut sms = factor(&u, FactorKind::Sms, FactorStatus::Pending);
    sms.secret_sealed = None;
    s.insert_factor(&sms).await.unwrap();
    let b = backup(&u, &["a"]);
    // The SMS factor becomes active first.
    assert_eq!(
        s.activate_factor(
            &sms.id,
            &Check::Preverified,
            &b,
            &ActivationRules::default(),
            T0 + 1
        )
        .await
        .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: true
        }
    );
    // The TOTP enrollment was started while the user had no factor: it cannot complete now,
    // and nothing of it is kept.
    let rules = ActivationRules {
        only_without: Some(vec![FactorKind::Totp, FactorKind::Sms, FactorKind::EmailOtp]),
        ..Default::default()
    };
    let other = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&other).await.unwrap();
    assert_eq!(
        s.activate_factor(&other.id, &Check::TotpStep(7), &b, &rules, T0 + 2)
            .await
            .unwrap(),
        ActivateOutcome::Stale
    );
    let f = s.get_factor(&u.tenant_id, &other.id).await.unwrap().unwrap();
    assert_eq!(
        (f.status, f.last_step),
        (FactorStatus::Pending, None),
        "rolled back"
    );
    // A condition on kinds the user does not have lets it complete.
    let rules = ActivationRules {
        only_without: Some(vec![FactorKind::EmailOtp]),
        ..Default::default()
    };
    assert_eq!(
        s.activate_factor(&other.id, &Check::TotpStep(7), &b, &rules, T0 + 3)
            .await
            .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: false
        }
    );
    // In a forced enrollment the same rule makes the challenge stale, closed and uncounted.
    let u2 = user_in_new_tenant(&s).await;
    let mut c = challenge(&u2, T0 + 300_000);
    c.purpose = ChallengePurpose::Enroll;
    s.insert_challenge(&c).await.unwrap();
    let mine = factor(&u2, FactorKind::Totp, FactorStatus::Pending);
    s.insert_factor(&mine).await.unwrap();
    let mut theirs = factor(&u2, FactorKind::Sms, FactorStatus::Pending);
    theirs.secret_sealed = None;
    s.insert_factor(&theirs).await.unwrap();
    let b2 = backup(&u2, &["z"]);
    s.activate_factor(
        &theirs.id,
        &Check::Preverified,
        &b2,
        &ActivationRules::default(),
        T0 + 4,
    )
    .await
    .unwrap();
    let key = factor_key(&u2, &mine.id);
    let attempt = SignInAttempt {
        challenge_id: c.id.clone(),
        proof: Some(Proof::Enrollment {
            factor_id: mine.id.clone(),
            check: Check::TotpStep(9),
            backup: Box::new(b2.clone()),
            rules: ActivationRules {
                only_without: Some(vec![FactorKind::Totp, FactorKind::Sms]),
                keep_session: None,
                enrolled_by: Some(c.id.to_string()),
            },
        }),
        throttle: key.clone(),
        policy: ThrottlePolicy::PASSWORD,
        writes: SignInWrites::default(),
        on_failure: None,
        on_locked: None,
    };
    assert_eq!(
        s.attempt_sign_in(&attempt, T0 + 5).await.unwrap(),
        AttemptOutcome::Stale
    );
    let closed = s.get_challenge(&u2.tenant_id, &c.id).await.unwrap().unwrap();
    assert!(closed.expires_at <= T0 + 5 && closed.completed_at.is_none());
    assert_eq!(
        s.throttle_attempt(&key, &ThrottlePolicy::PASSWORD, T0 + 6)
            .await
            .unwrap(),
        ThrottleDecision::Allowed { failures: 1 },
        "the stale attempt counted nothing"
    );
}

async fn a_first_factor_ends_other_sessions_and_enrollments(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let old = new_session(&s, &u, "rt-old").await;
    let mine = new_session(&s, &u, "rt-mine").await;
    // Another session's pending enrollment, and one of this session's.
    let mut theirs = factor(&u, FactorKind::EmailOtp, FactorStatus::Pending);
    theirs.enrolled_by = Some(old.id.to_string());
    s.insert_factor(&theirs).await.unwrap();
    let mut own = factor(&u, FactorKind::Sms, FactorStatus::Pending);
    own.enrolled_by = Some(mine.id.to_string());
    s.insert_factor(&own).await.unwrap();
    let mut first = factor(&u, FactorKind::Totp, FactorStatus::Pending);
    first.enrolled_by = Some(mine.id.to_string());
    s.insert_factor(&first).await.unwrap();
    let rules = ActivationRules {
        only_without: None,
        keep_session: Some(mine.id.clone()),
        enrolled_by: Some(mine.id.to_string()),
    };
    let b = backup(&u, &["a"]);
    assert_eq!(
        s.activate_factor(&first.id, &Check::TotpStep(3), &b, &rules, T0 + 1)
            .await
            .unwrap(),
        ActivateOutcome::Activated {
            backup_installed: true
        }
    );
    assert!(!is_live(&s, &old.id).await);
    assert!(is_live(&s, &mine.id).await);
    assert_eq!(
        s.rotate_refresh_token("rt-old", "rt-old-2", T0 + 2)
            .await
            .unwrap(),
        RotateOutcome::Dead
    );
    assert_eq!(s.get_factor(&u.tenant_id, &theirs.id).await.unwrap(), None);
    assert!(s.get_factor(&u.tenant_id, &own.id).await.unwrap().is_some());
    // A second factor ends nothing.
    let later = new_session(&s, &u, "rt-later").await;
    s.activate_factor(&own.id, &Check::Preverified, &b, &rules, T0 + 3)
        .await
        .unwrap();
    assert!(is_live(&s, &later.id).await);
}

async fn factor_changes_end_every_session_but_the_callers(s: DynStore) {
    let (u, totp, bid) = enrolled(&s).await;
    let a = new_session(&s, &u, "rt-a").await;
    let b = new_session(&s, &u, "rt-b").await;
    let mut install = backup(&u, &["n1"]);
    install.factor.id = bid.clone();
    s.replace_backup_codes(&install, Some(&a.id), T0 + 1)
        .await
        .unwrap();
    assert!(is_live(&s, &a.id).await && !is_live(&s, &b.id).await);
    let c = new_session(&s, &u, "rt-c").await;
    // Deleting an unknown factor ends nothing.
    let unknown = FactorId::generate(T0, &OsRandom);
    assert!(!s
        .delete_factor(&u.tenant_id, &u.id, &unknown, None, T0 + 2)
        .await
        .unwrap());
    assert!(is_live(&s, &c.id).await);
    assert!(s
        .delete_factor(&u.tenant_id, &u.id, &totp.id, Some(&a.id), T0 + 3)
        .await
        .unwrap());
    assert!(is_live(&s, &a.id).await && !is_live(&s, &c.id).await);
    // A reset ends them all.
    s.reset_mfa(&u.tenant_id, &u.id, T0 + 4).await.unwrap();
    assert!(!is_live(&s, &a.id).await);
}

async fn narrowing_counts_users_to_reenroll(s: DynStore) {
    let (u, _, _) = enrolled(&s).await;
    let t = &u.tenant_id;
    // A second user of the tenant with an SMS factor; a third with only a pending one.
    let v = user(t, "bob@example.com");
    s.insert_user(&v).await.unwrap();
    let mut sms = factor(&v, FactorKind::Sms, FactorStatus::Pending);
    sms.secret_sealed = None;
    s.insert_factor(&sms).await.unwrap();
    s.activate_factor(
        &sms.id,
        &Check::Preverified,
        &backup(&v, &["x"]),
        &ActivationRules::default(),
        T0 + 1,
    )
    .await
    .unwrap();
    let w = user(t, "carol@example.com");
    s.insert_user(&w).await.unwrap();
    s.insert_factor(&factor(&w, FactorKind::Totp, FactorStatus::Pending))
        .await
        .unwrap();
    let count = |allowed: Vec<FactorKind>| {
        let s = s.clone();
        let t = t.clone();
        async move { s.count_users_to_reenroll(&t, &allowed).await.unwrap() }
    };
    use FactorKind::*;
    assert_eq!(count(vec![Totp, Sms, BackupCodes]).await, 0);
    assert_eq!(count(vec![Sms, BackupCodes]).await, 1);
    assert_eq!(count(vec![Totp]).await, 1);
    assert_eq!(count(vec![EmailOtp]).await, 2);
    assert_eq!(count(vec![BackupCodes]).await, 2);
    assert_eq!(count(vec![]).await, 2);
}

async fn a_sent_code_keeps_its_challenge_open(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let mut f = sms_factor(&u, FactorStatus::Pending);
    f.status = FactorStatus::Active;
    f.expires_at = None;
    s.insert_factor(&f).await.unwrap();
    let c = challenge(&u, T0 + 300_000);
    s.insert_challenge(&c).await.unwrap();
    let mut i = issue(&u, &f, Some(&c.id), "h1", false, T0);
    i.code.expires_at = T0 + 600_000;
    assert_eq!(s.issue_code(&i, T0).await.unwrap(), IssueOutcome::Issued);
    assert_eq!(
        s.get_challenge(&u.tenant_id, &c.id)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        T0 + 600_000
    );
    // Never shortened.
    let mut j = issue(&u, &f, Some(&c.id), "h2", false, T0 + 61_000);
    j.code.expires_at = T0 + 200_000;
    assert_eq!(s.issue_code(&j, T0 + 61_000).await.unwrap(), IssueOutcome::Issued);
    assert_eq!(
        s.get_challenge(&u.tenant_id, &c.id)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        T0 + 600_000
    );
}

async fn idempotency_keys_start_once_and_replay(s: DynStore) {
    let u = user_in_new_tenant(&s).await;
    let rec = IdempotencyRecord {
        tenant_id: u.tenant_id.clone(),
        scope: "ses_x POST /v1/users/me/mfa/factors".into(),
        key_hash: "k1".into(),
        request_hash: "r1".into(),
        created_at: T0,
        expires_at: T0 + 86_400_000,
    };
    // Of many concurrent first uses, one starts.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (s, rec) = (s.clone(), rec.clone());
        tasks.push(tokio::spawn(async move {
            s.idempotency_begin(&rec, T0).await.unwrap()
        }));
    }
    let mut started = 0;
    for t in tasks {
        match t.await.unwrap() {
            IdempotencyBegin::Started => started += 1,
            other => assert_eq!(other, IdempotencyBegin::InFlight),
        }
    }
    assert_eq!(started, 1);
    let other_body = IdempotencyRecord {
        request_hash: "r2".into(),
        ..rec.clone()
    };
    assert_eq!(
        s.idempotency_begin(&other_body, T0 + 1).await.unwrap(),
        IdempotencyBegin::Mismatch
    );
    s.idempotency_finish(&rec, 201, "lk1.sealed").await.unwrap();
    assert_eq!(
        s.idempotency_begin(&rec, T0 + 2).await.unwrap(),
        IdempotencyBegin::Done {
            status: 201,
            response_sealed: "lk1.sealed".into()
        }
    );
    // Abandoning leaves a finished record alone; an abandoned in-flight one starts again.
    s.idempotency_abandon(&rec).await.unwrap();
    assert!(matches!(
        s.idempotency_begin(&rec, T0 + 3).await.unwrap(),
        IdempotencyBegin::Done { .. }
    ));
    let k2 = IdempotencyRecord {
        key_hash: "k2".into(),
        ..rec.clone()
    };
    assert_eq!(
        s.idempotency_begin(&k2, T0).await.unwrap(),
        IdempotencyBegin::Started
    );
    s.idempotency_abandon(&k2).await.unwrap();
    assert_eq!(
        s.idempotency_begin(&k2, T0).await.unwrap(),
        IdempotencyBegin::Started
    );
    // A record left in flight (a crash before finishing) is given up after a minute.
    let k3 = IdempotencyRecord {
        key_hash: "k3".into(),
        ..rec.clone()
    };
    assert_eq!(
        s.idempotency_begin(&k3, T0).await.unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        s.idempotency_begin(&k3, T0 + IDEMPOTENCY_IN_FLIGHT_MS - 1)
            .await
            .unwrap(),
        IdempotencyBegin::InFlight
    );
    let later = IdempotencyRecord {
        created_at: T0 + IDEMPOTENCY_IN_FLIGHT_MS,
        ..k3.clone()
    };
    assert_eq!(
        s.idempotency_begin(&later, T0 + IDEMPOTENCY_IN_FLIGHT_MS)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    // Expired records are forgotten.
    assert_eq!(
        s.idempotency_begin(&rec, T0 + 86_400_000).await.unwrap(),
        IdempotencyBegin::Started
    );
}

async fn meta_values_round_trip(s: DynStore) {
    assert_eq!(s.get_meta("contract_key").await.unwrap(), None);
    s.put_meta("contract_key", "1").await.unwrap();
    s.put_meta("contract_key", "2").await.unwrap();
    assert_eq!(s.get_meta("contract_key").await.unwrap().as_deref(), Some("2"));
}
