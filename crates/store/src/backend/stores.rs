//! The store traits, written once for both backends as a macro over how each runs a
//! script: `run!(self, kind, [borrowed inputs], c => script)`, where `kind` is `read` (a
//! short read), `long_read` (a listing or count over a tenant), `write` (one statement),
//! `tx` (several, kept together) or `undo` (several, kept only if the script says so).
//! Each backend defines `run!` where it invokes [`impl_stores!`]: PostgreSQL runs reads and
//! single writes on the pool and the rest in a transaction; SQLite runs reads on the
//! calling thread and writes as jobs of its writer thread, which must own their inputs: it
//! moves them in with [`IntoOwned`] and lends them back with [`Reborrow`], so that the
//! script call reads the same for both.

use crate::model::*;
use latchkey_core::ids::{ApiKeyId, ChallengeId, FactorId, SessionId, TenantId, UserId};
use latchkey_core::throttle::ThrottlePolicy;

/// A borrowed input as a value a write job can own.
pub(crate) trait IntoOwned {
    type Owned: Send + 'static;
    fn into_owned(self) -> Self::Owned;
}

/// An owned input lent back as the type the store call borrowed it as.
pub(crate) trait Reborrow {
    type Ref<'b>
    where
        Self: 'b;
    fn reborrow(&self) -> Self::Ref<'_>;
}

impl<T: Clone + Send + 'static> IntoOwned for &T {
    type Owned = T;
    fn into_owned(self) -> T {
        self.clone()
    }
}

impl IntoOwned for &str {
    type Owned = String;
    fn into_owned(self) -> String {
        self.to_owned()
    }
}

impl<T: Clone + Send + 'static> IntoOwned for &[T] {
    type Owned = Vec<T>;
    fn into_owned(self) -> Vec<T> {
        self.to_vec()
    }
}

impl<T: Clone + Send + 'static> IntoOwned for Option<&T> {
    type Owned = Option<T>;
    fn into_owned(self) -> Option<T> {
        self.cloned()
    }
}

impl IntoOwned for Option<&str> {
    type Owned = Option<String>;
    fn into_owned(self) -> Option<String> {
        self.map(str::to_owned)
    }
}

impl Reborrow for String {
    type Ref<'b> = &'b str;
    fn reborrow(&self) -> &str {
        self
    }
}

impl<T> Reborrow for Vec<T> {
    type Ref<'b>
        = &'b [T]
    where
        T: 'b;
    fn reborrow(&self) -> &[T] {
        self
    }
}

impl<T: Reborrow> Reborrow for Option<T> {
    type Ref<'b>
        = Option<T::Ref<'b>>
    where
        T: 'b;
    fn reborrow(&self) -> Option<T::Ref<'_>> {
        self.as_ref().map(T::reborrow)
    }
}

/// The records and ids the store calls borrow, lent back as references.
macro_rules! by_reference {
    ($($t:ty),* $(,)?) => {
        $(impl Reborrow for $t {
            type Ref<'b> = &'b $t;
            fn reborrow(&self) -> &$t {
                self
            }
        })*
    };
}
by_reference!(
    ActivationRules,
    ApiKeyId,
    ApiKeyRecord,
    AuthorizationCode,
    Application,
    latchkey_core::ids::ApplicationId,
    AuditEvent,
    BackupInstall,
    Challenge,
    ChallengeId,
    Check,
    CodeIssue,
    DeliveryUpdate,
    EmailLinkIssue,
    EnrollmentTicketIssue,
    Factor,
    FactorId,
    IdempotencyRecord,
    LinkConsume,
    TicketSpend,
    MfaRuleRecord,
    Organization,
    latchkey_core::ids::OrganizationId,
    Role,
    RoleAssignment,
    latchkey_core::ids::RoleId,
    LinkProof,
    OutboxMessage,
    Proof,
    Session,
    SessionId,
    SignInAttempt,
    SignInRecord,
    HistoryBounds,
    SignInWrites,
    SigningKeyRecord,
    Tenant,
    TenantId,
    ThrottleKey,
    ThrottlePolicy,
    User,
    UserId,
    Webhook,
    WebhookAttempt,
    WebhookPatch,
    latchkey_core::ids::WebhookId,
    latchkey_core::ids::DeviceId,
);

/// Every store trait for `$store`, each call one script through the backend's `run!`.
macro_rules! impl_stores {
    ($store:ty) => {
        #[async_trait]
        impl TenantStore for $store {
            async fn insert_tenant(&self, tenant: &Tenant) -> Result<()> {
                run!(self, write, [tenant], c => tenants::insert(c, tenant))
            }
            async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
                run!(self, read, [id], c => tenants::get(c, id))
            }
            async fn update_tenant_settings(&self, tenant: &Tenant, now: UnixMillis) -> Result<bool> {
                run!(self, write, [tenant], c => tenants::update_settings(c, tenant, now))
            }
            async fn set_tenant_addresses(
                &self,
                id: &TenantId,
                slug: Option<&str>,
                host: Option<&str>,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [id, slug, host], c => tenants::set_addresses(c, id, slug, host, now))
            }
            async fn list_addressed_tenants(&self) -> Result<Vec<Tenant>> {
                run!(self, read, [], c => tenants::list_addressed(c))
            }
            async fn ensure_default_tenant(
                &self,
                tenant: &Tenant,
                first_key: Option<&ApiKeyRecord>,
            ) -> Result<(TenantId, bool)> {
                run!(self, tx, [tenant, first_key], c => tenants::ensure_default(c, tenant, first_key))
            }
        }

        #[async_trait]
        impl PolicyStore for $store {
            async fn insert_organization(&self, org: &Organization) -> Result<()> {
                run!(self, write, [org], c => policy::insert_organization(c, org))
            }
            async fn get_organization(&self, tenant: &TenantId, id: &OrganizationId) -> Result<Option<Organization>> {
                run!(self, read, [tenant, id], c => policy::get_organization(c, tenant, id))
            }
            async fn list_organizations(&self, tenant: &TenantId) -> Result<Vec<Organization>> {
                run!(self, read, [tenant], c => policy::list_organizations(c, tenant))
            }
            async fn rename_organization(
                &self,
                tenant: &TenantId,
                id: &OrganizationId,
                name: &str,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [tenant, id, name], c => policy::rename_organization(c, tenant, id, name, now))
            }
            async fn delete_organization(&self, tenant: &TenantId, id: &OrganizationId) -> Result<bool> {
                run!(self, tx, [tenant, id], c => policy::delete_organization(c, tenant, id))
            }
            async fn add_organization_member(
                &self,
                tenant: &TenantId,
                org: &OrganizationId,
                user: &UserId,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [tenant, org, user], c => policy::add_member(c, tenant, org, user, now))
            }
            async fn remove_organization_member(
                &self,
                tenant: &TenantId,
                org: &OrganizationId,
                user: &UserId,
            ) -> Result<bool> {
                run!(self, tx, [tenant, org, user], c => policy::remove_member(c, tenant, org, user))
            }
            async fn list_organization_members(&self, tenant: &TenantId, org: &OrganizationId) -> Result<Vec<UserId>> {
                run!(self, read, [tenant, org], c => policy::list_members(c, tenant, org))
            }
            async fn user_organizations(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Organization>> {
                run!(self, read, [tenant, user], c => policy::user_organizations(c, tenant, user))
            }
            async fn insert_role(&self, role: &Role) -> Result<()> {
                run!(self, write, [role], c => policy::insert_role(c, role))
            }
            async fn get_role(&self, tenant: &TenantId, id: &RoleId) -> Result<Option<Role>> {
                run!(self, read, [tenant, id], c => policy::get_role(c, tenant, id))
            }
            async fn list_roles(&self, tenant: &TenantId) -> Result<Vec<Role>> {
                run!(self, read, [tenant], c => policy::list_roles(c, tenant))
            }
            async fn delete_role(&self, tenant: &TenantId, id: &RoleId) -> Result<bool> {
                run!(self, tx, [tenant, id], c => policy::delete_role(c, tenant, id))
            }
            async fn assign_role(&self, tenant: &TenantId, assignment: &RoleAssignment) -> Result<bool> {
                run!(self, write, [tenant, assignment], c => policy::assign_role(c, tenant, assignment))
            }
            async fn unassign_role(
                &self,
                tenant: &TenantId,
                role: &RoleId,
                user: &UserId,
                org: Option<&OrganizationId>,
            ) -> Result<bool> {
                run!(self, write, [tenant, role, user, org], c => policy::unassign_role(c, tenant, role, user, org))
            }
            async fn user_roles(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<RoleAssignment>> {
                run!(self, read, [tenant, user], c => policy::user_roles(c, tenant, user))
            }
            async fn put_mfa_rule(&self, rule: &MfaRuleRecord) -> Result<()> {
                run!(self, write, [rule], c => policy::put_rule(c, rule))
            }
            async fn get_mfa_rule(&self, tenant: &TenantId, level: &str, target: &str) -> Result<Option<MfaRuleRecord>> {
                run!(self, read, [tenant, level, target], c => policy::get_rule(c, tenant, level, target))
            }
            async fn delete_mfa_rule(&self, tenant: &TenantId, level: &str, target: &str) -> Result<bool> {
                run!(self, write, [tenant, level, target], c => policy::delete_rule(c, tenant, level, target))
            }
            async fn mfa_rules_for_user(
                &self,
                tenant: &TenantId,
                user: &UserId,
                application: Option<&str>,
            ) -> Result<Vec<MfaRuleRecord>> {
                run!(self, read, [tenant, user, application], c =>
                    policy::rules_for_user(c, tenant, user, application))
            }
        }

        #[async_trait]
        impl ApiKeyStore for $store {
            async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
                run!(self, write, [key], c => tenants::insert_api_key(c, key))
            }
            async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>> {
                run!(self, read, [key_hash], c => tenants::find_api_key(c, key_hash))
            }
            async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
                run!(self, read, [tenant], c => tenants::list_api_keys(c, tenant))
            }
            async fn revoke_api_key(&self, id: &ApiKeyId, now: UnixMillis) -> Result<bool> {
                run!(self, write, [id], c => tenants::revoke_api_key(c, id, now))
            }
        }

        #[async_trait]
        impl UserStore for $store {
            async fn insert_user(&self, user: &User) -> Result<()> {
                run!(self, write, [user], c => users::insert(c, user))
            }
            async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>> {
                run!(self, read, [tenant, id], c => users::get(c, tenant, id))
            }
            async fn find_user_by_email(&self, tenant: &TenantId, email: &str) -> Result<Option<User>> {
                run!(self, read, [tenant, email], c => users::find_by_email(c, tenant, email))
            }
            async fn list_users(
                &self,
                tenant: &TenantId,
                after: Option<&UserId>,
                limit: u32,
            ) -> Result<Vec<User>> {
                run!(self, long_read, [tenant, after], c => users::list(c, tenant, after, limit))
            }
            async fn set_phone_hash(&self, user: &UserId, hash: &str) -> Result<()> {
                run!(self, write, [user, hash], c => users::set_phone_hash(c, user, hash))
            }
            async fn preferred_factor(&self, tenant: &TenantId, user: &UserId) -> Result<Option<FactorId>> {
                run!(self, read, [tenant, user], c => users::preferred_factor(c, tenant, user))
            }
            async fn set_preferred_factor(
                &self,
                tenant: &TenantId,
                user: &UserId,
                factor: &FactorId,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [tenant, user, factor], c =>
                    users::set_preferred_factor(c, tenant, user, factor, now))
            }
        }

        // Named in full, so the backends' imports need not change for it.
        #[async_trait]
        impl ApplicationStore for $store {
            async fn insert_application(&self, app: &Application) -> Result<()> {
                run!(self, write, [app], c => crate::backend::scripts::applications::insert(c, app))
            }
            async fn get_application(
                &self,
                tenant: &TenantId,
                id: &latchkey_core::ids::ApplicationId,
            ) -> Result<Option<Application>> {
                run!(self, read, [tenant, id], c =>
                    crate::backend::scripts::applications::get(c, tenant, id))
            }
            async fn list_applications(
                &self,
                tenant: &TenantId,
                after: Option<&latchkey_core::ids::ApplicationId>,
                limit: u32,
            ) -> Result<Vec<Application>> {
                run!(self, long_read, [tenant, after], c =>
                    crate::backend::scripts::applications::list(c, tenant, after, limit))
            }
            async fn update_application(&self, app: &Application) -> Result<bool> {
                run!(self, write, [app], c => crate::backend::scripts::applications::update(c, app))
            }
            async fn delete_application(
                &self,
                tenant: &TenantId,
                id: &latchkey_core::ids::ApplicationId,
            ) -> Result<bool> {
                run!(self, write, [tenant, id], c =>
                    crate::backend::scripts::applications::delete(c, tenant, id))
            }
            async fn set_application_secret(
                &self,
                tenant: &TenantId,
                id: &latchkey_core::ids::ApplicationId,
                secret_hash: &str,
                secret_prefix: &str,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [tenant, id, secret_hash, secret_prefix], c =>
                    crate::backend::scripts::applications::set_secret(c, tenant, id, secret_hash, secret_prefix, now))
            }
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(&self, s: &Session, refresh_hash: &str) -> Result<()> {
                run!(self, tx, [s, refresh_hash], c => sessions::insert(c, s, refresh_hash))
            }
            async fn get_session(&self, id: &SessionId) -> Result<Option<Session>> {
                run!(self, read, [id], c => sessions::get(c, id))
            }
            async fn rotate_refresh_token(
                &self,
                presented_hash: &str,
                next_hash: &str,
                now: UnixMillis,
            ) -> Result<RotateOutcome> {
                run!(self, tx, [presented_hash, next_hash], c =>
                    sessions::rotate(c, presented_hash, next_hash, now))
            }
            async fn revoke_session(&self, id: &SessionId, now: UnixMillis) -> Result<bool> {
                run!(self, write, [id], c => sessions::revoke(c, id, now))
            }
            async fn session_for_refresh(&self, hash: &str) -> Result<Option<Session>> {
                run!(self, read, [hash], c => sessions::for_refresh(c, hash))
            }
            async fn revoke_session_tree(&self, id: &SessionId, now: UnixMillis) -> Result<u64> {
                run!(self, write, [id], c => sessions::revoke_tree(c, id, now))
            }
            async fn revoke_client_sessions(
                &self,
                tenant: &TenantId,
                client: &latchkey_core::ids::ApplicationId,
                now: UnixMillis,
            ) -> Result<u64> {
                run!(self, write, [tenant, client], c => sessions::revoke_for_client(c, tenant, client, now))
            }
        }

        #[async_trait]
        impl AuthorizationStore for $store {
            async fn insert_authorization_code(&self, code: &AuthorizationCode) -> Result<()> {
                run!(self, write, [code], c => authorization::insert(c, code))
            }
            async fn get_authorization_code(&self, code_hash: &str) -> Result<Option<AuthorizationCode>> {
                run!(self, read, [code_hash], c => authorization::get(c, code_hash))
            }
            async fn redeem_authorization_code(
                &self,
                code_hash: &str,
                session: &Session,
                refresh_hash: &str,
                now: UnixMillis,
            ) -> Result<RedeemOutcome> {
                run!(self, tx, [code_hash, session, refresh_hash], c =>
                    authorization::redeem(c, code_hash, session, refresh_hash, now))
            }
            async fn burn_authorization_code(&self, code_hash: &str, now: UnixMillis) -> Result<()> {
                run!(self, write, [code_hash], c => authorization::burn(c, code_hash, now))
            }
        }

        #[async_trait]
        impl ThrottleStore for $store {
            async fn throttle_attempt(
                &self,
                key: &ThrottleKey,
                policy: &ThrottlePolicy,
                now: UnixMillis,
            ) -> Result<ThrottleDecision> {
                run!(self, tx, [key, policy], c => throttle::attempt(c, key, policy, now))
            }
            async fn throttle_clear(&self, key: &ThrottleKey) -> Result<()> {
                run!(self, write, [key], c => throttle::clear(c, key))
            }
            async fn throttle_peek(&self, key: &ThrottleKey) -> Result<Option<(u32, UnixMillis)>> {
                run!(self, read, [key], c => throttle::peek(c, key))
            }
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn ensure_server_secret(
                &self,
                name: &str,
                sealed: &str,
                now: UnixMillis,
            ) -> Result<String> {
                run!(self, tx, [name, sealed], c => keys::ensure_server_secret(c, name, sealed, now))
            }
            async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
                run!(self, write, [key], c => keys::insert_signing_key(c, key))
            }
            async fn ensure_first_signing_key(&self, key: &SigningKeyRecord, now: UnixMillis) -> Result<()> {
                run!(self, write, [key], c => keys::ensure_first_signing_key(c, key, now))
            }
            async fn published_signing_keys(&self, now: UnixMillis) -> Result<Vec<SigningKeyRecord>> {
                run!(self, read, [], c => keys::published_signing_keys(c, now))
            }
            async fn schedule_signing_rotation(
                &self,
                key: &SigningKeyRecord,
                retire_others_at: UnixMillis,
            ) -> Result<Vec<String>> {
                run!(self, tx, [key], c => keys::schedule_signing_rotation(c, key, retire_others_at))
            }
            async fn list_sealed(&self, column: SealedColumn) -> Result<Vec<(String, String)>> {
                run!(self, write, [], c => keys::list_sealed(c, column))
            }
            async fn replace_sealed(
                &self,
                column: SealedColumn,
                row: &str,
                old: &str,
                new: &str,
            ) -> Result<bool> {
                run!(self, write, [row, old, new], c => keys::replace_sealed(c, column, row, old, new))
            }
            async fn get_meta(&self, key: &str) -> Result<Option<String>> {
                run!(self, read, [key], c => keys::get_meta(c, key))
            }
            async fn put_meta(&self, key: &str, value: &str) -> Result<()> {
                run!(self, write, [key, value], c => keys::put_meta(c, key, value))
            }
        }

        #[async_trait]
        impl FactorStore for $store {
            async fn insert_factor(&self, factor: &Factor) -> Result<()> {
                run!(self, tx, [factor], c => factors::insert(c, factor))
            }
            async fn get_factor(&self, tenant: &TenantId, id: &FactorId) -> Result<Option<Factor>> {
                run!(self, read, [tenant, id], c => factors::get(c, tenant, id))
            }
            async fn list_factors(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Factor>> {
                run!(self, read, [tenant, user], c => factors::list(c, tenant, user))
            }
            async fn activate_factor(
                &self,
                id: &FactorId,
                check: &Check,
                backup: &BackupInstall,
                rules: &ActivationRules,
                now: UnixMillis,
            ) -> Result<ActivateOutcome> {
                run!(self, undo, [id, check, backup, rules], c =>
                    factors::activate(c, id, check, backup, rules, now))
            }
            async fn mark_phone_verified(
                &self,
                user: &UserId,
                phone_hash: &str,
                now: UnixMillis,
            ) -> Result<()> {
                run!(self, write, [user, phone_hash], c =>
                    factors::mark_phone_verified(c, user, phone_hash, now))
            }
            async fn delete_factor(
                &self,
                tenant: &TenantId,
                user: &UserId,
                id: &FactorId,
                keep_session: Option<&SessionId>,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, undo, [tenant, user, id, keep_session], c =>
                    factors::delete(c, tenant, user, id, keep_session, now))
            }
            async fn replace_backup_codes(
                &self,
                install: &BackupInstall,
                keep_session: Option<&SessionId>,
                now: UnixMillis,
            ) -> Result<FactorId> {
                run!(self, tx, [install, keep_session], c =>
                    factors::replace_backup_codes(c, install, keep_session, now))
            }
            async fn unused_backup_codes(&self, factor: &FactorId) -> Result<i64> {
                run!(self, read, [factor], c => factors::unused_backup_codes(c, factor))
            }
            async fn reset_mfa(&self, tenant: &TenantId, user: &UserId, now: UnixMillis) -> Result<u64> {
                run!(self, tx, [tenant, user], c => factors::reset_mfa(c, tenant, user, now))
            }
            async fn count_users_to_reenroll(
                &self,
                tenant: &TenantId,
                allowed: &[FactorKind],
            ) -> Result<i64> {
                run!(self, long_read, [tenant, allowed], c =>
                    factors::count_users_to_reenroll(c, tenant, allowed))
            }
        }

        #[async_trait]
        impl ChallengeStore for $store {
            async fn insert_challenge(&self, challenge: &Challenge) -> Result<()> {
                run!(self, write, [challenge], c => challenges::insert(c, challenge))
            }
            async fn get_challenge(&self, tenant: &TenantId, id: &ChallengeId) -> Result<Option<Challenge>> {
                run!(self, read, [tenant, id], c => challenges::get(c, tenant, id))
            }
            async fn choose_factor(
                &self,
                id: &ChallengeId,
                factor: &FactorId,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [id, factor], c => challenges::choose_factor(c, id, factor, now))
            }
            async fn complete_sign_in(
                &self,
                id: &ChallengeId,
                proof: &Proof,
                writes: &SignInWrites,
                now: UnixMillis,
            ) -> Result<CompleteOutcome> {
                run!(self, undo, [id, proof, writes], c => challenges::complete(c, id, proof, writes, now))
            }
            async fn attempt_sign_in(
                &self,
                attempt: &SignInAttempt,
                now: UnixMillis,
            ) -> Result<AttemptOutcome> {
                run!(self, tx, [attempt], c => challenges::attempt(c, attempt, now))
            }
        }

        #[async_trait]
        impl WebauthnStore for $store {
            async fn list_webauthn_credentials(
                &self,
                tenant: &TenantId,
                user: &UserId,
            ) -> Result<Vec<WebauthnCredential>> {
                run!(self, read, [tenant, user], c => webauthn::list(c, tenant, user))
            }
            async fn find_webauthn_credential(
                &self,
                tenant: &TenantId,
                credential_id: &str,
            ) -> Result<Option<WebauthnCredential>> {
                run!(self, read, [tenant, credential_id], c => webauthn::find(c, tenant, credential_id))
            }
            async fn advance_webauthn_counter(
                &self,
                factor: &FactorId,
                count: i64,
                backup_state: bool,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, tx, [factor], c =>
                    webauthn::advance_counter(c, factor, count, backup_state, now))
            }
            async fn flag_webauthn_clone(&self, factor: &FactorId, now: UnixMillis) -> Result<bool> {
                run!(self, write, [factor], c => webauthn::flag_clone(c, factor, now))
            }
            async fn set_challenge_state(
                &self,
                id: &ChallengeId,
                state_sealed: &str,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [id, state_sealed], c =>
                    webauthn::set_challenge_state(c, id, state_sealed, now))
            }
            async fn take_challenge_state(
                &self,
                id: &ChallengeId,
                state_sealed: &str,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [id, state_sealed], c =>
                    webauthn::take_challenge_state(c, id, state_sealed, now))
            }
            async fn insert_passkey_ceremony(
                &self,
                tenant: &TenantId,
                challenge_hash: &str,
                state_sealed: &str,
                now: UnixMillis,
                expires_at: UnixMillis,
            ) -> Result<()> {
                run!(self, tx, [tenant, challenge_hash, state_sealed], c =>
                    webauthn::insert_ceremony(c, tenant, challenge_hash, state_sealed, now, expires_at))
            }
            async fn take_passkey_ceremony(
                &self,
                tenant: &TenantId,
                challenge_hash: &str,
                now: UnixMillis,
            ) -> Result<Option<String>> {
                run!(self, write, [tenant, challenge_hash], c =>
                    webauthn::take_ceremony(c, tenant, challenge_hash, now))
            }
        }

        #[async_trait]
        impl SignInHistoryStore for $store {
            async fn record_signin(&self, record: &SignInRecord, keep: &HistoryBounds) -> Result<()> {
                run!(self, tx, [record, keep], c => signins::record_signin(c, record, keep))
            }
            async fn recent_signins(
                &self,
                tenant: &TenantId,
                user: &UserId,
                bounds: &HistoryBounds,
            ) -> Result<Vec<SignInRecord>> {
                run!(self, read, [tenant, user, bounds], c => signins::recent_signins(c, tenant, user, bounds))
            }
            async fn confirm_signin(&self, tenant: &TenantId, challenge: &ChallengeId) -> Result<bool> {
                run!(self, write, [tenant, challenge], c => signins::confirm_signin(c, tenant, challenge))
            }
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn insert_audit(&self, event: &AuditEvent) -> Result<()> {
                // Two statements (the record, its webhook deliveries), kept together.
                run!(self, tx, [event], c => audit::insert(c, event))
            }
            async fn list_audit(
                &self,
                tenant: &TenantId,
                user: Option<&UserId>,
                before: Option<&str>,
                limit: u32,
            ) -> Result<Vec<AuditEvent>> {
                run!(self, long_read, [tenant, user, before], c =>
                    audit::list(c, tenant, user, before, limit))
            }
        }

        #[async_trait]
        impl WebhookStore for $store {
            async fn insert_webhook(&self, hook: &Webhook) -> Result<()> {
                run!(self, tx, [hook], c => crate::backend::scripts::webhooks::insert(c, hook))
            }
            async fn get_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<Option<Webhook>> {
                run!(self, read, [tenant, id], c => crate::backend::scripts::webhooks::get(c, tenant, id))
            }
            async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>> {
                run!(self, read, [tenant], c => crate::backend::scripts::webhooks::list(c, tenant))
            }
            async fn update_webhook(
                &self,
                tenant: &TenantId,
                id: &WebhookId,
                patch: &WebhookPatch,
            ) -> Result<Option<Webhook>> {
                run!(self, tx, [tenant, id, patch], c =>
                    crate::backend::scripts::webhooks::update(c, tenant, id, patch))
            }
            async fn delete_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<bool> {
                run!(self, tx, [tenant, id], c => crate::backend::scripts::webhooks::delete(c, tenant, id))
            }
            async fn list_webhook_deliveries(
                &self,
                tenant: &TenantId,
                hook: &WebhookId,
                before: Option<&str>,
                limit: u32,
            ) -> Result<Vec<WebhookDelivery>> {
                run!(self, long_read, [tenant, hook, before], c =>
                    crate::backend::scripts::webhooks::list_deliveries(c, tenant, hook, before, limit))
            }
            async fn redeliver_webhook(
                &self,
                tenant: &TenantId,
                hook: &WebhookId,
                id: &str,
                now: UnixMillis,
            ) -> Result<Redelivery> {
                run!(self, tx, [tenant, hook, id], c =>
                    crate::backend::scripts::webhooks::redeliver(c, tenant, hook, id, now))
            }
            async fn claim_webhook_deliveries(
                &self,
                now: UnixMillis,
                lease_ms: i64,
                limit: u32,
            ) -> Result<Vec<ClaimedDelivery>> {
                run!(self, tx, [], c => crate::backend::scripts::webhooks::claim(c, now, lease_ms, limit))
            }
            async fn finish_webhook_delivery(
                &self,
                id: &str,
                attempts: i64,
                attempt: &WebhookAttempt,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [id, attempt], c =>
                    crate::backend::scripts::webhooks::finish(c, id, attempts, attempt, now))
            }
        }

        #[async_trait]
        impl IdempotencyStore for $store {
            async fn idempotency_begin(
                &self,
                record: &IdempotencyRecord,
                now: UnixMillis,
            ) -> Result<IdempotencyBegin> {
                run!(self, tx, [record], c => idempotency::begin(c, record, now))
            }
            async fn idempotency_finish(
                &self,
                record: &IdempotencyRecord,
                status: u16,
                response_sealed: &str,
            ) -> Result<()> {
                run!(self, write, [record, response_sealed], c =>
                    idempotency::finish(c, record, status, response_sealed))
            }
            async fn idempotency_abandon(&self, record: &IdempotencyRecord) -> Result<()> {
                run!(self, write, [record], c => idempotency::abandon(c, record))
            }
        }

        #[async_trait]
        impl DeliveryStore for $store {
            async fn issue_code(&self, issue: &CodeIssue, now: UnixMillis) -> Result<IssueOutcome> {
                run!(self, undo, [issue], c => delivery::issue_code(c, issue, now))
            }
            async fn queue_notice(
                &self,
                message: &OutboxMessage,
                cooldown_key: Option<&str>,
                cooldown_secs: i64,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, undo, [message, cooldown_key], c =>
                    delivery::queue_notice(c, message, cooldown_key.map(|k| (k, cooldown_secs)), now))
            }
            async fn claim_outbox(
                &self,
                now: UnixMillis,
                lease_ms: i64,
                limit: u32,
            ) -> Result<Vec<OutboxMessage>> {
                run!(self, write, [], c => delivery::claim_outbox(c, now, lease_ms, limit))
            }
            async fn finish_outbox(&self, id: &str, update: &DeliveryUpdate, now: UnixMillis) -> Result<()> {
                run!(self, write, [id, update], c => delivery::finish_outbox(c, id, update, now))
            }
            async fn last_delivery(&self, factor: &FactorId) -> Result<Option<OutboxMessage>> {
                run!(self, read, [factor], c => delivery::last_delivery(c, factor))
            }
            async fn outbox_backlog(&self) -> Result<(i64, Option<UnixMillis>)> {
                run!(self, read, [], c => delivery::outbox_backlog(c))
            }
            async fn bump_stat(&self, tenant: &TenantId, metric: &str, label: &str) -> Result<()> {
                run!(self, write, [tenant, metric, label], c =>
                    delivery::bump_stat(c, tenant.as_str(), metric, label))
            }
            async fn delivery_stats(&self, tenant: &TenantId) -> Result<Vec<(String, String, i64)>> {
                run!(self, long_read, [tenant], c => delivery::stats(c, tenant))
            }
            async fn get_provider(&self, tenant: &TenantId, channel: &str) -> Result<Option<String>> {
                run!(self, read, [tenant, channel], c => delivery::get_provider(c, tenant, channel))
            }
            async fn put_provider(
                &self,
                tenant: &TenantId,
                channel: &str,
                sealed: &str,
                now: UnixMillis,
            ) -> Result<()> {
                run!(self, write, [tenant, channel, sealed], c =>
                    delivery::put_provider(c, tenant, channel, sealed, now))
            }
            async fn delete_provider(&self, tenant: &TenantId, channel: &str) -> Result<bool> {
                run!(self, write, [tenant, channel], c => delivery::delete_provider(c, tenant, channel))
            }
        }

        #[async_trait]
        impl EmailLinkStore for $store {
            async fn issue_email_link(&self, issue: &EmailLinkIssue, now: UnixMillis) -> Result<IssueOutcome> {
                run!(self, undo, [issue], c => crate::backend::scripts::email_links::issue(c, issue, now))
            }
            async fn find_email_link(
                &self,
                tenant: &TenantId,
                purpose: LinkPurpose,
                proof: &LinkProof,
                now: UnixMillis,
            ) -> Result<Option<EmailLink>> {
                run!(self, read, [tenant, proof], c => crate::backend::scripts::email_links::find(c, tenant, purpose, proof, now))
            }
            async fn consume_email_link(&self, spend: &LinkConsume, now: UnixMillis) -> Result<bool> {
                run!(self, undo, [spend], c => crate::backend::scripts::email_links::consume(c, spend, now))
            }
        }

        #[async_trait]
        impl EnrollmentTicketStore for $store {
            async fn issue_enrollment_ticket(&self, issue: &EnrollmentTicketIssue, now: UnixMillis) -> Result<IssueOutcome> {
                run!(self, undo, [issue], c => crate::backend::scripts::enrollment_tickets::issue(c, issue, now))
            }
            async fn find_enrollment_ticket(
                &self,
                tenant: &TenantId,
                token_hash: &str,
                now: UnixMillis,
            ) -> Result<Option<EnrollmentTicket>> {
                run!(self, read, [tenant, token_hash], c => crate::backend::scripts::enrollment_tickets::find(c, tenant, token_hash, now))
            }
            async fn consume_enrollment_ticket(&self, spend: &TicketSpend, now: UnixMillis) -> Result<bool> {
                run!(self, undo, [spend], c => crate::backend::scripts::enrollment_tickets::consume(c, spend, now))
            }
        }

        #[async_trait]
        impl DeviceStore for $store {
            async fn use_device(
                &self,
                tenant: &TenantId,
                user: &UserId,
                token_hash: &str,
                ip: Option<&str>,
                now: UnixMillis,
            ) -> Result<Option<RememberedDevice>> {
                run!(self, write, [tenant, user, token_hash, ip], c => crate::backend::scripts::devices::use_device(c, tenant, user, token_hash, ip, now))
            }
            async fn list_devices(&self, tenant: &TenantId, user: &UserId, now: UnixMillis) -> Result<Vec<RememberedDevice>> {
                run!(self, read, [tenant, user], c => crate::backend::scripts::devices::list(c, tenant, user, now))
            }
            async fn revoke_device(
                &self,
                tenant: &TenantId,
                user: &UserId,
                id: &latchkey_core::ids::DeviceId,
                now: UnixMillis,
            ) -> Result<bool> {
                run!(self, write, [tenant, user, id], c => crate::backend::scripts::devices::revoke(c, tenant, user, id, now))
            }
            async fn revoke_devices(&self, _tenant: &TenantId, user: &UserId, now: UnixMillis) -> Result<u64> {
                run!(self, write, [user], c => crate::backend::scripts::devices::revoke_all(c, user.as_str(), now))
            }
        }
    };
}
pub(crate) use impl_stores;
