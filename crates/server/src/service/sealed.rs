//! Phone numbers and code destinations at rest: sealed (XChaCha20-Poly1305 under the master
//! key, bound to their table, column and row) with a keyed hash beside them for look-ups and
//! send limits, so a copy of the database alone reveals no number (review item 9). Opened
//! only to send a code, to show a user their own number, or to mask it.
//!
//! Rows written before sealing existed are sealed once at start-up ([`App::seal_legacy_rows`]).

use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::factor::Channel;
use latchkey_core::hash::{HashPurpose, KeyedHasher};
use latchkey_core::phone::mask_e164;
use latchkey_core::rand::SecureRandom;
use latchkey_core::seal::Keyring;
use latchkey_store::model::{Factor, SealedColumn, User};
use zeroize::Zeroizing;

/// The `meta` key recording that every legacy plaintext row has been sealed.
const LEGACY_SEALED: &str = "destinations_sealed_v1";

/// Seals `value` for `column` of row `row`.
pub(crate) fn seal_text(
    keyring: &Keyring,
    rng: &dyn SecureRandom,
    column: SealedColumn,
    row: &str,
    value: &str,
) -> ServiceResult<String> {
    keyring
        .seal(value.as_bytes(), &column.aad(row), rng)
        .map_err(|e| ServiceError::Internal(format!("cannot seal {column:?}: {e}")))
}

/// Opens a value sealed by [`seal_text`].
pub(crate) fn open_text(
    keyring: &Keyring,
    column: SealedColumn,
    row: &str,
    sealed: &str,
) -> ServiceResult<Zeroizing<String>> {
    let bytes = keyring
        .open(sealed, &column.aad(row))
        .map_err(|e| ServiceError::Internal(format!("cannot open {column:?} of {row}: {e}")))?;
    String::from_utf8(bytes.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| ServiceError::Internal(format!("{column:?} of {row} is not text")))
}

/// The keyed hash a destination (E.164 number or email address) is looked up and
/// rate-limited by.
pub(crate) fn destination_hash(hasher: &KeyedHasher, value: &str) -> String {
    hasher.hash(HashPurpose::Destination, "", value.as_bytes())
}

/// A factor's destination, opened.
pub(crate) fn factor_destination(keyring: &Keyring, factor: &Factor) -> ServiceResult<Zeroizing<String>> {
    let sealed = factor
        .destination_sealed
        .as_deref()
        .ok_or_else(|| ServiceError::Internal("factor without a destination".into()))?;
    open_text(
        keyring,
        SealedColumn::FactorDestination,
        factor.id.as_str(),
        sealed,
    )
}

impl App {
    pub(super) fn seal_text(&self, column: SealedColumn, row: &str, value: &str) -> ServiceResult<String> {
        seal_text(&self.crypto.keyring, self.rng.as_ref(), column, row, value)
    }

    pub(crate) fn open_text(
        &self,
        column: SealedColumn,
        row: &str,
        sealed: &str,
    ) -> ServiceResult<Zeroizing<String>> {
        open_text(&self.crypto.keyring, column, row, sealed)
    }

    pub(super) fn destination_hash(&self, value: &str) -> String {
        destination_hash(&self.crypto.hasher, value)
    }

    /// A user's phone number (E.164), opened; `None` without one. A value that cannot be
    /// opened is logged and treated as absent rather than failing the request that shows it.
    pub fn user_phone(&self, user: &User) -> Option<String> {
        let sealed = user.phone_sealed.as_deref()?;
        match self.open_text(SealedColumn::UserPhone, user.id.as_str(), sealed) {
            Ok(v) => Some(v.to_string()),
            Err(e) => {
                tracing::error!(user_id = %user.id, error = %e, "cannot open a phone number");
                None
            }
        }
    }

    /// Where a factor's codes go, opened.
    pub(super) fn factor_destination(&self, factor: &Factor) -> ServiceResult<Zeroizing<String>> {
        factor_destination(&self.crypto.keyring, factor)
    }

    /// A factor's destination, masked for display (`+1***2671`, `a***@example.com`).
    pub fn masked_destination(&self, factor: &Factor) -> Option<String> {
        let channel = factor.kind.channel()?;
        let value = self.factor_destination(factor).ok()?;
        Some(match channel {
            Channel::Sms => mask_e164(&value),
            Channel::Email => latchkey_core::email::Email::from_trusted(value.to_string()).masked(),
        })
    }

    /// Seals the phone numbers and destinations stored before they were sealed, once: every
    /// value of the three columns that is not sealed yet (compare-and-swap, so replicas
    /// starting together do no harm), and the keyed hash of each user's number.
    pub async fn seal_legacy_rows(&self) -> ServiceResult<u64> {
        if self.store.get_meta(LEGACY_SEALED).await?.is_some() {
            return Ok(0);
        }
        let mut sealed = 0;
        for column in [
            SealedColumn::UserPhone,
            SealedColumn::FactorDestination,
            SealedColumn::OutboxDestination,
        ] {
            for (row, value) in self.store.list_sealed(column).await? {
                if latchkey_core::seal::looks_sealed(&value) {
                    continue;
                }
                let new = self.seal_text(column, &row, &value)?;
                if self.store.replace_sealed(column, &row, &value, &new).await? {
                    sealed += 1;
                }
                if column == SealedColumn::UserPhone {
                    let user = latchkey_core::ids::UserId::from_trusted(row.clone());
                    self.store
                        .set_phone_hash(&user, &self.destination_hash(&value))
                        .await?;
                }
            }
        }
        self.store.put_meta(LEGACY_SEALED, "1").await?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed phone numbers and destinations stored in clear");
        }
        Ok(sealed)
    }
}
