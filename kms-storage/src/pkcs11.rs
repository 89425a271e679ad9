//! A [`KeyEncryptionKey`] inside a PKCS#11 token (an HSM, a smart card, SoftHSM2):
//! the node's DEK is sealed with AES-256-GCM (`CKM_AES_GCM`) by the token, under an
//! AES-256 key object that is sensitive and non-extractable, so the root of the key
//! hierarchy never exists in the host's memory or files.
//!
//! The key object is found by its label ([`Pkcs11Config::key_label`]) in the token
//! whose label is [`Pkcs11Config::token_label`], after a user login with the PIN. A
//! node's first start (its `init`) may make the key inside the token
//! ([`KeyPolicy::CreateIfMissing`]); a normal start requires it
//! ([`KeyPolicy::RequireExisting`]), so a wrong token is refused rather than given a
//! new, empty root.
//!
//! `{node_id}.dek` layout with this KEK (70 bytes):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 8 | magic `MPCKMP11` |
//! | 8 | 2 | format version (1) |
//! | 10 | 12 | AES-GCM nonce (random, from the host's OS) |
//! | 22 | 48 | DEK sealed by the token, and its tag |
//!
//! The header and the node id are the associated data, so the file copied to another
//! node's name, or a changed header, fails to unwrap.
//!
//! Every operation opens a session, logs in, works and logs out, under one
//! process-wide lock: a wrong PIN is always seen (no login left over from another
//! session), and the token is only touched at start (the DEK is unwrapped once).

use crate::crypto::{Encoder, SecretKey, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::keyring::KeyEncryptionKey;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use kms_core::StorageError;
use rand_core::{OsRng, RngCore};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"MPCKMP11";
const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 8 + 2;
/// Length of a `.dek` file written by [`Pkcs11Kek`].
pub const PKCS11_DEK_FILE_LEN: usize = HEADER_LEN + NONCE_LEN + KEY_LEN + TAG_LEN;

/// Whether [`Pkcs11Kek`] may make its key object in the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Generate the AES-256 key inside the token when no object has the label (a
    /// node's initialisation).
    CreateIfMissing,
    /// Refuse ([`Pkcs11Error::KeyNotFound`]) when no object has the label (a normal
    /// start: the root must already be there).
    RequireExisting,
}

/// Where the KEK lives. The PIN is zeroized on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The label of the token that holds the key.
    pub token_label: String,
    /// The user PIN of that token.
    pub pin: Zeroizing<String>,
    /// The label of the AES-256 key object.
    pub key_label: String,
    /// Whether a missing key object may be made.
    pub key_policy: KeyPolicy,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("pin", &"<redacted>")
            .field("key_label", &self.key_label)
            .field("key_policy", &self.key_policy)
            .finish()
    }
}

/// Why the token refused. None of these carries the PIN or key material.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The module could not be loaded or initialised.
    #[error("PKCS#11 module {module}: {reason}")]
    Module {
        /// The module's path.
        module: PathBuf,
        /// What failed.
        reason: String,
    },
    /// No slot holds an initialised token with that label (unplugged, wrong label,
    /// wrong module or configuration).
    #[error("PKCS#11 token '{0}' not found")]
    TokenNotFound(String),
    /// The PIN was rejected.
    #[error("wrong PIN for PKCS#11 token '{0}'")]
    WrongPin(String),
    /// The token has locked its user PIN (too many wrong attempts).
    #[error("PKCS#11 token '{0}': user PIN locked")]
    PinLocked(String),
    /// No key object has the label and the policy forbids making one.
    #[error("PKCS#11 token '{token}': no AES key labelled '{label}'")]
    KeyNotFound {
        /// The token.
        token: String,
        /// The key label.
        label: String,
    },
    /// The object with the label cannot serve as the KEK (not AES-256, extractable
    /// or not sensitive, several objects share the label).
    #[error("PKCS#11 token '{token}': key '{label}' refused: {reason}")]
    KeyNotUsable {
        /// The token.
        token: String,
        /// The key label.
        label: String,
        /// Why.
        reason: String,
    },
    /// Another failure of the token.
    #[error("PKCS#11 token '{token}': {reason}")]
    Device {
        /// The token.
        token: String,
        /// The module's error.
        reason: String,
    },
}

impl Pkcs11Error {
    /// The storage error of node `node_id` for this refusal: a wrong PIN is
    /// [`StorageError::WrongPassword`], a missing token or key
    /// [`StorageError::NotFound`], anything else [`StorageError::Backend`].
    pub fn for_node(self, node_id: &str) -> StorageError {
        match &self {
            Pkcs11Error::WrongPin(token) => {
                StorageError::WrongPassword(format!("{node_id} (PIN rejected by PKCS#11 token '{token}')"))
            }
            _ => self.into(),
        }
    }
}

impl From<Pkcs11Error> for StorageError {
    fn from(e: Pkcs11Error) -> Self {
        match &e {
            Pkcs11Error::WrongPin(_) => StorageError::WrongPassword(e.to_string()),
            Pkcs11Error::TokenNotFound(_) | Pkcs11Error::KeyNotFound { .. } => {
                StorageError::NotFound(e.to_string())
            }
            _ => StorageError::Backend(e.to_string()),
        }
    }
}

/// The modules loaded by this process: `C_Initialize` runs once per module (a second
/// call fails), and the contexts stay for the life of the process.
fn context(module: &Path) -> Result<Pkcs11, Pkcs11Error> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(ctx) = map.get(module) {
        return Ok(ctx.clone());
    }
    let fail = |reason: String| Pkcs11Error::Module {
        module: module.to_path_buf(),
        reason,
    };
    if !module.exists() {
        return Err(fail("no such file".into()));
    }
    let ctx = Pkcs11::new(module).map_err(|e| fail(e.to_string()))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    map.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// One lock for every token operation of the process: PKCS#11 login state is shared
/// by all sessions of an application on a token, so operations are serialised to keep
/// each one's login (and its PIN check) its own.
fn token_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The KEK inside a PKCS#11 token. Cheap to build (no I/O): the token is reached by
/// [`Pkcs11Kek::check`] and by each wrap/unwrap.
#[derive(Debug)]
pub struct Pkcs11Kek {
    config: Pkcs11Config,
}

/// A logged-in session, logged out when dropped.
struct LoggedIn(Session);

impl Drop for LoggedIn {
    fn drop(&mut self) {
        let _ = self.0.logout();
    }
}

impl Pkcs11Kek {
    /// A KEK for `config`; nothing is contacted yet.
    pub fn new(config: Pkcs11Config) -> Self {
        Self { config }
    }

    /// [`Pkcs11Kek::new`] and [`Pkcs11Kek::check`]: what a node runs at start, so a
    /// missing token, a wrong PIN or a missing key is reported before anything else.
    pub fn connect(config: Pkcs11Config) -> Result<Self, Pkcs11Error> {
        let kek = Self::new(config);
        kek.check()?;
        Ok(kek)
    }

    /// Reach the token, log in and find (or, under [`KeyPolicy::CreateIfMissing`],
    /// make) the key object; change nothing else.
    pub fn check(&self) -> Result<(), Pkcs11Error> {
        let _guard = token_lock();
        let session = self.login()?;
        self.key(&session.0).map(|_| ())
    }

    /// The configuration (its `Debug` redacts the PIN).
    pub fn config(&self) -> &Pkcs11Config {
        &self.config
    }

    fn device(&self, e: CkError) -> Pkcs11Error {
        Pkcs11Error::Device {
            token: self.config.token_label.clone(),
            reason: e.to_string(),
        }
    }

    fn login(&self) -> Result<LoggedIn, Pkcs11Error> {
        let ctx = context(&self.config.module)?;
        let token = &self.config.token_label;
        let slots = ctx
            .get_slots_with_initialized_token()
            .map_err(|e| self.device(e))?;
        let mut found = None;
        for slot in slots {
            let info = ctx.get_token_info(slot).map_err(|e| self.device(e))?;
            // Labels are blank-padded to 32 bytes by the token.
            if info.label().trim_end() == token.as_str() {
                if found.is_some() {
                    return Err(Pkcs11Error::Device {
                        token: token.clone(),
                        reason: "several tokens have this label".into(),
                    });
                }
                found = Some(slot);
            }
        }
        let slot = found.ok_or_else(|| Pkcs11Error::TokenNotFound(token.clone()))?;
        let session = ctx.open_rw_session(slot).map_err(|e| self.device(e))?;
        let pin = AuthPin::new(self.config.pin.as_str().into());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) => Ok(LoggedIn(session)),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _))
            | Err(CkError::Pkcs11(RvError::PinLenRange, _)) => Err(Pkcs11Error::WrongPin(token.clone())),
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked(token.clone())),
            Err(CkError::Pkcs11(RvError::TokenNotPresent, _)) => {
                Err(Pkcs11Error::TokenNotFound(token.clone()))
            }
            Err(e) => Err(self.device(e)),
        }
    }

    /// The key object, checked to be a sensitive, non-extractable AES-256 secret key.
    fn key(&self, session: &Session) -> Result<ObjectHandle, Pkcs11Error> {
        let label = &self.config.key_label;
        let refuse = |reason: &str| Pkcs11Error::KeyNotUsable {
            token: self.config.token_label.clone(),
            label: label.clone(),
            reason: reason.into(),
        };
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let found = session.find_objects(&template).map_err(|e| self.device(e))?;
        let handle = match found.as_slice() {
            [] => match self.config.key_policy {
                KeyPolicy::RequireExisting => {
                    return Err(Pkcs11Error::KeyNotFound {
                        token: self.config.token_label.clone(),
                        label: label.clone(),
                    })
                }
                KeyPolicy::CreateIfMissing => return self.generate(session),
            },
            [one] => *one,
            _ => return Err(refuse("several secret-key objects have this label")),
        };
        let attrs = session
            .get_attributes(
                handle,
                &[
                    AttributeType::KeyType,
                    AttributeType::ValueLen,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                ],
            )
            .map_err(|e| self.device(e))?;
        let (mut aes, mut len, mut sensitive, mut extractable) = (false, 0u64, false, true);
        for a in attrs {
            match a {
                Attribute::KeyType(t) => aes = t == KeyType::AES,
                Attribute::ValueLen(l) => len = l.into(),
                Attribute::Sensitive(s) => sensitive = s,
                Attribute::Extractable(x) => extractable = x,
                _ => {}
            }
        }
        if !aes || len != KEY_LEN as u64 {
            return Err(refuse("not an AES-256 key"));
        }
        // A key the token would hand out is no hardware root: refuse it.
        if !sensitive || extractable {
            return Err(refuse("the key is extractable or not sensitive"));
        }
        Ok(handle)
    }

    fn generate(&self, session: &Session) -> Result<ObjectHandle, Pkcs11Error> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen((KEY_LEN as u64).into()),
            Attribute::Label(self.config.key_label.as_bytes().to_vec()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Modifiable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Sign(false),
            Attribute::Verify(false),
            Attribute::Derive(false),
        ];
        session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(|e| self.device(e))
    }

    fn aad(node_id: &str) -> Vec<u8> {
        Encoder::new()
            .bytes(b"mpc-kms/dek-pkcs11/v1")
            .bytes(&header())
            .bytes(node_id.as_bytes())
            .finish()
    }
}

fn header() -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    h
}

impl KeyEncryptionKey for Pkcs11Kek {
    fn wrap_dek(&self, node_id: &str, dek: &SecretKey) -> Result<Vec<u8>, StorageError> {
        let _guard = token_lock();
        let session = self.login().map_err(|e| e.for_node(node_id))?;
        let key = self.key(&session.0).map_err(|e| e.for_node(node_id))?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let mut iv = nonce;
        let aad = Self::aad(node_id);
        let params =
            GcmParams::new(&mut iv, &aad, ((TAG_LEN * 8) as u64).into()).map_err(|e| self.device(e))?;
        let sealed = session
            .0
            .encrypt(&Mechanism::AesGcm(params), key, dek.expose())
            .map_err(|e| self.device(e))?;
        if sealed.len() != KEY_LEN + TAG_LEN {
            return Err(self.device_msg("AES-GCM output of unexpected length").into());
        }
        let mut out = header();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unwrap_dek(&self, node_id: &str, file: &[u8]) -> Result<SecretKey, StorageError> {
        let corrupt = |why: &str| StorageError::Corrupt(format!("{node_id}.dek: {why}"));
        // Parsed before the token is contacted: a damaged file says so.
        if file.len() != PKCS11_DEK_FILE_LEN {
            return Err(corrupt(&format!(
                "length {} instead of {PKCS11_DEK_FILE_LEN} (not a PKCS#11-wrapped DEK)",
                file.len()
            )));
        }
        if file[..HEADER_LEN] != header()[..] {
            return Err(corrupt("not a PKCS#11-wrapped DEK (bad magic or version)"));
        }
        let mut iv = [0u8; NONCE_LEN];
        iv.copy_from_slice(&file[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
        let sealed = &file[HEADER_LEN + NONCE_LEN..];
        let _guard = token_lock();
        let session = self.login().map_err(|e| e.for_node(node_id))?;
        let key = self.key(&session.0).map_err(|e| e.for_node(node_id))?;
        let aad = Self::aad(node_id);
        let params =
            GcmParams::new(&mut iv, &aad, ((TAG_LEN * 8) as u64).into()).map_err(|e| self.device(e))?;
        let dek = match session.0.decrypt(&Mechanism::AesGcm(params), key, sealed) {
            Ok(dek) => Zeroizing::new(dek),
            // The tag did not verify: another key, another node's file, or tampering.
            // Tokens differ in how they say so (SoftHSM2 answers CKR_GENERAL_ERROR),
            // so the token's own words are kept in the message.
            Err(
                e @ CkError::Pkcs11(
                    RvError::EncryptedDataInvalid
                    | RvError::EncryptedDataLenRange
                    | RvError::GeneralError
                    | RvError::FunctionFailed,
                    _,
                ),
            ) => {
                return Err(StorageError::WrongPassword(format!(
                    "{node_id} (the DEK does not open under key '{}' of PKCS#11 token '{}': {e})",
                    self.config.key_label, self.config.token_label
                )))
            }
            Err(e) => return Err(self.device(e).into()),
        };
        let bytes: &[u8; KEY_LEN] = dek.as_slice().try_into().map_err(|_| corrupt("bad DEK length"))?;
        Ok(SecretKey::from_bytes(bytes))
    }
}

impl Pkcs11Kek {
    fn device_msg(&self, reason: &str) -> Pkcs11Error {
        Pkcs11Error::Device {
            token: self.config.token_label.clone(),
            reason: reason.into(),
        }
    }
}
