//! Downloading full MNIST once, into a cache folder, with SHA-256 verification.
//!
//! `--data mnist` calls [`download_mnist`], which makes sure the four canonical MNIST files
//! ([`MNIST_FILES`]) are in [`mnist_cache_dir`], then [`crate::data::load_dir`] reads them.
//! For each file:
//!
//! 1. if the file is already there with the published size and SHA-256, nothing is fetched;
//! 2. otherwise it is streamed from the first mirror of [`MNIST_MIRRORS`] that answers, into
//!    a temporary `<name>.<pid>.part` file in the same folder, hashing as it goes, with a
//!    progress bar;
//! 3. only if size and SHA-256 match is the temporary file renamed to `<name>` (a rename in
//!    one folder is atomic, so a half-written file never carries the real name); on a
//!    mismatch or a broken transfer it is deleted and the error says so.
//!
//! The general function [`download`] takes the mirrors and the table of expected files as
//! parameters, so the tests run it against a local HTTP server with their own table.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
#[cfg(feature = "download")]
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::DataError;

/// A file to download: its name on the mirror and in the cache, and its published size and
/// SHA-256 (lowercase hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile<'a> {
    /// File name, appended to the mirror's base URL and used in the cache folder.
    pub name: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file, 64 lowercase hex digits.
    pub sha256: &'a str,
}

/// The four canonical MNIST files (gzip IDX), 60,000 training and 10,000 test digits.
///
/// The sizes are those of the original files at `yann.lecun.com/exdb/mnist/` (also recorded
/// by torchvision). The SHA-256 sums are the widely published ones, used for these same files
/// by TensorFlow Datasets and many other loaders (cross-checked in several independent public
/// projects); they were not re-computed here, because this crate was written on a machine
/// without access to the mirrors. A wrong entry would show as [`DataError::ChecksumMismatch`]
/// on the first `--data mnist` run, never as silently wrong data.
pub const MNIST_FILES: [RemoteFile<'static>; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        size: 9_912_422,
        sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        size: 28_881,
        sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        size: 1_648_877,
        sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        size: 4_542,
        sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
];

/// Public mirrors of the original MNIST files, tried in order (the original site,
/// `yann.lecun.com`, now often refuses downloads): PyTorch's and Google's (TensorFlow's).
pub const MNIST_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// What [`download`] did for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// The file was already in the folder with the right size and SHA-256: not fetched.
    AlreadyVerified,
    /// The file was fetched from `url` and verified.
    Downloaded {
        /// Where it came from.
        url: String,
    },
}

/// The folder for downloaded MNIST, from the environment: `$DDPM_DATA_DIR/mnist`, else
/// `$XDG_CACHE_HOME/ddpm/mnist`, else `$HOME/.cache/ddpm/mnist`.
///
/// # Errors
/// [`DataError::NoCacheDir`] if none of the three variables is set.
pub fn mnist_cache_dir() -> Result<PathBuf, DataError> {
    mnist_cache_dir_from(|key| std::env::var_os(key))
}

/// [`mnist_cache_dir`] with the environment passed in, so that it can be tested without
/// changing the process environment. Empty variables count as unset.
///
/// ```
/// use std::path::PathBuf;
/// use ddpm::data::mnist_cache_dir_from;
/// let env = |key: &str| (key == "HOME").then(|| "/home/ada".into());
/// assert_eq!(mnist_cache_dir_from(env).unwrap(), PathBuf::from("/home/ada/.cache/ddpm/mnist"));
/// ```
///
/// # Errors
/// [`DataError::NoCacheDir`] if none of `DDPM_DATA_DIR`, `XDG_CACHE_HOME`, `HOME` is set.
pub fn mnist_cache_dir_from(env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, DataError> {
    let get = |key: &str| env(key).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = get("DDPM_DATA_DIR") {
        Ok(dir.join("mnist"))
    } else if let Some(cache) = get("XDG_CACHE_HOME") {
        Ok(cache.join("ddpm").join("mnist"))
    } else if let Some(home) = get("HOME") {
        Ok(home.join(".cache").join("ddpm").join("mnist"))
    } else {
        Err(DataError::NoCacheDir)
    }
}

/// Makes sure full MNIST is in [`mnist_cache_dir`] (downloading what is missing from
/// [`MNIST_MIRRORS`], verified against [`MNIST_FILES`]) and returns that folder, ready for
/// [`crate::data::load_dir`]. With `progress`, prints a progress bar per file fetched and
/// the folder to stderr.
///
/// # Errors
/// [`DataError::NoCacheDir`], [`DataError::Io`], and the download errors of [`download`].
pub fn download_mnist(progress: bool) -> Result<PathBuf, DataError> {
    let dir = mnist_cache_dir()?;
    let statuses = download(&MNIST_MIRRORS, &MNIST_FILES, &dir, progress)?;
    if progress
        && statuses
            .iter()
            .any(|s| matches!(s, FileStatus::Downloaded { .. }))
    {
        eprintln!("MNIST downloaded and verified in {}", dir.display());
    }
    Ok(dir)
}

/// Makes sure every file of `files` is in `dir` with its published size and SHA-256,
/// fetching the missing or wrong ones from `mirrors` (base URLs ending in `/`; the file name
/// is appended), tried in order. Returns what was done for each file, in order.
///
/// # Errors
/// [`DataError::Io`] if `dir` cannot be created or written; for a file that no mirror
/// delivers intact, the mirror's error ([`DataError::HttpStatus`], [`DataError::Network`],
/// [`DataError::ChecksumMismatch`]) if there is one mirror, else
/// [`DataError::AllMirrorsFailed`] listing each. No partial file is left behind.
pub fn download(
    mirrors: &[&str],
    files: &[RemoteFile<'_>],
    dir: &Path,
    progress: bool,
) -> Result<Vec<FileStatus>, DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut statuses = Vec::with_capacity(files.len());
    for file in files {
        let target = dir.join(file.name);
        if is_verified(&target, file)? {
            statuses.push(FileStatus::AlreadyVerified);
            continue;
        }
        let mut errors = Vec::new();
        let mut fetched = None;
        for mirror in mirrors {
            let url = join_url(mirror, file.name);
            match fetch_verified(&url, file, &target, progress) {
                Ok(()) => {
                    fetched = Some(url);
                    break;
                }
                Err(e @ DataError::Io { .. }) => return Err(e), // a local problem: stop
                Err(e) => errors.push(e),
            }
        }
        match fetched {
            Some(url) => statuses.push(FileStatus::Downloaded { url }),
            None if errors.len() == 1 => return Err(errors.remove(0)),
            None => {
                return Err(DataError::AllMirrorsFailed {
                    file: file.name.to_string(),
                    errors,
                });
            }
        }
    }
    Ok(statuses)
}

/// `base` + `/` + `name`, with exactly one slash between.
fn join_url(base: &str, name: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), name)
}

/// Whether `path` exists with the expected size and SHA-256 (a missing file is `false`).
fn is_verified(path: &Path, file: &RemoteFile<'_>) -> Result<bool, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(e)),
    };
    if !metadata.is_file() || metadata.len() != file.size {
        return Ok(false);
    }
    let mut hasher = Sha256::new();
    let mut reader = File::open(path).map_err(io_err)?;
    std::io::copy(&mut reader, &mut hasher).map_err(io_err)?;
    Ok(hex(&hasher.finalize()) == file.sha256.to_ascii_lowercase())
}

/// Lowercase hex of a digest.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(feature = "download")]
/// Whether a URL points at this machine (then no proxy is used).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")
}

/// Downloads `url` into a temporary file beside `target`, checks size and SHA-256, and
/// renames it to `target` only if both match. The temporary file is removed on any failure.
fn fetch_verified(
    url: &str,
    file: &RemoteFile<'_>,
    target: &Path,
    progress: bool,
) -> Result<(), DataError> {
    let part = target.with_file_name(format!("{}.{}.part", file.name, std::process::id()));
    let result = fetch_into(url, file, &part, progress);
    let result = result.and_then(|()| {
        std::fs::rename(&part, target).map_err(|source| DataError::Io {
            path: target.to_path_buf(),
            source,
        })
    });
    if result.is_err() {
        // Best effort: the file may not exist if the request failed before writing.
        let _ = std::fs::remove_file(&part);
    }
    result
}

/// Opens an HTTP(S) GET of `url` as a byte stream (feature `download`, on by default).
#[cfg(feature = "download")]
fn open_stream(url: &str) -> Result<Box<dyn Read + Send + Sync>, DataError> {
    let mut config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)));
    if is_loopback(url) {
        config = config.proxy(None);
    }
    let agent = ureq::Agent::new_with_config(config.build());
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(status) => DataError::HttpStatus {
            url: url.to_string(),
            status,
        },
        other => DataError::Network {
            url: url.to_string(),
            message: other.to_string(),
        },
    })?;
    Ok(Box::new(response.into_body().into_reader()))
}

/// Without the `download` feature there is no HTTP client: say how to get one.
#[cfg(not(feature = "download"))]
fn open_stream(url: &str) -> Result<Box<dyn Read + Send + Sync>, DataError> {
    Err(DataError::Network {
        url: url.to_string(),
        message: "this build of ddpm has no HTTP client: rebuild with the `download` feature \
                  (on by default)"
            .to_string(),
    })
}

/// Streams `url` into `part`, hashing on the way; errors if size or hash differ.
fn fetch_into(
    url: &str,
    file: &RemoteFile<'_>,
    part: &Path,
    progress: bool,
) -> Result<(), DataError> {
    let network = |e: &dyn std::fmt::Display| DataError::Network {
        url: url.to_string(),
        message: e.to_string(),
    };
    let stream = open_stream(url)?;

    let bar = if progress {
        let bar = indicatif::ProgressBar::new(file.size);
        let style = indicatif::ProgressStyle::with_template(
            "{msg:30} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid progress template")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(file.name.to_string());
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };

    let io_err = |source| DataError::Io {
        path: part.to_path_buf(),
        source,
    };
    let mut out = BufWriter::new(File::create(part).map_err(io_err)?);
    let mut hasher = Sha256::new();
    // Read at most one byte more than expected: enough to notice a wrong size, and a bound
    // on what a misbehaving server can make us write.
    let mut body = stream.take(file.size + 1);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut received: u64 = 0;
    loop {
        let n = body.read(&mut buffer).map_err(|e| network(&e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n]).map_err(io_err)?;
        received += n as u64;
        bar.set_position(received);
    }
    out.flush().map_err(io_err)?;
    drop(out);
    bar.finish();

    let found_sha256 = hex(&hasher.finalize());
    if received != file.size || found_sha256 != file.sha256.to_ascii_lowercase() {
        return Err(DataError::ChecksumMismatch {
            file: file.name.to_string(),
            url: url.to_string(),
            expected_size: file.size,
            found_size: received,
            expected_sha256: file.sha256.to_string(),
            found_sha256,
        });
    }
    Ok(())
}
