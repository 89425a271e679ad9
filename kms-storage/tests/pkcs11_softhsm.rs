//! The PKCS#11 KEK against SoftHSM2 (Debian package `softhsm2`, which `.ci/run`
//! installs). Every token lives in one temporary directory made for this test binary:
//! SoftHSM reads `SOFTHSM2_CONF` once per process, so it is set once, before the module
//! is first loaded, and each test has its own token label.
#![cfg(all(feature = "pkcs11", feature = "embedded"))]

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use kms_core::ports::{ShardRecord, ShardStore};
use kms_core::{Algorithm, KeyId, NodeId, StorageError};
use kms_storage::keyring::KeyEncryptionKey;
use kms_storage::pkcs11::{KeyPolicy, Pkcs11Config, Pkcs11Error, Pkcs11Kek, PKCS11_DEK_FILE_LEN};
use kms_storage::{NodeStorage, NodeStorageConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use zeroize::Zeroizing;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "4711-user";
const SO_PIN: &str = "4711-so";
/// One token per test, made before any test loads the module.
const TOKENS: &[&str] = &[
    "kih-open",
    "kih-wrong-pin",
    "kih-missing",
    "kih-weak-key",
    "kih-contract",
];

fn softhsm() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        assert!(
            Path::new(MODULE).exists(),
            "{MODULE} is missing: install the Debian package softhsm2 (.ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        // Before any thread of this binary loads the module (the OnceLock blocks the
        // other tests until here is done).
        std::env::set_var("SOFTHSM2_CONF", &conf);
        for label in TOKENS {
            let out = Command::new("softhsm2-util")
                .env("SOFTHSM2_CONF", &conf)
                .args([
                    "--init-token",
                    "--free",
                    "--label",
                    label,
                    "--pin",
                    PIN,
                    "--so-pin",
                    SO_PIN,
                ])
                .output()
                .expect("softhsm2-util (package softhsm2) must be installed");
            assert!(
                out.status.success(),
                "softhsm2-util: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        dir
    })
    .path()
}

fn hsm(token: &str, pin: &str, policy: KeyPolicy) -> Pkcs11Config {
    softhsm();
    Pkcs11Config {
        module: PathBuf::from(MODULE),
        token_label: token.to_string(),
        pin: Zeroizing::new(pin.to_string()),
        key_label: "node-kek".to_string(),
        key_policy: policy,
    }
}

fn node_config(root: &Path, node: &str) -> NodeStorageConfig {
    let mut cfg = NodeStorageConfig::new(NodeId::new(node).unwrap(), root.join("certs"), root.join("data"));
    cfg.pbkdf2_iterations = 10_000;
    cfg
}

fn record(byte: u8) -> ShardRecord {
    ShardRecord {
        algorithm: Algorithm::Eddsa,
        version: 1,
        data: Zeroizing::new(vec![byte; 64]),
    }
}

/// Every file under `root` with its bytes and mode: "changes no file" is this map
/// being equal before and after.
fn fingerprint(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                out.insert(path.clone(), (Vec::new(), meta.permissions().mode()));
                stack.push(path);
            } else {
                out.insert(
                    path.clone(),
                    (std::fs::read(&path).unwrap(), meta.permissions().mode()),
                );
            }
        }
    }
    out
}

/// A node created with its KEK in the token (key made in the token at init), its shard
/// readable after restarts that require the key; the file is the token's wrapping,
/// bound to the node id.
#[tokio::test]
async fn keys_in_hardware_pkcs11_kek_opens_node_storage() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss1");
    let key = KeyId::parse("hw-key").unwrap();

    // A normal start before init: no key object in the token, refused, nothing written.
    let start = Pkcs11Kek::new(hsm("kih-open", PIN, KeyPolicy::RequireExisting));
    assert!(matches!(start.check(), Err(Pkcs11Error::KeyNotFound { .. })));
    assert!(matches!(
        NodeStorage::open_with_kek(cfg.clone(), &start),
        Err(StorageError::NotFound(m)) if m.contains("node-kek")
    ));
    assert!(!cfg.dek_path().exists() && !cfg.db_path().exists());

    // Init: the key is made inside the token.
    let init = Pkcs11Kek::connect(hsm("kih-open", PIN, KeyPolicy::CreateIfMissing)).unwrap();
    {
        let node = NodeStorage::open_with_kek(cfg.clone(), &init).unwrap();
        node.shards().put(&key, &record(7)).await.unwrap();
    }
    let file = std::fs::read(cfg.dek_path()).unwrap();
    assert_eq!(file.len(), PKCS11_DEK_FILE_LEN);
    assert_eq!(&file[..8], b"MPCKMP11");

    // Restart, twice, with the key required: the shard reads back.
    for _ in 0..2 {
        let kek = Pkcs11Kek::connect(hsm("kih-open", PIN, KeyPolicy::RequireExisting)).unwrap();
        let node = NodeStorage::open_with_kek(cfg.clone(), &kek).unwrap();
        assert_eq!(
            *node.shards().get(&key).await.unwrap().unwrap().data,
            vec![7u8; 64]
        );
    }
    // Init again does not replace the key: the same one is found.
    let node = NodeStorage::open_with_kek(cfg.clone(), &init).unwrap();
    assert_eq!(
        *node.shards().get(&key).await.unwrap().unwrap().data,
        vec![7u8; 64]
    );
    drop(node);

    // The wrapping is the token's, bound to the node: under another node's name, or
    // with one bit changed, it does not open.
    assert!(
        matches!(init.unwrap_dek("tss2", &file), Err(StorageError::WrongPassword(m)) if m.starts_with("tss2"))
    );
    let mut flipped = file.clone();
    flipped[40] ^= 1;
    assert!(matches!(
        init.unwrap_dek("tss1", &flipped),
        Err(StorageError::WrongPassword(_))
    ));
    assert!(matches!(
        init.unwrap_dek("tss1", &file[..60]),
        Err(StorageError::Corrupt(_))
    ));
    // Two wrappings of one DEK differ (fresh nonce) and both open to the same DEK.
    let dek = init.unwrap_dek("tss1", &file).unwrap();
    let again = init.wrap_dek("tss1", &dek).unwrap();
    assert_ne!(again, file);
    assert_eq!(init.unwrap_dek("tss1", &again).unwrap().expose(), dek.expose());
    // The password KEK cannot read it.
    assert!(NodeStorage::open(cfg.clone(), &Zeroizing::new(PIN.to_string())).is_err());
    // The PIN is never shown.
    let shown = format!(
        "{:?} {:?}",
        init,
        hsm("kih-open", PIN, KeyPolicy::RequireExisting)
    );
    assert!(!shown.contains(PIN), "{shown}");
}

#[tokio::test]
async fn keys_in_hardware_wrong_pin_refused_no_file_changed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss1");
    let key = KeyId::parse("hw-key").unwrap();

    // A first start with a wrong PIN writes nothing.
    let wrong = Pkcs11Kek::new(hsm("kih-wrong-pin", "not-the-pin", KeyPolicy::CreateIfMissing));
    assert!(matches!(wrong.check(), Err(Pkcs11Error::WrongPin(t)) if t == "kih-wrong-pin"));
    assert!(matches!(
        NodeStorage::open_with_kek(cfg.clone(), &wrong),
        Err(StorageError::WrongPassword(m)) if m.starts_with("tss1") && m.contains("PIN")
    ));
    assert!(!dir.path().join("certs").exists() && !dir.path().join("data").exists());

    let good = Pkcs11Kek::connect(hsm("kih-wrong-pin", PIN, KeyPolicy::CreateIfMissing)).unwrap();
    {
        let node = NodeStorage::open_with_kek(cfg.clone(), &good).unwrap();
        node.shards().put(&key, &record(9)).await.unwrap();
    }
    let before = fingerprint(dir.path());
    let required = Pkcs11Kek::new(hsm("kih-wrong-pin", "not-the-pin", KeyPolicy::RequireExisting));
    assert!(matches!(
        NodeStorage::open_with_kek(cfg.clone(), &required),
        Err(StorageError::WrongPassword(m)) if m.contains("kih-wrong-pin")
    ));
    assert!(matches!(
        Pkcs11Kek::connect(hsm("kih-wrong-pin", "", KeyPolicy::RequireExisting)),
        Err(Pkcs11Error::WrongPin(_))
    ));
    assert_eq!(fingerprint(dir.path()), before);

    // The right PIN after the wrong ones still opens the node: a login is never left
    // over between operations, and a wrong one was really checked.
    let node = NodeStorage::open_with_kek(cfg.clone(), &good).unwrap();
    assert_eq!(
        *node.shards().get(&key).await.unwrap().unwrap().data,
        vec![9u8; 64]
    );
}

#[tokio::test]
async fn keys_in_hardware_missing_token_refused_no_file_changed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss1");
    let key = KeyId::parse("hw-key").unwrap();

    // No such token at a first start: refused, nothing written.
    let absent = Pkcs11Kek::new(hsm("kih-not-plugged-in", PIN, KeyPolicy::CreateIfMissing));
    assert!(matches!(absent.check(), Err(Pkcs11Error::TokenNotFound(t)) if t == "kih-not-plugged-in"));
    assert!(matches!(
        NodeStorage::open_with_kek(cfg.clone(), &absent),
        Err(StorageError::NotFound(m)) if m.contains("kih-not-plugged-in")
    ));
    assert!(!dir.path().join("certs").exists() && !dir.path().join("data").exists());

    let good = Pkcs11Kek::connect(hsm("kih-missing", PIN, KeyPolicy::CreateIfMissing)).unwrap();
    {
        let node = NodeStorage::open_with_kek(cfg.clone(), &good).unwrap();
        node.shards().put(&key, &record(3)).await.unwrap();
    }
    let before = fingerprint(dir.path());
    // The node's token is not there (another label answers), the module is missing,
    // or the token is there without the key: each refused, no file changed.
    let mut gone = hsm("kih-missing", PIN, KeyPolicy::RequireExisting);
    gone.token_label = "kih-missing-unplugged".into();
    assert!(matches!(
        NodeStorage::open_with_kek(cfg.clone(), &Pkcs11Kek::new(gone)),
        Err(StorageError::NotFound(m)) if m.contains("kih-missing-unplugged")
    ));
    let mut no_module = hsm("kih-missing", PIN, KeyPolicy::RequireExisting);
    no_module.module = dir.path().join("no-such-module.so");
    assert!(matches!(
        Pkcs11Kek::connect(no_module.clone()),
        Err(Pkcs11Error::Module { .. })
    ));
    assert!(matches!(
        NodeStorage::open_with_kek(cfg.clone(), &Pkcs11Kek::new(no_module)),
        Err(StorageError::Backend(m)) if m.contains("no-such-module.so")
    ));
    let mut no_key = hsm("kih-missing", PIN, KeyPolicy::RequireExisting);
    no_key.key_label = "another-kek".into();
    assert!(matches!(
        NodeStorage::open_with_kek(cfg.clone(), &Pkcs11Kek::new(no_key)),
        Err(StorageError::NotFound(m)) if m.contains("another-kek")
    ));
    assert_eq!(fingerprint(dir.path()), before);

    let node = NodeStorage::open_with_kek(cfg.clone(), &good).unwrap();
    assert_eq!(
        *node.shards().get(&key).await.unwrap().unwrap().data,
        vec![3u8; 64]
    );
}

/// A key object the token would let out (extractable, or not sensitive) is no
/// hardware root: it is refused by name and no file is written.
#[test]
fn keys_in_hardware_extractable_key_refused() {
    let conf = hsm("kih-weak-key", PIN, KeyPolicy::RequireExisting);
    // Through the KEK first, so the module is initialised once, under its lock.
    assert!(matches!(
        Pkcs11Kek::new(conf.clone()).check(),
        Err(Pkcs11Error::KeyNotFound { .. })
    ));
    let ctx = Pkcs11::new(MODULE).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == "kih-weak-key")
        .unwrap();
    {
        let session = ctx.open_rw_session(slot).unwrap();
        session
            .login(UserType::User, Some(&AuthPin::new(PIN.into())))
            .unwrap();
        session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32u64.into()),
                    Attribute::Label(b"node-kek".to_vec()),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(false),
                    Attribute::Extractable(true),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                ],
            )
            .unwrap();
        session.logout().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(dir.path(), "tss1");
    let kek = Pkcs11Kek::new(conf);
    assert!(matches!(
        kek.check(),
        Err(Pkcs11Error::KeyNotUsable { reason, .. }) if reason.contains("extractable")
    ));
    assert!(matches!(
        NodeStorage::open_with_kek(cfg.clone(), &kek),
        Err(StorageError::Backend(_))
    ));
    assert!(!dir.path().join("certs").exists() && !dir.path().join("data").exists());
}

/// The storage contract (feature `testing`) on node storage whose DEK is sealed in the
/// token: the shard store and the vault are the ones a hardware-keyed node uses.
#[cfg(feature = "testing")]
#[tokio::test]
async fn keys_in_hardware_node_storage_passes_the_storage_contract() {
    use kms_storage::testing;
    let dir = tempfile::tempdir().unwrap();
    let kek = Pkcs11Kek::connect(hsm("kih-contract", PIN, KeyPolicy::CreateIfMissing)).unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let open = || {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // One node per fresh store: the token seals each node's own DEK.
        let cfg = node_config(&dir.path().join(format!("n{i}")), &format!("tss{i}"));
        NodeStorage::open_with_kek(cfg, &kek).unwrap()
    };
    testing::shard_store_contract(|| std::future::ready(open().shards())).await;
    testing::secret_vault_contract(|| std::future::ready(open().vault())).await;
}
