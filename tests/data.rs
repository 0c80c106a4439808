//! Tests of the data layer: the IDX parser, the embedded MNIST subset, folder loading (gzip
//! and raw), every bad-data error, `--data` parsing, the cache folder, and the download path
//! against a local HTTP server on 127.0.0.1 (no internet needed).
//!
//! The download tests need the `download` feature (on by default); without it their helpers
//! are unused, hence the `allow` below.
#![cfg_attr(not(feature = "download"), allow(dead_code, unused_imports))]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ddpm::data::{
    DataError, DataSource, FileStatus, IdxError, ImageSet, RemoteFile, Split, download,
    embedded_gz, idx, load, load_dir, load_embedded, mnist_cache_dir_from, parse_idx_images,
    parse_idx_labels,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A fresh, empty folder under the system temp dir, unique to this process and test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ddpm-data-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes the embedded subset's four files into `dir`: gzip as shipped, or decompressed.
fn write_embedded(dir: &Path, raw: bool) {
    for split in [Split::Train, Split::Test] {
        let (images, labels) = embedded_gz(split);
        for (stem, bytes) in [(split.images_file(), images), (split.labels_file(), labels)] {
            if raw {
                std::fs::write(dir.join(stem), gunzip(bytes)).unwrap();
            } else {
                std::fs::write(dir.join(format!("{stem}.gz")), bytes).unwrap();
            }
        }
    }
}

fn sorted_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------
// The embedded subset
// ---------------------------------------------------------------------------------------

/// Class counts of all 10,000 digits, from `data/mnist-10k/README.md`.
const README_CLASS_COUNTS: [usize; 10] = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

#[test]
fn embedded_subset_has_the_documented_counts() {
    let train = load_embedded(Split::Train).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    assert_eq!(train.len(), 7_996);
    assert_eq!(test.len(), 2_004);
    for set in [&train, &test] {
        assert_eq!((set.rows, set.cols), (28, 28));
        assert_eq!(set.images.len(), set.len() * 784);
        assert!(set.labels.iter().all(|&l| l < 10));
        set.require_size(28, 28).unwrap();
    }
    let train_counts = train.class_counts();
    let test_counts = test.class_counts();
    for k in 0..10 {
        // README: all 10,000 per class ...
        assert_eq!(
            train_counts[k] + test_counts[k],
            README_CLASS_COUNTS[k],
            "class {k}"
        );
        // ... and "per class, the first 80% went to train": floor(0.8 * count).
        assert_eq!(
            train_counts[k],
            README_CLASS_COUNTS[k] * 8 / 10,
            "class {k}"
        );
    }
}

#[test]
fn embedded_subset_matches_an_independent_reading() {
    // Reference values computed with Python's gzip module on data/mnist-10k (not with this
    // crate): `im = gzip.open(f).read()[16:]; sum(im); sum(im[:784])`, labels `lb[8:][:10]`.
    let train = load_embedded(Split::Train).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let sum = |s: &ImageSet| s.images.iter().map(|&b| u64::from(b)).sum::<u64>();
    assert_eq!(sum(&train), 209_225_317);
    assert_eq!(sum(&test), 52_921_283);
    let first_sum = |s: &ImageSet| s.image(0).iter().map(|&b| u64::from(b)).sum::<u64>();
    assert_eq!(first_sum(&train), 25_424);
    assert_eq!(first_sum(&test), 27_255);
    assert_eq!(&train.labels[..10], &[8, 8, 8, 4, 2, 0, 2, 7, 0, 9]);
    assert_eq!(&test.labels[..10], &[3, 5, 0, 3, 7, 6, 9, 1, 3, 8]);
    // MNIST's mean pixel intensity is 0.1307 (the constant of the PyTorch MNIST example);
    // the subset is close to it.
    let mean = sum(&train) as f64 / train.images.len() as f64 / 255.0;
    assert!((mean - 0.1307).abs() < 0.005, "mean {mean}");
}

#[test]
fn embedded_files_are_the_shipped_bytes() {
    // `sha256sum data/mnist-10k/*.gz`, run by hand when this test was written.
    let expected = [
        (
            Split::Train,
            "973f63dca1f4314d5a35d23a318e61bdb59e6f0cd48ca6991706b40f36947c31",
            "a8a25cc4aa64cd9531afa3478685feb57614abd1e1c2b7580108de6a67923e02",
        ),
        (
            Split::Test,
            "982cf0c0e17e1b7023bcf297afb3425d107fbd516c98529aeba184afad004982",
            "0e1be644f603b770b5322c29f01e3192a9f30d704878a9ab0d0b55cda43a826c",
        ),
    ];
    for (split, images_sha, labels_sha) in expected {
        let (images, labels) = embedded_gz(split);
        assert_eq!(sha256_hex(images), images_sha);
        assert_eq!(sha256_hex(labels), labels_sha);
    }
}

#[test]
fn scaling_to_model_range() {
    let set = ImageSet {
        images: vec![0, 255, 51, 102, 0, 0, 255, 255],
        labels: vec![3, 1],
        rows: 2,
        cols: 2,
    };
    assert_eq!(set.to_unit_interval(0), vec![0.0, 1.0, 0.2, 0.4]);
    let x = set.to_symmetric_interval(0);
    assert_eq!(x[0], -1.0);
    assert_eq!(x[1], 1.0);
    approx::assert_abs_diff_eq!(x[2], -0.6, epsilon = 1e-6);
    let batch = set.symmetric_batch(&[1, 0]);
    assert_eq!(batch.len(), 8);
    assert_eq!(&batch[..4], &[-1.0, -1.0, 1.0, 1.0]);
    assert_eq!(&batch[4..], &x[..]);
    assert_eq!(set.class_counts(), vec![0, 1, 0, 1]);

    let one = set.clone().take(1);
    assert_eq!((one.len(), one.images.len(), one.label(0)), (1, 4, 3));
    assert_eq!(set.clone().take(10), set); // more than there are: all of them
    assert!(set.take(0).is_empty());
}

// ---------------------------------------------------------------------------------------
// Folders: gzip, raw, Fashion-MNIST style
// ---------------------------------------------------------------------------------------

#[test]
fn gzip_and_raw_folders_give_identical_sets() {
    let gz_dir = temp_dir("gz");
    let raw_dir = temp_dir("raw");
    write_embedded(&gz_dir, false);
    write_embedded(&raw_dir, true);
    for split in [Split::Train, Split::Test] {
        let embedded = load_embedded(split).unwrap();
        assert_eq!(load_dir(&gz_dir, split).unwrap(), embedded);
        assert_eq!(load_dir(&raw_dir, split).unwrap(), embedded);
        let source = DataSource::Dir(raw_dir.clone());
        assert_eq!(load(&source, split).unwrap(), embedded);
    }
    std::fs::remove_dir_all(gz_dir).unwrap();
    std::fs::remove_dir_all(raw_dir).unwrap();
}

#[test]
fn fashion_mnist_style_folder_loads() {
    // Fashion-MNIST ships the same four file names; here a raw folder with other contents
    // and the dotted spelling `t10k-images.idx3-ubyte` that some copies use.
    let dir = temp_dir("fashion");
    let pixels: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(
        dir.join("t10k-images.idx3-ubyte"),
        idx::encode_idx_images(3, 4, 5, &pixels),
    )
    .unwrap();
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        idx::encode_idx_labels(&[9, 0, 7]),
    )
    .unwrap();
    let set = load_dir(&dir, Split::Test).unwrap();
    assert_eq!((set.len(), set.rows, set.cols), (3, 4, 5));
    assert_eq!(set.labels, vec![9, 0, 7]);
    assert_eq!(set.image(2), &pixels[40..60]);
    // The U-Net needs 28x28: the size check says so.
    let err = set.require_size(28, 28).unwrap_err();
    assert!(matches!(
        err,
        DataError::WrongSize {
            expected_rows: 28,
            expected_cols: 28,
            rows: 4,
            cols: 5
        }
    ));
    assert!(err.to_string().contains("4x5"), "{err}");
    // The train split is absent: the error names the missing file and the folder.
    let err = load_dir(&dir, Split::Train).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }));
    let msg = err.to_string();
    assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn system_fashion_mnist_if_present() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.is_dir() {
        println!(
            "note: {} not present, skipping this optional test",
            dir.display()
        );
        return;
    }
    let train = load_dir(dir, Split::Train).unwrap();
    let test = load_dir(dir, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    train.require_size(28, 28).unwrap();
    assert_eq!(train.class_counts(), vec![6_000; 10]); // Fashion-MNIST is balanced
}

// ---------------------------------------------------------------------------------------
// Every bad-data case: right variant, message names the file
// ---------------------------------------------------------------------------------------

/// A folder holding a valid raw test split of the embedded subset, to be corrupted.
fn raw_test_split(name: &str) -> (PathBuf, Vec<u8>, Vec<u8>) {
    let dir = temp_dir(name);
    let (images, labels) = embedded_gz(Split::Test);
    let (images, labels) = (gunzip(images), gunzip(labels));
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    (dir, images, labels)
}

#[test]
fn missing_file_lists_the_expected_names() {
    let dir = temp_dir("missing");
    let err = load_dir(&dir, Split::Test).unwrap_err();
    let DataError::MissingFile { file, .. } = &err else {
        panic!("wrong variant: {err:?}");
    };
    assert_eq!(file, "t10k-images-idx3-ubyte");
    let msg = err.to_string();
    for name in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        assert!(msg.contains(name), "{msg}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn wrong_magic_is_reported_with_the_file_name() {
    let (dir, _, labels) = raw_test_split("magic");
    // A labels file where the images file should be: magic 2049 instead of 2051.
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &labels).unwrap();
    let err = load_dir(&dir, Split::Test).unwrap_err();
    assert!(matches!(
        err,
        DataError::BadMagic {
            expected: 2051,
            found: 2049,
            ..
        }
    ));
    let msg = err.to_string();
    assert!(msg.contains("expected IDX magic 2051 in"), "{msg}");
    assert!(msg.contains("t10k-images-idx3-ubyte"), "{msg}");
    assert!(msg.contains("swapped"), "{msg}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn truncated_file_says_how_many_bytes() {
    let (dir, images, _) = raw_test_split("truncated");
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte"),
        &images[..images.len() - 100],
    )
    .unwrap();
    let err = load_dir(&dir, Split::Test).unwrap_err();
    let expected = 16 + 2_004 * 784;
    match &err {
        DataError::Truncated {
            file,
            expected: e,
            found,
        } => {
            assert!(file.ends_with("t10k-images-idx3-ubyte"), "{file}");
            assert_eq!((*e, *found), (expected, expected - 100));
        }
        other => panic!("wrong variant: {other:?}"),
    }
    assert!(err.to_string().contains(&expected.to_string()));
    // A header cut short is truncated too.
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images[..10]).unwrap();
    let err = load_dir(&dir, Split::Test).unwrap_err();
    assert!(matches!(
        err,
        DataError::Truncated {
            expected: 16,
            found: 10,
            ..
        }
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn trailing_bytes_are_an_error() {
    let (dir, _, mut labels) = raw_test_split("trailing");
    labels.extend_from_slice(&[1, 2, 3]);
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    let err = load_dir(&dir, Split::Test).unwrap_err();
    match &err {
        DataError::TrailingBytes {
            file,
            expected,
            found,
        } => {
            assert!(file.ends_with("t10k-labels-idx1-ubyte"), "{file}");
            assert_eq!((*expected, *found), (8 + 2_004, 8 + 2_007));
        }
        other => panic!("wrong variant: {other:?}"),
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn count_mismatch_names_both_files() {
    let (dir, _, _) = raw_test_split("count");
    // The training labels (7,996) with the test images (2,004).
    let (_, train_labels) = embedded_gz(Split::Train);
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), gunzip(train_labels)).unwrap();
    let err = load_dir(&dir, Split::Test).unwrap_err();
    assert!(matches!(
        err,
        DataError::CountMismatch {
            images: 2_004,
            labels: 7_996,
            ..
        }
    ));
    let msg = err.to_string();
    assert!(msg.contains("t10k-images-idx3-ubyte") && msg.contains("t10k-labels-idx1-ubyte"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_gzip_is_reported_with_the_file_name() {
    let dir = temp_dir("badgz");
    let (images, labels) = embedded_gz(Split::Test);
    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), labels).unwrap();
    // A gzip stream cut in half.
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte.gz"),
        &images[..images.len() / 2],
    )
    .unwrap();
    let err = load_dir(&dir, Split::Test).unwrap_err();
    let DataError::BadGzip { file, .. } = &err else {
        panic!("wrong variant: {err:?}");
    };
    assert!(file.ends_with("t10k-images-idx3-ubyte.gz"), "{file}");
    // A file named .gz that is not gzip at all.
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), b"not gzip").unwrap();
    let err = load_dir(&dir, Split::Test).unwrap_err();
    assert!(matches!(err, DataError::BadGzip { .. }), "{err:?}");
    assert!(err.to_string().contains("t10k-images-idx3-ubyte.gz"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn doubly_compressed_file_gets_a_hint() {
    let (dir, images, _) = raw_test_split("double-gz");
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), gzip(&gzip(&images))).unwrap();
    std::fs::remove_file(dir.join("t10k-images-idx3-ubyte")).unwrap();
    let err = load_dir(&dir, Split::Test).unwrap_err();
    assert!(
        matches!(err, DataError::BadMagic { expected: 2051, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("compressed twice"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gzip_is_recognised_by_content_not_name() {
    // A gzip stream stored without the .gz suffix still loads.
    let dir = temp_dir("gz-by-content");
    let (images, labels) = embedded_gz(Split::Test);
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), images).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), labels).unwrap();
    assert_eq!(
        load_dir(&dir, Split::Test).unwrap(),
        load_embedded(Split::Test).unwrap()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// The parser on bytes
// ---------------------------------------------------------------------------------------

#[test]
fn parser_reads_a_hand_written_file() {
    // Header written out byte by byte (big-endian): magic 2051 = 0x00000803, 1 image,
    // 2 rows, 2 cols.
    let bytes = [
        0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 10, 20, 30, 40,
    ];
    let images = parse_idx_images(&bytes).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (1, 2, 2));
    assert_eq!(images.pixels, vec![10, 20, 30, 40]);
    // The same header little-endian is not IDX.
    let little = [
        3, 8, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 10, 20, 30, 40,
    ];
    let err = parse_idx_images(&little).unwrap_err();
    assert_eq!(
        err,
        IdxError::BadMagic {
            expected: 2051,
            found: 0x0308_0000
        }
    );
    assert!(err.in_file("x").to_string().contains("big-endian"));
    // Empty input and a labels file given as images.
    assert!(matches!(
        parse_idx_images(&[]),
        Err(IdxError::Truncated {
            expected: 16,
            found: 0
        })
    ));
    assert!(matches!(
        parse_idx_labels(&[0, 0, 8, 3, 0, 0, 0, 0]),
        Err(IdxError::BadMagic {
            expected: 2049,
            found: 2051
        })
    ));
    // A header promising more than fits in memory is truncated, not a panic.
    let huge = [
        0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    ];
    assert!(matches!(
        parse_idx_images(&huge),
        Err(IdxError::Truncated { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn encode_then_parse_round_trips(
        count in 0usize..5, rows in 0usize..6, cols in 0usize..6, seed in any::<u8>(),
    ) {
        let pixels: Vec<u8> = (0..count * rows * cols)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        let images = parse_idx_images(&idx::encode_idx_images(count, rows, cols, &pixels))
            .unwrap();
        prop_assert_eq!((images.count, images.rows, images.cols), (count, rows, cols));
        prop_assert_eq!(images.pixels, pixels);
        let labels: Vec<u8> = (0..count).map(|i| i as u8 ^ seed).collect();
        prop_assert_eq!(parse_idx_labels(&idx::encode_idx_labels(&labels)).unwrap(), labels);
    }

    #[test]
    fn any_cut_of_a_valid_file_is_truncated(cut in 0usize..(16 + 3 * 4 * 4)) {
        let bytes = idx::encode_idx_images(3, 4, 4, &[7; 48]);
        let is_truncated = matches!(
            parse_idx_images(&bytes[..cut]),
            Err(IdxError::Truncated { .. })
        );
        prop_assert!(is_truncated);
    }
}

// ---------------------------------------------------------------------------------------
// --data parsing and the cache folder
// ---------------------------------------------------------------------------------------

#[test]
fn data_source_parses_from_the_cli_string() {
    assert_eq!(
        "embedded".parse::<DataSource>().unwrap(),
        DataSource::Embedded
    );
    assert_eq!(
        "Embedded".parse::<DataSource>().unwrap(),
        DataSource::Embedded
    );
    assert_eq!(
        "mnist".parse::<DataSource>().unwrap(),
        DataSource::MnistDownload
    );
    assert_eq!(
        "./mnist".parse::<DataSource>().unwrap(),
        DataSource::Dir(PathBuf::from("./mnist"))
    );
    assert_eq!(
        "/data/fashion".parse::<DataSource>().unwrap(),
        DataSource::Dir(PathBuf::from("/data/fashion"))
    );
    assert!(matches!(
        "  ".parse::<DataSource>(),
        Err(DataError::InvalidSource { .. })
    ));
    assert_eq!(DataSource::default(), DataSource::Embedded);
    // Display gives back a string that parses to the same source.
    for s in [
        DataSource::Embedded,
        DataSource::MnistDownload,
        DataSource::Dir("/x/y".into()),
    ] {
        assert_eq!(s.to_string().parse::<DataSource>().unwrap(), s);
    }
}

#[test]
fn cache_dir_follows_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| std::ffi::OsString::from(v))
        }
    };
    let all = env(&[
        ("DDPM_DATA_DIR", "/d"),
        ("XDG_CACHE_HOME", "/x"),
        ("HOME", "/h"),
    ]);
    assert_eq!(
        mnist_cache_dir_from(all).unwrap(),
        PathBuf::from("/d/mnist")
    );
    let xdg = env(&[
        ("DDPM_DATA_DIR", ""),
        ("XDG_CACHE_HOME", "/x"),
        ("HOME", "/h"),
    ]);
    assert_eq!(
        mnist_cache_dir_from(xdg).unwrap(),
        PathBuf::from("/x/ddpm/mnist")
    );
    let home = env(&[("HOME", "/h")]);
    assert_eq!(
        mnist_cache_dir_from(home).unwrap(),
        PathBuf::from("/h/.cache/ddpm/mnist")
    );
    assert!(matches!(
        mnist_cache_dir_from(env(&[])),
        Err(DataError::NoCacheDir)
    ));
}

// ---------------------------------------------------------------------------------------
// Download against a local HTTP server
// ---------------------------------------------------------------------------------------

/// How the test server answers a path.
#[derive(Clone)]
enum Reply {
    /// 200 with these bytes.
    Ok(Vec<u8>),
    /// 200 announcing `Content-Length` of the full bytes, but closing after `sent` bytes.
    CutShort { bytes: Vec<u8>, sent: usize },
}

struct TestServer {
    base: String,
    requests: Arc<AtomicUsize>,
}

/// Serves `routes` (path such as `/mnist/x.gz` -> reply; anything else is 404) over plain
/// HTTP/1.1 on 127.0.0.1, one request per connection, in a detached thread that stops
/// after 60 s or 100 connections.
fn serve(routes: HashMap<String, Reply>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}/mnist/", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut served = 0;
        while served < 100 && Instant::now() < deadline {
            let mut stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                Err(_) => break,
            };
            served += 1;
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            // Read the request head (bounded to 8 KiB).
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while head.len() < 8192 && !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let head = String::from_utf8_lossy(&head);
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let _ = match routes.get(&path) {
                Some(Reply::Ok(bytes)) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\
                             Content-Type: application/gzip\r\nConnection: close\r\n\r\n",
                            bytes.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| stream.write_all(bytes)),
                Some(Reply::CutShort { bytes, sent }) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            bytes.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| stream.write_all(&bytes[..*sent])),
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
                ),
            };
            let _ = stream.flush();
        }
    });
    TestServer { base, requests }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The embedded subset's four gz files, as (name, bytes, sha256) for a test table.
fn embedded_files() -> Vec<(String, Vec<u8>, String)> {
    let mut out = Vec::new();
    for split in [Split::Train, Split::Test] {
        let (images, labels) = embedded_gz(split);
        for (stem, bytes) in [(split.images_file(), images), (split.labels_file(), labels)] {
            out.push((format!("{stem}.gz"), bytes.to_vec(), sha256_hex(bytes)));
        }
    }
    out
}

fn table(files: &[(String, Vec<u8>, String)]) -> Vec<RemoteFile<'_>> {
    files
        .iter()
        .map(|(name, bytes, sha)| RemoteFile {
            name,
            size: bytes.len() as u64,
            sha256: sha,
        })
        .collect()
}

fn all_routes(files: &[(String, Vec<u8>, String)]) -> HashMap<String, Reply> {
    files
        .iter()
        .map(|(name, bytes, _)| (format!("/mnist/{name}"), Reply::Ok(bytes.clone())))
        .collect()
}

#[cfg(feature = "download")]
#[test]
fn download_fetches_verifies_and_then_skips() {
    let files = embedded_files();
    let server = serve(all_routes(&files));
    let dir = temp_dir("download-ok");
    let statuses = download(&[&server.base], &table(&files), &dir, false).unwrap();
    assert_eq!(statuses.len(), 4);
    for (status, (name, bytes, _)) in statuses.iter().zip(&files) {
        assert_eq!(
            status,
            &FileStatus::Downloaded {
                url: format!("{}{name}", server.base)
            }
        );
        assert_eq!(&std::fs::read(dir.join(name)).unwrap(), bytes);
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 4);
    // Only the four files, no temporary left over; and the folder loads.
    let names: Vec<String> = files.iter().map(|(n, _, _)| n.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted_listing(&dir), sorted);
    assert_eq!(
        load_dir(&dir, Split::Test).unwrap(),
        load_embedded(Split::Test).unwrap()
    );

    // Second run: everything verified on disk, nothing requested.
    let statuses = download(&[&server.base], &table(&files), &dir, false).unwrap();
    assert!(statuses.iter().all(|s| *s == FileStatus::AlreadyVerified));
    assert_eq!(server.requests.load(Ordering::SeqCst), 4);

    // A damaged cached file is fetched again; the intact ones are not.
    let damaged = dir.join(&files[3].0);
    std::fs::write(&damaged, b"garbage").unwrap();
    let statuses = download(&[&server.base], &table(&files), &dir, false).unwrap();
    assert!(
        statuses[..3]
            .iter()
            .all(|s| *s == FileStatus::AlreadyVerified)
    );
    assert!(matches!(statuses[3], FileStatus::Downloaded { .. }));
    assert_eq!(std::fs::read(&damaged).unwrap(), files[3].1);
    assert_eq!(server.requests.load(Ordering::SeqCst), 5);
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(feature = "download")]
#[test]
fn download_rejects_a_checksum_mismatch_and_keeps_nothing() {
    let files = embedded_files();
    let server = serve(all_routes(&files));
    let dir = temp_dir("download-sha");
    let wrong = "0".repeat(64);
    let bad = [RemoteFile {
        name: &files[1].0,
        size: files[1].1.len() as u64,
        sha256: &wrong,
    }];
    let err = download(&[&server.base], &bad, &dir, false).unwrap_err();
    match &err {
        DataError::ChecksumMismatch {
            file, found_sha256, ..
        } => {
            assert_eq!(file, &files[1].0);
            assert_eq!(found_sha256, &files[1].2);
        }
        other => panic!("wrong variant: {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&files[1].0) && msg.contains(&wrong), "{msg}");
    assert!(
        sorted_listing(&dir).is_empty(),
        "{:?}",
        sorted_listing(&dir)
    );

    // The server sends the announced number of bytes, but the wrong ones.
    let mut routes = all_routes(&files);
    let mut corrupt = files[3].1.clone();
    corrupt[100] ^= 0xff;
    routes.insert(format!("/mnist/{}", files[3].0), Reply::Ok(corrupt));
    let server = serve(routes);
    let err = download(&[&server.base], &table(&files)[3..], &dir, false).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err:?}");
    assert!(sorted_listing(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(feature = "download")]
#[test]
fn download_reports_http_404() {
    let files = embedded_files();
    let server = serve(HashMap::new());
    let dir = temp_dir("download-404");
    let err = download(&[&server.base], &table(&files)[..1], &dir, false).unwrap_err();
    match &err {
        DataError::HttpStatus { url, status } => {
            assert_eq!(*status, 404);
            assert!(url.ends_with(&files[0].0), "{url}");
        }
        other => panic!("wrong variant: {other:?}"),
    }
    assert!(err.to_string().contains("HTTP 404"));
    assert!(sorted_listing(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(feature = "download")]
#[test]
fn download_reports_an_interrupted_transfer() {
    let files = embedded_files();
    let mut routes = HashMap::new();
    let (name, bytes, _) = &files[0];
    routes.insert(
        format!("/mnist/{name}"),
        Reply::CutShort {
            bytes: bytes.clone(),
            sent: 1000,
        },
    );
    let server = serve(routes);
    let dir = temp_dir("download-cut");
    let err = download(&[&server.base], &table(&files)[..1], &dir, false).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Network { .. }
                | DataError::ChecksumMismatch {
                    found_size: 1000,
                    ..
                }
        ),
        "{err:?}"
    );
    assert!(sorted_listing(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(feature = "download")]
#[test]
fn download_falls_back_to_the_next_mirror() {
    let files = embedded_files();
    let empty = serve(HashMap::new());
    let good = serve(all_routes(&files));
    let dir = temp_dir("download-mirrors");
    let statuses = download(&[&empty.base, &good.base], &table(&files)[2..], &dir, false).unwrap();
    assert_eq!(
        statuses[0],
        FileStatus::Downloaded {
            url: format!("{}{}", good.base, files[2].0)
        }
    );
    // Both mirrors failing: one error per mirror.
    let other_dir = temp_dir("download-mirrors-fail");
    let err = download(
        &[&empty.base, &empty.base],
        &table(&files)[..1],
        &other_dir,
        false,
    )
    .unwrap_err();
    match &err {
        DataError::AllMirrorsFailed { file, errors } => {
            assert_eq!(file, &files[0].0);
            assert_eq!(errors.len(), 2);
        }
        other => panic!("wrong variant: {other:?}"),
    }
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(other_dir).unwrap();
}

#[test]
fn mnist_table_is_well_formed() {
    use ddpm::data::{MNIST_FILES, MNIST_MIRRORS};
    // The cached files must be the names `load_dir` looks for.
    let mut names: Vec<String> = [Split::Train, Split::Test]
        .iter()
        .flat_map(|s| {
            [
                format!("{}.gz", s.images_file()),
                format!("{}.gz", s.labels_file()),
            ]
        })
        .collect();
    names.sort();
    let mut table: Vec<String> = MNIST_FILES.iter().map(|f| f.name.to_string()).collect();
    table.sort();
    assert_eq!(table, names);
    for f in MNIST_FILES {
        assert_eq!(f.sha256.len(), 64, "{}", f.name);
        assert!(
            f.sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert!(f.size > 0);
    }
    assert!(
        MNIST_MIRRORS
            .iter()
            .all(|m| m.starts_with("https://") && m.ends_with('/'))
    );
}
