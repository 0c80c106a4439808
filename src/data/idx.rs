//! The IDX file format, parsed as a pure function over bytes.
//!
//! An IDX file is a big-endian header followed by raw data:
//!
//! ```text
//! offset  type    value
//! 0       u32 BE  magic = 0x0000_08_NN: two zero bytes, the element type (0x08 = unsigned
//!                 byte), and the number of dimensions NN
//! 4       u32 BE  size of dimension 0 (the number of items)
//! 8       u32 BE  size of dimension 1            (images only: rows)
//! 12      u32 BE  size of dimension 2            (images only: columns)
//! ...     u8      the items, row-major, one byte each
//! ```
//!
//! MNIST uses two kinds: labels are `idx1-ubyte` (magic `0x0000_0801` = 2049, one dimension,
//! header 8 bytes) and images are `idx3-ubyte` (magic `0x0000_0803` = 2051, three dimensions,
//! header 16 bytes, pixel 0 = background white, 255 = ink). Source: the file-format section
//! of LeCun, Cortes & Burges, "The MNIST database of handwritten digits".
//!
//! These functions know nothing about files: the loaders in [`crate::data`] read the bytes,
//! undo gzip, and attach the file name to any [`IdxError`] via [`IdxError::in_file`].

use super::DataError;

/// Magic number of an IDX file of unsigned-byte labels (one dimension): `0x0000_0801`.
pub const IDX_LABELS_MAGIC: u32 = 2049;
/// Magic number of an IDX file of unsigned-byte images (three dimensions): `0x0000_0803`.
pub const IDX_IMAGES_MAGIC: u32 = 2051;

/// Images parsed from an IDX3 file: `count` images of `rows x cols` bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image (28 for MNIST).
    pub rows: usize,
    /// Columns per image (28 for MNIST).
    pub cols: usize,
    /// `count * rows * cols` pixel bytes, image after image, each row-major.
    pub pixels: Vec<u8>,
}

/// What is wrong with a byte buffer that should be an IDX file (no file name attached yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdxError {
    /// The first four bytes are not the expected magic number.
    BadMagic {
        /// The magic number this kind of file must start with.
        expected: u32,
        /// The big-endian `u32` actually found.
        found: u32,
    },
    /// Fewer bytes than the header promises.
    Truncated {
        /// Bytes the header (or the header itself) requires.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// More bytes than the header promises.
    TrailingBytes {
        /// Bytes the header requires.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
}

impl IdxError {
    /// Attaches the name of the file the bytes came from, giving the crate's [`DataError`].
    pub fn in_file(self, file: impl Into<String>) -> DataError {
        let file = file.into();
        match self {
            IdxError::BadMagic { expected, found } => DataError::BadMagic {
                file,
                expected,
                found,
            },
            IdxError::Truncated { expected, found } => DataError::Truncated {
                file,
                expected,
                found,
            },
            IdxError::TrailingBytes { expected, found } => DataError::TrailingBytes {
                file,
                expected,
                found,
            },
        }
    }
}

/// Reads the big-endian `u32` at `offset`; the caller has checked the length.
fn be_u32(bytes: &[u8], offset: usize) -> u32 {
    let word: [u8; 4] = bytes[offset..offset + 4]
        .try_into()
        .expect("slice of length 4");
    u32::from_be_bytes(word)
}

/// Checks the magic number and that `bytes` holds a full header of `header_len` bytes.
fn check_header(bytes: &[u8], magic: u32, header_len: usize) -> Result<(), IdxError> {
    if bytes.len() >= 4 {
        let found = be_u32(bytes, 0);
        if found != magic {
            return Err(IdxError::BadMagic {
                expected: magic,
                found,
            });
        }
    }
    if bytes.len() < header_len {
        return Err(IdxError::Truncated {
            expected: header_len,
            found: bytes.len(),
        });
    }
    Ok(())
}

/// Checks that the data after the header has exactly the size the header promises.
fn check_body(bytes: &[u8], header_len: usize, body_len: Option<usize>) -> Result<(), IdxError> {
    // `None` means the promised size overflows `usize`: certainly more than we have.
    let expected = body_len.and_then(|n| n.checked_add(header_len));
    match expected {
        Some(expected) if bytes.len() == expected => Ok(()),
        Some(expected) if bytes.len() > expected => Err(IdxError::TrailingBytes {
            expected,
            found: bytes.len(),
        }),
        _ => Err(IdxError::Truncated {
            expected: expected.unwrap_or(usize::MAX),
            found: bytes.len(),
        }),
    }
}

// ANCHOR: parse_idx_images
/// Parses an uncompressed IDX3 image file (magic 2051): a 16-byte big-endian header
/// `magic, count, rows, cols`, then `count * rows * cols` pixel bytes.
///
/// # Errors
/// [`IdxError::BadMagic`] if the file does not start with 2051 (2049 means a label file was
/// given), [`IdxError::Truncated`] / [`IdxError::TrailingBytes`] if the length is not exactly
/// `16 + count * rows * cols`.
///
/// ```
/// use ddpm::data::parse_idx_images;
/// // Two 2x3 images: header (magic 2051, count 2, rows 2, cols 3), then 12 pixel bytes.
/// let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
/// bytes.extend(0..12u8);
/// let images = parse_idx_images(&bytes).unwrap();
/// assert_eq!((images.count, images.rows, images.cols), (2, 2, 3));
/// assert_eq!(&images.pixels[6..], &[6, 7, 8, 9, 10, 11]); // the second image
/// assert!(parse_idx_images(&bytes[..20]).is_err()); // truncated
/// ```
pub fn parse_idx_images(bytes: &[u8]) -> Result<IdxImages, IdxError> {
    const HEADER: usize = 16;
    check_header(bytes, IDX_IMAGES_MAGIC, HEADER)?;
    let count = be_u32(bytes, 4) as usize;
    let rows = be_u32(bytes, 8) as usize;
    let cols = be_u32(bytes, 12) as usize;
    let body = count.checked_mul(rows).and_then(|n| n.checked_mul(cols));
    check_body(bytes, HEADER, body)?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes[HEADER..].to_vec(),
    })
}
// ANCHOR_END: parse_idx_images

/// Parses an uncompressed IDX1 label file (magic 2049): an 8-byte big-endian header
/// `magic, count`, then `count` label bytes.
///
/// # Errors
/// [`IdxError::BadMagic`] if the file does not start with 2049 (2051 means an image file was
/// given), [`IdxError::Truncated`] / [`IdxError::TrailingBytes`] if the length is not exactly
/// `8 + count`.
///
/// ```
/// use ddpm::data::parse_idx_labels;
/// let bytes = [0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1];
/// assert_eq!(parse_idx_labels(&bytes).unwrap(), vec![7, 2, 1]);
/// assert!(parse_idx_labels(&bytes[..10]).is_err()); // one label missing
/// ```
pub fn parse_idx_labels(bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    const HEADER: usize = 8;
    check_header(bytes, IDX_LABELS_MAGIC, HEADER)?;
    let count = be_u32(bytes, 4) as usize;
    check_body(bytes, HEADER, Some(count))?;
    Ok(bytes[HEADER..].to_vec())
}

/// The total length, header included, that an IDX file of the given `magic` (2051 images,
/// 2049 labels) starting with `prefix` promises: `16 + count * rows * cols` or `8 + count`.
/// `None` if `prefix` is shorter than the header, has another magic number, or promises more
/// than `usize::MAX` bytes. The loaders use it to read a gzip stream no further than its header
/// says (one byte more, to notice trailing data), so a small compressed file whose header
/// claims 2^32 images, or a "gzip bomb", never makes them allocate beyond what is really there
/// and stated.
///
/// ```
/// use ddpm::data::idx::{stated_len, IDX_IMAGES_MAGIC};
/// let header = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
/// assert_eq!(stated_len(&header, IDX_IMAGES_MAGIC), Some(16 + 2 * 28 * 28));
/// assert_eq!(stated_len(&header[..8], IDX_IMAGES_MAGIC), None); // too short to tell
/// ```
pub fn stated_len(prefix: &[u8], magic: u32) -> Option<usize> {
    let header = match magic {
        IDX_IMAGES_MAGIC => 16,
        IDX_LABELS_MAGIC => 8,
        _ => return None,
    };
    if prefix.len() < header || be_u32(prefix, 0) != magic {
        return None;
    }
    let mut body = 1usize;
    for offset in (4..header).step_by(4) {
        body = body.checked_mul(be_u32(prefix, offset) as usize)?;
    }
    body.checked_add(header)
}

/// Builds the bytes of an IDX3 image file: the inverse of [`parse_idx_images`], used to write
/// datasets and test files.
///
/// # Panics
/// If `pixels.len() != count * rows * cols` or a dimension exceeds `u32::MAX`.
pub fn encode_idx_images(count: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    assert_eq!(pixels.len(), count * rows * cols, "pixel buffer size");
    let mut out = Vec::with_capacity(16 + pixels.len());
    for word in [IDX_IMAGES_MAGIC as usize, count, rows, cols] {
        let word = u32::try_from(word).expect("IDX dimensions fit in u32");
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Builds the bytes of an IDX1 label file: the inverse of [`parse_idx_labels`].
///
/// # Panics
/// If there are more than `u32::MAX` labels.
pub fn encode_idx_labels(labels: &[u8]) -> Vec<u8> {
    let count = u32::try_from(labels.len()).expect("IDX count fits in u32");
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&IDX_LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(labels);
    out
}
