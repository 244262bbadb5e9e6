//! Key material at run time: the master keyring (from configuration or the data
//! directory), the hashing pepper and the signing keys (both sealed in the database),
//! master-key rotation, and signing-key rotation.
//!
//! **Signing keys.** One key at least of each ID-token algorithm (RS256, ES256, EdDSA); the
//! current EdDSA key also signs access tokens. A rotation publishes the new key (JWKS,
//! verification) at once but lets it sign only from its `signs_from`, so relying parties
//! that cache the JWKS know it before they meet a token it signed; the old key stays
//! published until every token it signed has expired, then retires. Each server keeps the
//! keys in memory (the hot paths read no database), picks the signer of an algorithm by the
//! clock at each signature, and re-reads the keys every [`KEY_RELOAD_INTERVAL_MS`] and
//! whenever a token names a key it has not seen.

use crate::config::Config;
use latchkey_core::clock::{Clock, UnixMillis};
use latchkey_core::hash::KeyedHasher;
use latchkey_core::jws;
use latchkey_core::jwt::{self, Claims, JwtError, Signer};
use latchkey_core::oidc::SigningAlg;
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
    #[error("{0}")]
    Signing(String),
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

/// How often a server re-reads its signing keys (by its own clock, looked at every second)
/// to learn of keys another replica or `latchkey keys rotate-signing` stored. A token naming
/// a key not yet seen makes it read them at once; this bound is for the signing side, which
/// learns of a scheduled key only by reading.
pub const KEY_RELOAD_INTERVAL_MS: UnixMillis = 60_000;
/// The longest an ID token may live; the provider issues none longer.
pub const ID_TOKEN_MAX_TTL_SECS: u64 = 86_400;
/// How long a rotated-in key is published before it signs, unless told otherwise. Relying
/// parties cache the JWKS (we send `max-age=300`; common libraries keep it ten minutes
/// whatever we send) and every replica must have read the new key (within
/// [`KEY_RELOAD_INTERVAL_MS`]); an hour covers both with room to spare.
pub const DEFAULT_PUBLISH_AHEAD_SECS: u64 = 3600;
/// Added to a retiring key's publication beyond the longest token lifetime: a replica may
/// learn of its successor up to one reload interval late (and sign with the old key until
/// then), and replicas' clocks differ a little.
pub const RETIRE_MARGIN_MS: UnixMillis = 5 * 60_000;

/// The longest any token a key signed may still be presented: access tokens live up to the
/// top of `ACCESS_TTL_RANGE`, ID tokens up to [`ID_TOKEN_MAX_TTL_SECS`].
pub fn longest_token_lifetime_ms() -> UnixMillis {
    let secs = latchkey_core::settings::ACCESS_TTL_RANGE
        .1
        .max(ID_TOKEN_MAX_TTL_SECS);
    i64::try_from(secs).unwrap_or(i64::MAX / 2) * 1000
}

/// The run-time key material.
pub struct Crypto {
    pub keyring: Keyring,
    pub hasher: KeyedHasher,
    clock: Arc<dyn Clock>,
    /// The signing keys as last read; replaced whole by a reload, so a request sees one
    /// consistent set and the hot paths only clone an `Arc`.
    keys: RwLock<Arc<KeySet>>,
}

/// The signing keys as read from the store at one time.
struct KeySet {
    /// When they were read (the server's clock).
    loaded_at: UnixMillis,
    /// Every key published when read, by kid; `retired_at` is checked again at each use,
    /// so a key stops verifying at its time even before the next read.
    published: HashMap<String, Published>,
    rs256: Candidates<Arc<jws::SigningKey>>,
    es256: Candidates<Arc<jws::SigningKey>>,
    eddsa: Candidates<Arc<jws::SigningKey>>,
    /// The EdDSA keys again, as access-token signers.
    access: Candidates<Arc<Signer>>,
}

struct Published {
    public: jws::PublicKey,
    /// Ed25519's raw key, for the access-token verifier; `None` for other algorithms.
    ed25519: Option<[u8; 32]>,
    retired_at: Option<UnixMillis>,
}

impl Published {
    fn at(&self, now: UnixMillis) -> bool {
        self.retired_at.is_none_or(|r| now < r)
    }
}

/// The keys of one algorithm that may still sign; never empty. The signer at a time is the
/// most recently created whose `signs_from` has passed, so a scheduled key takes over at
/// its time without a read, and a second rotation overrides a first still pending.
struct Candidates<T> {
    /// Keys newer than `oldest`, most recently created first, each with its `signs_from`.
    newer: Vec<(UnixMillis, T)>,
    /// The oldest key that may still sign: the signer until a newer one begins. (Should its
    /// own `signs_from` lie ahead, which only a clock behind the one that created it sees,
    /// it signs anyway: it is published, and there is no other.)
    oldest: T,
}

impl<T> Candidates<T> {
    fn at(&self, now: UnixMillis) -> &T {
        self.newer
            .iter()
            .find(|(from, _)| *from <= now)
            .map_or(&self.oldest, |(_, key)| key)
    }

    /// From one algorithm's records, most recently created first: the keys down to the
    /// first that already signs at `now`. Older ones never sign again (time only moves
    /// forward), so their private halves are not even opened.
    fn build<'r>(
        records: impl Iterator<Item = &'r SigningKeyRecord>,
        now: UnixMillis,
        mut open: impl FnMut(&SigningKeyRecord) -> Result<T, KeyError>,
    ) -> Result<Option<Self>, KeyError> {
        let mut keys = Vec::new();
        for r in records {
            keys.push((r.signs_from, open(r)?));
            if r.signs_from <= now {
                break;
            }
        }
        Ok(keys.pop().map(|(_, oldest)| Candidates { newer: keys, oldest }))
    }
}

impl KeySet {
    fn build(records: &[SigningKeyRecord], keyring: &Keyring, now: UnixMillis) -> Result<Self, KeyError> {
        let mut published = HashMap::new();
        for r in records {
            // A key of an algorithm this version does not know (stored by a newer one) is
            // neither published nor used here.
            let Some(alg) = SigningAlg::parse(&r.algorithm) else {
                tracing::warn!(kid = %r.kid, algorithm = %r.algorithm, "ignoring a signing key of an unknown algorithm");
                continue;
            };
            let public = jws::PublicKey::from_bytes(alg, &r.public_key)
                .map_err(|e| KeyError::Signing(format!("signing key {}: {e}", r.kid)))?;
            let ed25519 = public.ed25519();
            published.insert(
                r.kid.clone(),
                Published {
                    public,
                    ed25519,
                    retired_at: r.retired_at,
                },
            );
        }
        let of = |alg: SigningAlg| records.iter().filter(move |r| r.algorithm == alg.as_str());
        let missing = |alg: SigningAlg| {
            KeyError::Signing(format!(
                "no published {} signing key; create one with `latchkey keys rotate-signing --alg {} --publish-ahead 0`",
                alg.as_str(),
                alg.as_str()
            ))
        };
        let id = |alg: SigningAlg| {
            Candidates::build(of(alg), now, |r| open_signing_key(keyring, r, alg).map(Arc::new))?
                .ok_or_else(|| missing(alg))
        };
        let access = Candidates::build(of(SigningAlg::EdDSA), now, |r| {
            let secret = unseal_private(keyring, r)?;
            Signer::from_secret(&secret)
                .map(Arc::new)
                .ok_or_else(|| KeyError::Signing(format!("signing key {} is not an Ed25519 key", r.kid)))
        })?
        .ok_or_else(|| missing(SigningAlg::EdDSA))?;
        Ok(KeySet {
            loaded_at: now,
            published,
            rs256: id(SigningAlg::RS256)?,
            es256: id(SigningAlg::ES256)?,
            eddsa: id(SigningAlg::EdDSA)?,
            access,
        })
    }

    fn signers(&self, alg: SigningAlg) -> &Candidates<Arc<jws::SigningKey>> {
        match alg {
            SigningAlg::RS256 => &self.rs256,
            SigningAlg::ES256 => &self.es256,
            SigningAlg::EdDSA => &self.eddsa,
        }
    }

    fn public(&self, kid: &str, now: UnixMillis) -> Option<&Published> {
        self.published.get(kid).filter(|p| p.at(now))
    }
}

fn unseal_private(keyring: &Keyring, r: &SigningKeyRecord) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let aad = SealedColumn::SigningKeyPrivate.aad(&r.kid);
    keyring
        .open(&r.private_sealed, &aad)
        .map_err(|source| KeyError::Unseal { what: aad, source })
}

/// Opens a stored private key and checks it is the half of the public key its row names.
fn open_signing_key(
    keyring: &Keyring,
    r: &SigningKeyRecord,
    alg: SigningAlg,
) -> Result<jws::SigningKey, KeyError> {
    let key = jws::SigningKey::from_private(alg, &unseal_private(keyring, r)?)
        .map_err(|e| KeyError::Signing(format!("signing key {}: {e}", r.kid)))?;
    if key.kid() != r.kid {
        return Err(KeyError::Signing(format!(
            "signing key {}: the private key does not match its public key",
            r.kid
        )));
    }
    Ok(key)
}

/// A new key of `alg`. RSA generation takes a noticeable fraction of a second, so it (and
/// P-256's, for symmetry) runs off the async reactor; those draw on OpenSSL's CSPRNG, and
/// only Ed25519 takes its seed from `rng`.
async fn generate(alg: SigningAlg, rng: &dyn SecureRandom) -> Result<jws::SigningKey, KeyError> {
    let generated = match alg {
        SigningAlg::EdDSA => jws::SigningKey::generate(alg, rng),
        SigningAlg::RS256 | SigningAlg::ES256 => tokio::task::spawn_blocking(move || {
            jws::SigningKey::generate(alg, &latchkey_core::rand::OsRandom)
        })
        .await
        .map_err(|e| KeyError::Signing(format!("key generation stopped: {e}")))?,
    };
    generated.map_err(|e| KeyError::Signing(format!("cannot create a {} key: {e}", alg.as_str())))
}

/// The stored form of a key: its private half sealed to its row.
fn record_for(
    keyring: &Keyring,
    key: &jws::SigningKey,
    created_at: UnixMillis,
    signs_from: UnixMillis,
    rng: &dyn SecureRandom,
) -> Result<SigningKeyRecord, KeyError> {
    let signing = |e: jws::JwsError| KeyError::Signing(format!("signing key {}: {e}", key.kid()));
    let aad = SealedColumn::SigningKeyPrivate.aad(key.kid());
    let private_sealed = keyring
        .seal(&key.private_bytes().map_err(signing)?, &aad, rng)
        .map_err(|source| KeyError::Unseal { what: aad, source })?;
    Ok(SigningKeyRecord {
        kid: key.kid().to_owned(),
        algorithm: key.alg().as_str().to_owned(),
        public_key: key.public().and_then(|p| p.to_bytes()).map_err(signing)?,
        private_sealed,
        created_at,
        signs_from,
        retired_at: None,
    })
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

/// What [`Crypto::rotate_signing_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub alg: SigningAlg,
    /// The new key, published from `published_at`, signing from `signs_from`.
    pub kid: String,
    pub published_at: UnixMillis,
    pub signs_from: UnixMillis,
    /// The other keys of the algorithm, now due to stop being published at `retire_at`
    /// (or sooner, if an earlier rotation had said so).
    pub retiring: Vec<String>,
    pub retire_at: UnixMillis,
}

impl Crypto {
    /// Loads (or on first start creates) the pepper and the signing keys: one of each
    /// algorithm at least. Replicas starting together on an empty database agree on one
    /// first key per algorithm (the store keeps exactly one of the keys they offer).
    pub async fn load(
        store: &DynStore,
        keyring: Keyring,
        clock: Arc<dyn Clock>,
        rng: &dyn SecureRandom,
    ) -> Result<Self, KeyError> {
        let now = clock.now_ms();
        let pepper = claim_server_secret(store, &keyring, PEPPER_NAME, now, rng).await?;
        let hasher = KeyedHasher::new(Zeroizing::new(pepper.to_vec()));

        let mut records = store.published_signing_keys(now).await?;
        let missing: Vec<SigningAlg> = SigningAlg::ALL
            .into_iter()
            .filter(|alg| !records.iter().any(|r| r.algorithm == alg.as_str()))
            .collect();
        if !missing.is_empty() {
            // Each replica offers its own key and reads back the one kept. The first key of
            // an algorithm signs at once: no relying party can have cached an older one.
            for alg in missing {
                let key = generate(alg, rng).await?;
                let record = record_for(&keyring, &key, now, now, rng)?;
                store.ensure_first_signing_key(&record, now).await?;
            }
            records = store.published_signing_keys(now).await?;
        }
        let set = KeySet::build(&records, &keyring, now)?;
        Ok(Self {
            keyring,
            hasher,
            clock,
            keys: RwLock::new(Arc::new(set)),
        })
    }

    fn key_set(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the signing keys. On failure the keys in hand stay in use.
    pub async fn reload(&self, store: &DynStore) -> Result<(), KeyError> {
        let now = self.clock.now_ms();
        let records = store.published_signing_keys(now).await?;
        let set = Arc::new(KeySet::build(&records, &self.keyring, now)?);
        match self.keys.write() {
            Ok(mut g) => *g = set,
            Err(p) => *p.into_inner() = set,
        }
        Ok(())
    }

    /// Re-reads the signing keys whenever [`KEY_RELOAD_INTERVAL_MS`] has passed on the
    /// server's clock since the last read, until `stop` turns true. Started by
    /// `http::serve`.
    pub async fn keep_fresh(&self, store: &DynStore, mut stop: tokio::sync::watch::Receiver<bool>) {
        // After a failed read (the database away), the next try comes this much later, so
        // an outage is not one warning a second.
        const RETRY_MS: UnixMillis = 10_000;
        let mut not_before = UnixMillis::MIN;
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
            let now = self.clock.now_ms();
            if now < not_before || now - self.key_set().loaded_at < KEY_RELOAD_INTERVAL_MS {
                continue;
            }
            if let Err(e) = self.reload(store).await {
                tracing::warn!(error = %e, "cannot re-read the signing keys; keeping those in hand");
                not_before = now + RETRY_MS;
            }
        }
    }

    /// The access-token signer: the current EdDSA key.
    pub fn signer(&self) -> Arc<Signer> {
        self.key_set().access.at(self.clock.now_ms()).clone()
    }

    /// The key id that signs ID tokens of `alg` now.
    pub fn signing_kid(&self, alg: SigningAlg) -> String {
        self.key_set()
            .signers(alg)
            .at(self.clock.now_ms())
            .kid()
            .to_owned()
    }

    /// Signs ID-token claims (a JSON object) with the current key of `alg`: the most recently
    /// created whose `signs_from` has passed. The header is `{alg, typ: "JWT", kid}`.
    pub fn sign_id_token(
        &self,
        alg: SigningAlg,
        claims: &serde_json::Value,
    ) -> Result<String, jws::JwsError> {
        let set = self.key_set();
        set.signers(alg).at(self.clock.now_ms()).sign("JWT", claims)
    }

    /// Signs a management API token (the Auth0-style `/api/v2` audience) with the current
    /// RS256 key, as Auth0 signs its own: header `{alg: RS256, typ: at+jwt, kid}`.
    pub fn sign_management_token(&self, claims: &serde_json::Value) -> Result<String, jws::JwsError> {
        let set = self.key_set();
        set.signers(SigningAlg::RS256)
            .at(self.clock.now_ms())
            .sign(latchkey_core::jwt::ACCESS_TOKEN_TYP, claims)
    }

    /// Verifies a management API token's signature: typ `at+jwt`, RS256, a published key.
    /// The claims (issuer, audience, expiry) are the caller's to check. A key id we have
    /// not seen triggers one reload, as for access tokens.
    pub async fn verify_management_token(
        &self,
        store: &DynStore,
        token: &str,
    ) -> Result<serde_json::Value, JwtError> {
        let now = self.clock.now_ms();
        let verify = |set: &KeySet| {
            jws::verify(
                token,
                latchkey_core::jwt::ACCESS_TOKEN_TYP,
                &[SigningAlg::RS256],
                |kid| set.public(kid, now).map(|p| p.public.clone()),
            )
        };
        match verify(&self.key_set()) {
            Err(JwtError::UnknownKey) => {
                self.reload_for_unknown_kid(store).await;
                verify(&self.key_set())
            }
            other => other,
        }
    }

    /// The JWKS document: every published key of every algorithm, scheduled ones included
    /// (a relying party must know a key before it sees a token signed with it).
    pub fn jwks(&self) -> serde_json::Value {
        let set = self.key_set();
        let now = self.clock.now_ms();
        let mut list: Vec<_> = set
            .published
            .iter()
            .filter(|(_, p)| p.at(now))
            .map(|(kid, p)| p.public.jwk(kid))
            .collect();
        list.sort_by(|a, b| a["kid"].as_str().cmp(&b["kid"].as_str()));
        serde_json::json!({ "keys": list })
    }

    /// Verifies an access token against the published EdDSA keys; a key id we have not
    /// seen (another replica's new key) triggers one reload of the keys.
    pub async fn verify_access(
        &self,
        store: &DynStore,
        token: &str,
        issuer_ok: &(dyn Fn(&Claims) -> bool + Sync),
        now: UnixMillis,
    ) -> Result<Claims, JwtError> {
        let verify = |set: &KeySet| {
            jwt::verify(
                token,
                |kid| set.public(kid, now).and_then(|p| p.ed25519),
                issuer_ok,
                now,
            )
        };
        match verify(&self.key_set()) {
            Err(JwtError::UnknownKey) => {
                self.reload_for_unknown_kid(store).await;
                verify(&self.key_set())
            }
            other => other,
        }
    }

    /// Verifies an ID token this server issued (an `id_token_hint`): typ `JWT`, signed by a
    /// published key of the algorithm its header names, and `iss == issuer`. Expiry is NOT
    /// checked (a logout hint may have expired), nor audience: the caller's. A key id we
    /// have not seen triggers one reload, as for access tokens.
    pub async fn verify_id_token(
        &self,
        store: &DynStore,
        token: &str,
        issuer: &str,
    ) -> Result<serde_json::Value, JwtError> {
        let now = self.clock.now_ms();
        let verify = |set: &KeySet| {
            jws::verify(token, "JWT", &SigningAlg::ALL, |kid| {
                set.public(kid, now).map(|p| p.public.clone())
            })
        };
        let claims = match verify(&self.key_set()) {
            Err(JwtError::UnknownKey) => {
                self.reload_for_unknown_kid(store).await;
                verify(&self.key_set())
            }
            other => other,
        }?;
        if claims.get("iss").and_then(serde_json::Value::as_str) != Some(issuer) {
            return Err(JwtError::WrongIssuer);
        }
        Ok(claims)
    }

    async fn reload_for_unknown_kid(&self, store: &DynStore) {
        if let Err(e) = self.reload(store).await {
            tracing::warn!(error = %e, "cannot re-read the signing keys for an unknown key id");
        }
    }

    /// Rotates the signing key of `alg`: stores a new key, published at once and signing
    /// from `publish_ahead_secs` later, and schedules every other key of `alg` to stop being
    /// published once every token it can have signed has expired: the new key's
    /// `signs_from` (its last signature, give or take a reload interval) plus
    /// [`longest_token_lifetime_ms`] plus [`RETIRE_MARGIN_MS`]. Then re-reads the keys.
    pub async fn rotate_signing_key(
        &self,
        store: &DynStore,
        alg: SigningAlg,
        publish_ahead_secs: u64,
        rng: &dyn SecureRandom,
    ) -> Result<Rotation, KeyError> {
        let now = self.clock.now_ms();
        let ahead = i64::try_from(publish_ahead_secs)
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .ok_or_else(|| KeyError::Signing("publish-ahead is too long".into()))?;
        // "Most recently created" decides which key signs, so it must never be a tie: the
        // new key is created after every other key of its algorithm, if only by a
        // millisecond (two keys created in the same millisecond by the clock would otherwise
        // be ordered by kid, i.e. by chance).
        let created_at = store
            .published_signing_keys(now)
            .await?
            .iter()
            .filter(|r| r.algorithm == alg.as_str())
            .map(|r| r.created_at + 1)
            .fold(now, i64::max);
        let key = generate(alg, rng).await?;
        let signs_from = now + ahead;
        let record = record_for(&self.keyring, &key, created_at, signs_from, rng)?;
        let retire_at = signs_from + longest_token_lifetime_ms() + RETIRE_MARGIN_MS;
        let retiring = store.schedule_signing_rotation(&record, retire_at).await?;
        self.reload(store).await?;
        Ok(Rotation {
            alg,
            kid: record.kid,
            published_at: now,
            signs_from,
            retiring,
            retire_at,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use latchkey_core::clock::ManualClock;
    use latchkey_core::rand::OsRandom;

    const T0: UnixMillis = 1_800_000_000_000;

    /// An empty, migrated database: SQLite, or PostgreSQL (a schema of its own) when
    /// `LATCHKEY_TEST_DATABASE_URL` is set.
    async fn empty_store(postgres: bool, dir: &std::path::Path) -> Option<DynStore> {
        let opts = if postgres {
            let url = std::env::var("LATCHKEY_TEST_DATABASE_URL")
                .ok()
                .filter(|u| !u.is_empty())?;
            let mut opts = latchkey_store::OpenOptions::new(url);
            opts.pg_schema = Some(format!(
                "lk_test_{}",
                latchkey_core::ids::ulid(T0, &OsRandom).to_lowercase()
            ));
            opts
        } else {
            latchkey_store::OpenOptions::new(format!("sqlite://{}", dir.join("k.db").display()))
        };
        let store = latchkey_store::open(&opts).await.unwrap();
        store.migrate().await.unwrap();
        Some(store)
    }

    /// Replicas starting together on an empty database end up with one signing key per
    /// algorithm, and all sign with it.
    async fn simultaneous_starts_agree(postgres: bool) {
        let dir = tempfile::tempdir().unwrap();
        let Some(store) = empty_store(postgres, dir.path()).await else {
            eprintln!("LATCHKEY_TEST_DATABASE_URL unset: PostgreSQL case skipped");
            return;
        };
        let master = MasterKey::from_bytes([9; 32]);
        let start = Arc::new(tokio::sync::Barrier::new(8));
        let loads: Vec<_> = (0..8)
            .map(|_| {
                let (store, ring, start) =
                    (store.clone(), Keyring::new(master.clone(), vec![]), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    Crypto::load(&store, ring, Arc::new(ManualClock::new(T0)), &OsRandom)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut seen: Vec<Vec<String>> = Vec::new();
        for load in loads {
            let crypto = load.await.unwrap();
            let mut kids: Vec<String> = SigningAlg::ALL.iter().map(|a| crypto.signing_kid(*a)).collect();
            kids.push(crypto.signer().kid().to_owned());
            seen.push(kids);
        }
        seen.dedup();
        assert_eq!(seen.len(), 1, "replicas sign with different keys: {seen:?}");
        assert_eq!(
            seen[0][2], seen[0][3],
            "access tokens are signed by the EdDSA key"
        );
        let stored = store.published_signing_keys(T0).await.unwrap();
        assert_eq!(stored.len(), 3, "{stored:?}");
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn simultaneous_starts_agree_on_one_key_per_algorithm_sqlite() {
        simultaneous_starts_agree(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn simultaneous_starts_agree_on_one_key_per_algorithm_postgres() {
        simultaneous_starts_agree(true).await;
    }

    /// The signer of an algorithm is chosen by the clock from the keys in hand: a scheduled
    /// key takes over at its `signs_from` without a read, a later rotation overrides an
    /// earlier one still pending, and a key that already signs hides the older ones.
    #[test]
    fn candidates_follow_the_clock() {
        let rec = |kid: &str, created_at, signs_from| SigningKeyRecord {
            kid: kid.into(),
            algorithm: "RS256".into(),
            public_key: vec![],
            private_sealed: String::new(),
            created_at,
            signs_from,
            retired_at: None,
        };
        // Most recently created first: c (scheduled at 50), b (scheduled at 100), a (signing).
        let records = [
            rec("c", 30, 50),
            rec("b", 20, 100),
            rec("a", 0, 0),
            rec("z", -10, -10),
        ];
        let mut opened = Vec::new();
        let c = Candidates::build(records.iter(), 25, |r| {
            opened.push(r.kid.clone());
            Ok(r.kid.clone())
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            opened,
            ["c", "b", "a"],
            "a key older than the signer is not opened"
        );
        assert_eq!(c.at(25), "a");
        assert_eq!(c.at(50), "c", "the later rotation wins over the pending one");
        assert_eq!(c.at(100), "c");
        // Only keys still ahead: the oldest signs.
        let c = Candidates::build([rec("b", 20, 100)].iter(), 25, |r| Ok(r.kid.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(c.at(25), "b");
        assert!(Candidates::<String>::build([].iter(), 0, |r| Ok(r.kid.clone()))
            .unwrap()
            .is_none());
    }
}
