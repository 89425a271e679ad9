//! File-system helpers: private modes (files 0600, directories 0700) and durable,
//! atomic replacement of small files.

use kms_core::StorageError;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Mode of every file the storage creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the storage creates.
pub const DIR_MODE: u32 = 0o700;

pub(crate) fn io_err(what: &str, path: &Path, e: std::io::Error) -> StorageError {
    StorageError::Backend(format!("{what} {}: {e}", path.display()))
}

/// Create `dir` and any missing parents with mode 0700. Existing directories keep
/// their mode: they belong to whoever made them.
pub fn create_private_dir(dir: &Path) -> Result<(), StorageError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| io_err("cannot create directory", dir, e))
}

/// Create (or open) a file with mode 0600, without truncating it.
pub fn open_private_file(path: &Path) -> Result<File, StorageError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| io_err("cannot open", path, e))
}

/// Flush a directory's entries to disk, so a rename or a new file in it survives a
/// crash.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("cannot sync directory", dir, e))
}

/// Write `bytes` to `path` atomically and durably: a 0600 temporary file beside it is
/// written and synced, then renamed over `path`, then the directory is synced. A
/// crash leaves either the old file or the new one, never a torn one.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = path
        .parent()
        .ok_or_else(|| StorageError::Backend(format!("{} has no parent", path.display())))?;
    let name = path
        .file_name()
        .ok_or_else(|| StorageError::Backend(format!("{} has no file name", path.display())))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(|e| io_err("cannot create", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err("cannot write", &tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| io_err("cannot rename into", path, e))?;
    sync_dir(dir)
}

/// Read a whole file; `Ok(None)` if it does not exist.
pub fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("cannot read", path, e)),
    }
}
