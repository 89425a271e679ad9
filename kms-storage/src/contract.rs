//! Helpers of this crate's own tests: the public contract suite ([`crate::testing`])
//! and what only these tests need (node configurations, file fingerprints).

pub use crate::testing::*;
#[cfg(feature = "embedded")]
use kms_core::NodeId;
#[cfg(feature = "embedded")]
use zeroize::Zeroizing;

/// A node configuration under `root` with the lowest PBKDF2 count, for speed.
#[cfg(feature = "embedded")]
pub fn node_config(root: &std::path::Path, node: &str) -> crate::NodeStorageConfig {
    let mut c = crate::NodeStorageConfig::under_root(NodeId::new(node).expect("node id"), root);
    c.pbkdf2_iterations = crate::keyring::MIN_PBKDF2_ITERATIONS;
    c
}

#[cfg(feature = "embedded")]
pub fn password(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_string())
}

#[cfg(feature = "embedded")]
/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(feature = "embedded")]
/// Bytes and modification time of every file under `dir`.
pub fn fingerprint(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            let mtime = std::fs::metadata(&p).and_then(|m| m.modified()).expect("mtime");
            (p, bytes, mtime)
        })
        .collect()
}
