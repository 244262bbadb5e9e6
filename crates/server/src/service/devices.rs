//! Remembered devices (`latchkey_core::devices` decides what they may do): remembering one
//! after a second factor, finding the one a sign-in presents, and listing and forgetting them
//! for the user or an admin.

use super::audit::{Actor, Audit, RequestMeta};
use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::assurance::Aal;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::devices::{self, SignInAsks};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::{DeviceId, UserId};
use latchkey_core::secret::{opaque_token, SecretString};
use latchkey_store::model::{AuditEvent, RememberedDevice, Tenant};

/// The remembered-device token a password sign-in presents, and the device it names once
/// looked up (`App::presented`).
pub(super) struct PresentedDevice<'a> {
    token: Option<&'a str>,
    found: tokio::sync::OnceCell<Option<RememberedDevice>>,
}

impl<'a> PresentedDevice<'a> {
    pub(super) fn new(token: Option<&'a str>) -> Self {
        Self {
            token,
            found: tokio::sync::OnceCell::new(),
        }
    }
}

/// A device remembered by a verification: the row and audit record written with it, and
/// the token handed to the client (once).
pub(super) struct ToRemember {
    pub device: RememberedDevice,
    pub event: AuditEvent,
    pub token: SecretString,
}

impl App {
    /// The keyed hash a device token is stored and found under: bound to its user.
    fn device_hash(&self, user: &UserId, token: &str) -> String {
        self.crypto
            .hasher
            .hash(HashPurpose::DeviceToken, user.as_str(), token.as_bytes())
    }

    /// The user's live device with the presented token, its use recorded; looked up at
    /// most once per sign-in whatever asks (adaptive MFA, then the second-factor gate).
    async fn presented<'p>(
        &self,
        p: &'p PresentedDevice<'_>,
        tenant: &Tenant,
        user: &UserId,
        meta: &RequestMeta,
    ) -> ServiceResult<Option<&'p RememberedDevice>> {
        let Some(token) = devices::well_formed(p.token) else {
            return Ok(None);
        };
        let found = p
            .found
            .get_or_try_init(|| async {
                let hash = self.device_hash(user, token);
                self.store
                    .use_device(&tenant.id, user, &hash, meta.ip.as_deref(), self.now())
                    .await
                    .map_err(ServiceError::from)
            })
            .await?;
        Ok(found.as_ref())
    }

    /// The device a password sign-in presents, if it is `user`'s, live, and may stand in
    /// for the second factor this sign-in asks for. Anything else (no token, a malformed,
    /// unknown, expired or revoked one, another user's) is no device: the sign-in asks for
    /// the second factor as usual, and says nothing about why.
    pub(super) async fn standing_device(
        &self,
        p: &PresentedDevice<'_>,
        tenant: &Tenant,
        user: &UserId,
        asks: &SignInAsks,
        meta: &RequestMeta,
    ) -> ServiceResult<Option<RememberedDevice>> {
        // A tenant that stopped remembering devices stops honouring them too; and nothing
        // is looked up for a sign-in no device could satisfy.
        if tenant.settings.remember_device.mode == devices::RememberMode::Never
            || devices::stands_in(Aal::Aal2Phr, asks).is_err()
        {
            return Ok(None);
        }
        let Some(device) = self.presented(p, tenant, user, meta).await? else {
            return Ok(None);
        };
        let remembered_at = Aal::parse(&device.aal).unwrap_or(Aal::Aal1);
        Ok(devices::stands_in(remembered_at, asks)
            .is_ok()
            .then(|| device.clone()))
    }

    /// Whether the sign-in comes from one of the user's live remembered devices, for
    /// adaptive MFA's `new_device` signal (looked up only while adaptive MFA is on).
    pub(super) async fn known_device(
        &self,
        p: &PresentedDevice<'_>,
        tenant: &Tenant,
        user: &UserId,
        meta: &RequestMeta,
    ) -> ServiceResult<bool> {
        if !tenant.settings.adaptive.enabled {
            return Ok(false);
        }
        Ok(self.presented(p, tenant, user, meta).await?.is_some())
    }

    /// A device to remember for `user` after a verification that reached `aal`, if the
    /// tenant's mode and the client's wish (`asked`) say so. Only a second factor earns one
    /// (an email code alone does not reach `aal2`).
    pub(super) fn device_to_remember(
        &self,
        tenant: &Tenant,
        user: &UserId,
        aal: Aal,
        asked: bool,
        meta: &RequestMeta,
    ) -> Option<ToRemember> {
        let settings = tenant.settings.remember_device;
        if !settings.mode.remembers(asked) || aal < Aal::Aal2 {
            return None;
        }
        let now = self.now();
        let token = opaque_token(devices::TOKEN_PREFIX, self.rng.as_ref());
        let name = devices::device_name(meta.user_agent.as_deref());
        let device = RememberedDevice {
            id: DeviceId::generate(now, self.rng.as_ref()),
            tenant_id: tenant.id.clone(),
            user_id: user.clone(),
            token_hash: self.device_hash(user, token.expose()),
            name: name.clone(),
            aal: aal.as_str().to_owned(),
            created_ip: meta.ip.clone(),
            last_ip: meta.ip.clone(),
            created_at: now,
            last_used_at: None,
            expires_at: now + settings.lifetime_ms(),
            revoked_at: None,
        };
        let event = self.audit_event(Audit {
            tenant,
            actor: &Actor::SigningIn {
                user_id: user.clone(),
            },
            meta,
            user: Some(user),
            factor: None,
            action: AuditAction::DeviceRemembered,
            outcome: AuditOutcome::Success,
            detail: Some(format!(
                "{} for {} days: {}",
                device.id,
                settings.days,
                name.as_deref().unwrap_or("unnamed device")
            )),
        });
        Some(ToRemember { device, event, token })
    }

    /// A user's live remembered devices (the user, or an admin).
    pub async fn list_devices(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
    ) -> ServiceResult<Vec<RememberedDevice>> {
        let (user, _) = self.managed_user(tenant, actor, target, false).await?;
        Ok(self.store.list_devices(&tenant.id, &user.id, self.now()).await?)
    }

    /// Forgets one device (`Some`) or all of them (`None`); how many. Forgetting is never
    /// a risk to the account, so it needs no fresh second factor.
    pub async fn forget_devices(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        which: Option<&DeviceId>,
        meta: &RequestMeta,
    ) -> ServiceResult<u64> {
        let (user, _) = self.managed_user(tenant, actor, target, false).await?;
        let now = self.now();
        let n = match which {
            Some(id) => {
                if !self.store.revoke_device(&tenant.id, &user.id, id, now).await? {
                    return Err(ServiceError::DeviceNotFound);
                }
                1
            }
            None => self.store.revoke_devices(&tenant.id, &user.id, now).await?,
        };
        if n > 0 {
            self.audit(Audit {
                tenant,
                actor,
                meta,
                user: Some(&user.id),
                factor: None,
                action: AuditAction::DeviceRevoked,
                outcome: AuditOutcome::Success,
                detail: Some(match which {
                    Some(id) => id.to_string(),
                    None => format!("all ({n})"),
                }),
            })
            .await?;
        }
        Ok(n)
    }
}
