//! File-system helpers: private modes (files 0600, directories 0700), checks that
//! existing secret files and their directories are no wider, and durable, atomic
//! replacement of small files.

use kms_core::StorageError;
use rand_core::{OsRng, RngCore};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of every file the storage creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the storage creates.
pub const DIR_MODE: u32 = 0o700;

pub(crate) fn io_err(what: &str, path: &Path, e: std::io::Error) -> StorageError {
    StorageError::Backend(format!("{what} {}: {e}", path.display()))
}

/// Refuse `path` if its mode grants anything to group or others: a secret file (or
/// the directory that holds one) readable or writable by another account is a
/// misconfiguration to fix, not to work around. The error names the path and its mode.
/// Symlinks are followed (a mounted secret is often one); the target is what counts.
fn check_not_wider(path: &Path, kind: &str, want: u32) -> Result<(), StorageError> {
    let meta = fs::metadata(path).map_err(|e| io_err("cannot inspect", path, e))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(StorageError::InsecurePermissions(format!(
            "{kind} {} has mode {mode:o}, wider than {want:o}: run `chmod {want:o} {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Refuse an existing secret file whose mode is wider than 0600.
pub fn check_private_file(path: &Path) -> Result<(), StorageError> {
    check_not_wider(path, "secret file", FILE_MODE)
}

/// Refuse an existing directory of secrets whose mode is wider than 0700.
pub fn check_private_dir(dir: &Path) -> Result<(), StorageError> {
    check_not_wider(dir, "secret directory", DIR_MODE)
}

/// Create `dir` and any missing parents with mode 0700. An existing directory keeps
/// its mode (it belongs to whoever made it) but must not be wider than 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), StorageError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| io_err("cannot create directory", dir, e))?;
    check_private_dir(dir)
}

/// Create (or open) a file with mode 0600, without truncating it. An existing file
/// wider than 0600 is refused.
pub fn open_private_file(path: &Path) -> Result<File, StorageError> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| io_err("cannot open", path, e))?;
    check_private_file(path)?;
    Ok(f)
}

/// Flush a directory's entries to disk, so a rename or a new file in it survives a
/// crash.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("cannot sync directory", dir, e))
}

/// A fresh temporary file beside `path`: a random name (so no stale file, planted
/// file or concurrent writer is ever reused), created with `O_EXCL | O_NOFOLLOW` (so an
/// existing file or a symlink at that name is an error, never opened) and mode 0600
/// from its creation (so no byte is ever readable by another account).
pub fn create_private_temp(path: &Path) -> Result<(File, PathBuf), StorageError> {
    let dir = path
        .parent()
        .ok_or_else(|| StorageError::Backend(format!("{} has no parent", path.display())))?;
    let name = path
        .file_name()
        .ok_or_else(|| StorageError::Backend(format!("{} has no file name", path.display())))?;
    let mut random = [0u8; 12];
    OsRng.fill_bytes(&mut random);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", hex::encode(random)));
    let tmp = dir.join(tmp_name);
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(|e| io_err("cannot create", &tmp, e))?;
    // The umask can only narrow the mode given at creation; set it explicitly anyway,
    // through the descriptor, so the file is 0600 whatever the process umask.
    f.set_permissions(fs::Permissions::from_mode(FILE_MODE))
        .map_err(|e| io_err("cannot set the mode of", &tmp, e))?;
    Ok((f, tmp))
}

/// Write `bytes` to `path` atomically and durably: a fresh temporary file beside it
/// ([`create_private_temp`]) is written and synced, then renamed over `path`, then the
/// directory is synced. A crash leaves either the old file or the new one, never a
/// torn one; a failure removes the temporary file.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = path
        .parent()
        .ok_or_else(|| StorageError::Backend(format!("{} has no parent", path.display())))?;
    let (mut f, tmp) = create_private_temp(path)?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err("cannot write", &tmp, e));
    drop(f);
    let renamed =
        written.and_then(|()| fs::rename(&tmp, path).map_err(|e| io_err("cannot rename into", path, e)));
    if let Err(e) = renamed {
        // Best effort: the error that matters is the one above.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
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

/// Read a whole secret file, refusing it (before reading) if its mode is wider than
/// 0600; `Ok(None)` if it does not exist.
pub fn read_private_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("cannot inspect", path, e)),
        Ok(_) => check_private_file(path)?,
    }
    read_if_exists(path)
}
