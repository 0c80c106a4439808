//! Files that survive a crash and say when they are damaged: the one place that writes the
//! bytes of run folders, checkpoints and weights folders.
//!
//! - **Atomic, durable writes** ([`write_atomic`]): a temporary file beside the target, written
//!   in full, flushed to the disk (`fsync`), then renamed over the target, and the folder
//!   flushed too. A crash, a `kill -9` or a full disk at any moment leaves either the old file
//!   or the new one under the real name, never half of one; a failed write removes its
//!   temporary file and leaves the old file as it was.
//! - **Checksummed weights** ([`seal_burnpack`], [`open_burnpack`]): a burnpack file has no
//!   checksum of its own, so a flipped bit in a weight would load silently. Every `.bpk` this
//!   crate writes carries the SHA-256 of its tensors (names, types, shapes, bytes) and scalars
//!   in the burnpack's own key/value metadata under [`SHA256_KEY`]; the file stays a plain
//!   burnpack that burn reads as before. A file without the key (the 1,200-step run's
//!   `weights/run-20min`, runs written before this) is read as it is, with burn's own checks.
//! - **Checksummed JSON** ([`to_json_checked`], [`from_json_checked`]): `config.json` and a
//!   checkpoint's `state.json` carry a `"sha256"` field, the SHA-256 of the file's other
//!   fields written compactly in sorted order, so a flipped digit is noticed. A file without the
//!   field is read as before.
//!
//! A damaged file is refused with its path and what was found; see `tests/faults_files.rs`.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use burn::tensor::Bytes;
use sha2::{Digest, Sha256};

/// The burnpack metadata key that holds the SHA-256 of a weights file's contents.
pub const SHA256_KEY: &str = "ddpm.sha256";
/// The JSON field that holds the SHA-256 of the file's other fields.
pub const JSON_SHA256_FIELD: &str = "sha256";

thread_local! {
    /// Bytes [`write_atomic`] may still write on this thread before failing as a full disk
    /// would (`None`: no limit). Set by [`fail_writes_after`].
    static WRITE_BUDGET: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Fault injection for tests: from now on, on this thread, [`write_atomic`] fails with
/// "no space left on device" once `bytes` bytes in all have been written (`None` removes the
/// limit). Every file of a checkpoint, weights folder or run folder goes through it, so a test
/// can fill the disk in the middle of any of them.
#[doc(hidden)]
pub fn fail_writes_after(bytes: Option<u64>) {
    WRITE_BUDGET.with(|b| b.set(bytes));
}

/// A writer that fails like a full disk when the thread's write budget runs out.
struct Budgeted<W>(W);

impl<W: Write> Write for Budgeted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let allowed = WRITE_BUDGET.with(|b| match b.get() {
            None => Ok(buf.len()),
            Some(0) => Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (injected by fail_writes_after)",
            )),
            Some(left) => Ok(buf.len().min(left.try_into().unwrap_or(usize::MAX))),
        })?;
        let n = self.0.write(&buf[..allowed])?;
        WRITE_BUDGET.with(|b| {
            if let Some(left) = b.get() {
                b.set(Some(left - n as u64));
            }
        });
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

// ANCHOR: write_atomic
/// Writes `bytes` to `path` so that a crash at any moment leaves the old file or the new one,
/// never a mixture: into `.<name>.tmp` beside it, `fsync`, rename over `path`, `fsync` the
/// folder. On any failure the temporary file is removed and `path` is untouched.
///
/// # Errors
/// Any I/O error (a full disk, a read-only or missing folder), unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut file = Budgeted(std::fs::File::create(&tmp)?);
        file.write_all(bytes)?;
        file.0.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}
// ANCHOR_END: write_atomic

/// Flushes a folder's entries (new names, renames) to the disk. Best effort: not every file
/// system can open a folder for this, and the data itself was synced already.
pub fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// `dir/.name.tmp` for `dir/name`.
pub(crate) fn temp_sibling(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Lowercase hex of a digest.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a file's contents were checked against a stored SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// The file carries a SHA-256 and its contents match it.
    Verified,
    /// The file carries no SHA-256 (written before checksums existed): read as it is.
    Unchecked,
}

/// What is wrong with a file's bytes (the caller adds the path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    /// The format's own structure is broken (truncated, not a burnpack, not JSON).
    #[error("{0}")]
    Unreadable(String),
    /// The contents do not match the stored SHA-256.
    #[error("its contents have SHA-256 {found} but the file records {stored}")]
    ChecksumMismatch {
        /// The SHA-256 stored in the file.
        stored: String,
        /// The SHA-256 of what is there.
        found: String,
    },
}

/// SHA-256 of a burnpack's tensors (name, type, shape, bytes, in name order), scalars and
/// metadata other than [`SHA256_KEY`].
fn burnpack_digest(
    tensors: &[burn_pack::Tensor],
    scalars: &BTreeMap<String, burn_pack::Scalar>,
    metadata: &BTreeMap<String, String>,
) -> Result<String, Damage> {
    let mut h = Sha256::new();
    for t in tensors {
        h.update(format!("{}|{:?}|{:?}|", t.name, t.dtype, t.shape).as_bytes());
        let bytes = t
            .to_bytes()
            .map_err(|e| Damage::Unreadable(first_line(&e.to_string())))?;
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes[..]);
    }
    for (k, v) in scalars {
        h.update(format!("scalar|{k}|{v:?}|").as_bytes());
    }
    for (k, v) in metadata.iter().filter(|(k, _)| k.as_str() != SHA256_KEY) {
        h.update(format!("meta|{k}|{v}|").as_bytes());
    }
    Ok(hex(&h.finalize()))
}

/// Adds the SHA-256 of a burnpack's contents to its metadata ([`SHA256_KEY`]); the result is a
/// burnpack with the same tensors, scalars and metadata.
///
/// # Errors
/// A message if `bytes` is not a burnpack (it always is when it comes from burn).
pub fn seal_burnpack(bytes: Bytes) -> Result<Vec<u8>, String> {
    let reader = burn_pack::Reader::from_bytes(bytes).map_err(|e| e.to_string())?;
    let metadata = reader.metadata().clone();
    let scalars = reader.scalars().clone();
    let tensors = reader.into_tensors().map_err(|e| e.to_string())?;
    let digest = burnpack_digest(&tensors, &scalars, &metadata).map_err(|e| e.to_string())?;
    let mut writer = burn_pack::Writer::new(tensors);
    for (k, v) in metadata.iter().filter(|(k, _)| k.as_str() != SHA256_KEY) {
        writer = writer.with_metadata(k, v);
    }
    for (k, v) in scalars {
        writer = writer.with_scalar(&k, v);
    }
    let sealed = writer
        .with_metadata(SHA256_KEY, &digest)
        .into_bytes()
        .map_err(|e| e.to_string())?;
    Ok(sealed.to_vec())
}

/// Checks a burnpack file's bytes: its structure (burn's reader: header, metadata, every
/// tensor inside the file) and, when it carries one, its SHA-256. Returns the bytes, ready for
/// burn's `from_bytes`, and whether they were verified.
///
/// # Errors
/// [`Damage`] saying what is wrong.
pub fn open_burnpack(bytes: Vec<u8>) -> Result<(Bytes, Integrity), Damage> {
    // The reader takes its own copy: the bytes are handed on to burn's loader afterwards.
    let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.clone()))
        .map_err(|e| Damage::Unreadable(first_line(&e.to_string())))?;
    let bytes = Bytes::from_bytes_vec(bytes);
    let Some(stored) = reader.metadata().get(SHA256_KEY).cloned() else {
        return Ok((bytes, Integrity::Unchecked));
    };
    let metadata = reader.metadata().clone();
    let scalars = reader.scalars().clone();
    let tensors = reader
        .into_tensors()
        .map_err(|e| Damage::Unreadable(first_line(&e.to_string())))?;
    let found = burnpack_digest(&tensors, &scalars, &metadata)?;
    if found != stored {
        return Err(Damage::ChecksumMismatch { stored, found });
    }
    Ok((bytes, Integrity::Verified))
}

/// SHA-256 of a JSON value written compactly (object keys in sorted order).
fn json_digest(value: &serde_json::Value) -> String {
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let sorted_map: BTreeMap<&String, serde_json::Value> =
                    map.iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::to_value(sorted_map).expect("string keys")
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            other => other.clone(),
        }
    }
    let text = serde_json::to_string(&sorted(value)).expect("a JSON value serialises");
    hex(&Sha256::digest(text.as_bytes()))
}

/// `value` as pretty JSON with a `"sha256"` field: the SHA-256 of its other fields.
///
/// # Panics
/// If `value` does not serialise to a JSON object (the crate's configs and states all do).
pub fn to_json_checked<T: serde::Serialize>(value: &T) -> String {
    let mut json = serde_json::to_value(value).expect("configs serialise");
    let digest = json_digest(&json);
    json.as_object_mut()
        .expect("a JSON object")
        .insert(JSON_SHA256_FIELD.into(), digest.into());
    serde_json::to_string_pretty(&json).expect("a JSON value serialises") + "\n"
}

/// Parses JSON written by [`to_json_checked`] (or an older file without the field) and checks
/// the field. Returns the value without it.
///
/// # Errors
/// [`Damage::Unreadable`] for bytes that are not JSON (a truncated file), and
/// [`Damage::ChecksumMismatch`] when the other fields no longer match.
pub fn from_json_checked(bytes: &[u8]) -> Result<(serde_json::Value, Integrity), Damage> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Damage::Unreadable(e.to_string()))?;
    let stored = match value.as_object_mut().map(|m| m.remove(JSON_SHA256_FIELD)) {
        Some(Some(serde_json::Value::String(s))) => s,
        Some(Some(other)) => {
            return Err(Damage::Unreadable(format!(
                "its \"{JSON_SHA256_FIELD}\" field is {other}, not a string of 64 hex digits"
            )));
        }
        _ => return Ok((value, Integrity::Unchecked)),
    };
    let found = json_digest(&value);
    if found != stored {
        return Err(Damage::ChecksumMismatch { stored, found });
    }
    Ok((value, Integrity::Verified))
}

/// The first line of a (possibly multi-line) message, with a note if lines were dropped.
pub(crate) fn first_line(message: &str) -> String {
    let mut lines = message.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("").trim().to_string();
    let rest = lines.count();
    if rest == 0 {
        first
    } else {
        format!("{first} (and {rest} more lines)")
    }
}
