//! The store contract: every backend must behave identically. Each case runs on SQLite and,
//! when `LATCHKEY_TEST_DATABASE_URL` is set (always in CI), on PostgreSQL in a schema of
//! its own. The cases live in one module per aggregate, each listing its cases in
//! `contract!`; the fixtures they share are here.

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

/// One test per case and backend: `<aggregate>::sqlite::<case>`, `<aggregate>::postgres::<case>`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let b = crate::sqlite().await;
                super::$case(b.store.clone()).await;
                b.store.close().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(b) = crate::postgres().await else {
                    eprintln!("LATCHKEY_TEST_DATABASE_URL unset: PostgreSQL case skipped");
                    return;
                };
                super::$case(b.store.clone()).await;
                b.store.close().await;
            })*
        }
    };
}

mod applications;
mod audit;
mod authorization;
mod challenges;
mod delivery;
mod devices;
mod email_links;
mod enrollment_tickets;
mod factors;
mod idempotency;
mod keys;
mod policy;
mod schema;
mod sessions;
mod signins;
mod tenants;
mod throttle;
mod users;
mod webauthn;
mod webhooks;

fn tenant(name: &str) -> Tenant {
    Tenant {
        id: TenantId::generate(T0, &OsRandom),
        name: name.into(),
        settings: TenantSettings::default(),
        created_at: T0,
        slug: None,
        host: None,
        mfa_rules: 0,
        webhooks: 0,
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
        scopes: Vec::new(),
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
        email_verified_at: None,
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
        client_id: None,
        parent_id: None,
        scope: None,
    }
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
        state_sealed: None,
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
            factor_id: Some(f.id.clone()),
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

/// An email for `u` (a link's or a ticket's: no factor), queued at `now`.
fn queued_email(u: &User, now: UnixMillis, expires_at: UnixMillis) -> OutboxMessage {
    OutboxMessage {
        id: format!("msg_{}", ulid(now)),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        factor_id: None,
        channel: latchkey_core::factor::Channel::Email,
        destination_sealed: "lk1.k.destination".into(),
        payload_sealed: "lk1.k.payload".into(),
        status: DeliveryStatus::Queued,
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        expires_at,
        last_error: None,
        provider: None,
        provider_message_id: None,
        created_at: now,
        updated_at: now,
    }
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
        fan_out: true,
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
            device: None,
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
