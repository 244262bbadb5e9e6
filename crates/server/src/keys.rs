//! Key material at run time: the master keyring (from configuration or the data
//! directory), the hashing pepper and the JWT signing keys (both sealed in the database),
//! and master-key rotation.

use crate::config::Config;
use latchkey_core::clock::UnixMillis;
use latchkey_core::hash::KeyedHasher;
use latchkey_core::jwt::{self, Claims, JwtError, Signer};
use latchkey_core::rand::{self, SecureRandom};
use latchkey_core::seal::{Keyring, MasterKey, SealError};
use latchkey_store::model::{SealedColumn, SigningKeyRecord};
use latchkey_store::{DynStore, StoreError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("master key: {0}")]
    Master(String),
    #[error("cannot open or seal {what}: {source} (is the right master key configured?)")]
    Unseal { what: String, source: SealError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub const MASTER_KEY_FILE: &str = "master.key";

/// Where the master keyring came from, which decides how rotation works.
#[derive(Debug, Clone)]
pub enum KeySource {
    Configured,
    File(PathBuf),
}

/// Loads the keyring: from configuration if set, else from `DATA_DIR/master.key`,
/// generating that file on first start (and saying so loudly).
pub fn load_keyring(cfg: &Config, rng: &dyn SecureRandom) -> Result<(Keyring, KeySource), KeyError> {
    let parse = |s: &str| MasterKey::parse(s).map_err(|e| KeyError::Master(e.to_string()));
    if let Some(current) = &cfg.master_key {
        let previous = cfg
            .previous_master_keys
            .iter()
            .map(|k| parse(k.expose()))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((
            Keyring::new(parse(current.expose())?, previous),
            KeySource::Configured,
        ));
    }
    let path = cfg.data_dir.join(MASTER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            let mut keys = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(parse);
            let current = keys
                .next()
                .ok_or_else(|| KeyError::Master(format!("{} holds no key", path.display())))??;
            let previous = keys.collect::<Result<Vec<_>, _>>()?;
            Ok((Keyring::new(current, previous), KeySource::File(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate(rng);
            write_key_file(&path, &[&key])?;
            tracing::warn!(
                path = %path.display(),
                "GENERATED A NEW MASTER KEY. It encrypts every secret in the database: back it up, \
                 keep it apart from database backups, and for several replicas set \
                 LATCHKEY_MASTER_KEY to the same value on each"
            );
            Ok((Keyring::new(key, vec![]), KeySource::File(path)))
        }
        Err(e) => Err(KeyError::Master(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Creates Latchkey's data directory if need be and makes it accessible to its owner only
/// (mode 0700): it holds the master key and the SQLite database (review item 9).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Writes keys (current first) to a file readable only by its owner, atomically.
pub fn write_key_file(path: &Path, keys: &[&MasterKey]) -> Result<(), KeyError> {
    let io = |e: std::io::Error| KeyError::Master(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_dir(dir).map_err(io)?;
    }
    let mut body = Zeroizing::new(String::from(
        "# Latchkey master keys: the first seals, the others only open. Keep secret.\n",
    ));
    for k in keys {
        body.push_str(&k.to_text());
        body.push('\n');
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(body.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// Re-seals every sealed value that is not under the current key. Returns how many.
pub async fn reseal_all(
    store: &DynStore,
    keyring: &Keyring,
    rng: &dyn SecureRandom,
) -> Result<usize, KeyError> {
    let mut count = 0;
    for column in SealedColumn::ALL {
        for (row, sealed) in store.list_sealed(column).await? {
            if !keyring.is_stale(&sealed) {
                continue;
            }
            let aad = column.aad(&row);
            let plain = keyring.open(&sealed, &aad).map_err(|source| KeyError::Unseal {
                what: aad.clone(),
                source,
            })?;
            let fresh = keyring
                .seal(&plain, &aad, rng)
                .map_err(|source| KeyError::Unseal {
                    what: aad.clone(),
                    source,
                })?;
            if store.replace_sealed(column, &row, &sealed, &fresh).await? {
                count += 1;
            }
        }
    }
    Ok(count)
}

const PEPPER_NAME: &str = "hash_pepper";
/// The server secret through which replicas starting together agree on the first signing key.
const FIRST_SIGNING_KEY_NAME: &str = "first_signing_key";

/// The run-time key material.
pub struct Crypto {
    pub keyring: Keyring,
    pub hasher: KeyedHasher,
    signer: RwLock<Arc<Signer>>,
    public_keys: RwLock<HashMap<String, [u8; 32]>>,
}

/// A 32-byte server-wide secret: the one already stored under `name`, or a fresh one this
/// call stores, whichever `ensure_server_secret` keeps (replicas racing agree on one).
async fn claim_server_secret(
    store: &DynStore,
    keyring: &Keyring,
    name: &str,
    now: UnixMillis,
    rng: &dyn SecureRandom,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let aad = SealedColumn::ServerSecret.aad(name);
    let unseal = |source| KeyError::Unseal {
        what: aad.clone(),
        source,
    };
    let fresh: Zeroizing<[u8; 32]> = Zeroizing::new(rand::bytes(rng));
    let candidate = keyring.seal(&*fresh, &aad, rng).map_err(unseal)?;
    let stored = store.ensure_server_secret(name, &candidate, now).await?;
    keyring.open(&stored, &aad).map_err(unseal)
}

impl Crypto {
    /// Loads (or on first start creates) the pepper and a signing key.
    pub async fn load(
        store: &DynStore,
        keyring: Keyring,
        now: UnixMillis,
        rng: &dyn SecureRandom,
    ) -> Result<Self, KeyError> {
        let pepper = claim_server_secret(store, &keyring, PEPPER_NAME, now, rng).await?;
        let hasher = KeyedHasher::new(Zeroizing::new(pepper.to_vec()));

        let mut records = store.active_signing_keys().await?;
        if records.is_empty() {
            // Replicas starting together on an empty database must not each create a key
            // (each would publish only its own in its JWKS): the secret is claimed through
            // `ensure_server_secret`, which one of them wins, and all store that one.
            let secret = claim_server_secret(store, &keyring, FIRST_SIGNING_KEY_NAME, now, rng).await?;
            // A 32-byte secret is always a valid Ed25519 key.
            let signer = Signer::from_secret(&secret)
                .ok_or_else(|| KeyError::Master("could not create a signing key".into()))?;
            let kid = signer.kid().to_owned();
            let record = SigningKeyRecord {
                private_sealed: keyring
                    .seal(&secret, &SealedColumn::SigningKeyPrivate.aad(&kid), rng)
                    .map_err(|source| KeyError::Unseal {
                        what: kid.clone(),
                        source,
                    })?,
                kid,
                algorithm: "EdDSA".into(),
                public_key: signer.public_bytes().to_vec(),
                created_at: now,
            };
            match store.insert_signing_key(&record).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
            records = store.active_signing_keys().await?;
        }
        let newest = records
            .first()
            .ok_or_else(|| KeyError::Master("no signing key after creating one".into()))?;
        let aad = SealedColumn::SigningKeyPrivate.aad(&newest.kid);
        let secret = keyring
            .open(&newest.private_sealed, &aad)
            .map_err(|source| KeyError::Unseal {
                what: aad.clone(),
                source,
            })?;
        let signer = Signer::from_secret(&secret)
            .ok_or_else(|| KeyError::Master("stored signing key is not 32 bytes".into()))?;
        Ok(Self {
            keyring,
            hasher,
            signer: RwLock::new(Arc::new(signer)),
            public_keys: RwLock::new(public_map(&records)),
        })
    }

    pub fn signer(&self) -> Arc<Signer> {
        match self.signer.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        let keys = self.read_public();
        let mut list: Vec<_> = keys.iter().map(|(kid, pk)| jwt::jwk(kid, pk)).collect();
        list.sort_by(|a, b| a["kid"].as_str().cmp(&b["kid"].as_str()));
        serde_json::json!({ "keys": list })
    }

    fn read_public(&self) -> HashMap<String, [u8; 32]> {
        match self.public_keys.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Verifies an access token; a key id we have not seen (another replica's new key)
    /// triggers one reload of the public keys.
    pub async fn verify_access(
        &self,
        store: &DynStore,
        token: &str,
        issuer: &str,
        now: UnixMillis,
    ) -> Result<Claims, JwtError> {
        let lookup = |kid: &str| match self.public_keys.read() {
            Ok(g) => g.get(kid).copied(),
            Err(p) => p.into_inner().get(kid).copied(),
        };
        match jwt::verify(token, lookup, issuer, now) {
            Err(JwtError::UnknownKey) => {
                if let Ok(records) = store.active_signing_keys().await {
                    let map = public_map(&records);
                    match self.public_keys.write() {
                        Ok(mut g) => *g = map,
                        Err(p) => *p.into_inner() = map,
                    }
                }
                jwt::verify(token, lookup, issuer, now)
            }
            other => other,
        }
    }
}

fn public_map(records: &[SigningKeyRecord]) -> HashMap<String, [u8; 32]> {
    records
        .iter()
        .filter_map(|r| Some((r.kid.clone(), <[u8; 32]>::try_from(r.public_key.as_slice()).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use latchkey_core::rand::OsRandom;

    /// Replicas starting together on an empty database end up with one signing key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn simultaneous_starts_agree_on_one_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.db").display());
        let store = latchkey_store::open(&latchkey_store::OpenOptions::new(url))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let master = MasterKey::from_bytes([9; 32]);
        let loads: Vec<_> = (0..8)
            .map(|_| {
                let (store, ring) = (store.clone(), Keyring::new(master.clone(), vec![]));
                tokio::spawn(async move {
                    Crypto::load(&store, ring, 1_800_000_000_000, &OsRandom)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut kids = Vec::new();
        for load in loads {
            kids.push(load.await.unwrap().signer().kid().to_owned());
        }
        kids.dedup();
        assert_eq!(kids.len(), 1, "replicas sign with different keys: {kids:?}");
        assert_eq!(store.active_signing_keys().await.unwrap().len(), 1);
    }
}
