//! Fuzzed readers (issue 21): the IDX reader (raw and gzip), `config.json`, a checkpoint's
//! `state.json`, and the weights and optimiser files (burnpack) are fed arbitrary bytes and
//! structured mutations of valid files: bit flips, truncations, header fields set to huge
//! values, inserted and deleted chunks, appended junk, numbers in JSON replaced by extreme
//! ones. Every input must give `Ok` or a typed error, never a panic, and the reader must not
//! allocate beyond what the input holds and states (measured by a counting allocator, per
//! thread). Where the result can be predicted independently, it is checked too: an IDX file
//! parses exactly when its length is the header's `16 + count * rows * cols`; a mutation of a
//! checksummed `config.json` that changes its JSON value is refused; a mutation of a
//! checksummed weights file that loads gives back the original weights.
//!
//! The tests here run a fixed number of mutations from a fixed seed, in the check (a few
//! seconds). `scripts/fuzz.sh` runs the same fuzzers for a fixed time each (the ignored test
//! `fuzz_budget`, `DDPM_FUZZ_SECONDS` per target) and reports executions and crashes; the book's
//! appendix "Hostile inputs" quotes its run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use ddpm::data::{DataError, read_idx_images, read_idx_labels, stated_len};
use ddpm::network::{UNet, UNetConfig};
use ddpm::workflows::checkpoint::{
    TrainState, load_module_from_bytes, load_optimizer_from_bytes, optimizer, parse_config,
    parse_state,
};
use ddpm::workflows::files::to_json_checked;
use ddpm::workflows::{ScheduleConfig, TrainingConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

// ---------------------------------------------------------------------------------------
// A counting allocator: bytes live and the peak, per thread.
// ---------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(delta);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are
// thread-local `Cell`s with const initialisers, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the most bytes it had allocated at once (on this
/// thread, above what was live when it started).
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, (peak - start).max(0) as usize)
}

// ---------------------------------------------------------------------------------------
// The fuzzer: mutations of seed inputs, a fixed number or for a fixed time.
// ---------------------------------------------------------------------------------------

/// How long a fuzzer runs.
#[derive(Clone, Copy)]
enum Budget {
    Executions(u64),
    Time(Duration),
}

/// What a fuzzer did.
#[derive(Debug, Default)]
struct Stats {
    executions: u64,
    accepted: u64,
    refused: u64,
    crashes: u64,
    /// The largest ratio of bytes allocated to the bound allowed for that input.
    worst_allocation_ratio: f64,
    first_crash: Option<String>,
}

/// Big-endian words a hostile header may carry.
const HUGE: [u32; 8] = [0, 1, 28, 255, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 60_000];

/// One random mutation of `seed`.
fn mutate(seed: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    match rng.random_range(0..9) {
        // Arbitrary bytes.
        0 => {
            let n = rng.random_range(0..96);
            b = (0..n).map(|_| rng.random()).collect();
        }
        // Bit flips.
        1 | 2 if !b.is_empty() => {
            for _ in 0..rng.random_range(1..=8) {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
        }
        // Truncation.
        3 if !b.is_empty() => {
            let cut = rng.random_range(0..b.len());
            b.truncate(cut);
        }
        // A header word (IDX: count, rows, cols) set to an extreme value.
        4 if b.len() >= 16 => {
            let at = 4 * rng.random_range(0..4);
            let word = HUGE[rng.random_range(0..HUGE.len())];
            b[at..at + 4].copy_from_slice(&word.to_be_bytes());
        }
        // A chunk deleted.
        5 if b.len() > 2 => {
            let i = rng.random_range(0..b.len() - 1);
            let n = rng.random_range(1..=(b.len() - i).min(64));
            b.drain(i..i + n);
        }
        // A chunk duplicated in place.
        6 if !b.is_empty() => {
            let i = rng.random_range(0..b.len());
            let n = rng.random_range(1..=(b.len() - i).min(64));
            let chunk = b[i..i + n].to_vec();
            b.splice(i..i, chunk);
        }
        // Junk appended.
        7 => {
            let n = rng.random_range(1..64);
            b.extend((0..n).map(|_| rng.random::<u8>()));
        }
        // A number in a text file replaced by an extreme one (JSON), or a random byte set.
        _ => {
            let text = String::from_utf8_lossy(&b).into_owned();
            let digits: Vec<usize> = text
                .char_indices()
                .filter(|(i, c)| {
                    c.is_ascii_digit() && (*i == 0 || !text.as_bytes()[i - 1].is_ascii_digit())
                })
                .map(|(i, _)| i)
                .collect();
            if digits.is_empty() || text.len() != b.len() {
                if !b.is_empty() {
                    let i = rng.random_range(0..b.len());
                    b[i] = rng.random();
                }
            } else {
                let start = digits[rng.random_range(0..digits.len())];
                let end = text[start..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-'))
                    .map_or(text.len(), |n| start + n);
                const EXTREME: [&str; 10] = [
                    "0",
                    "-1",
                    "1e999",
                    "-1e999",
                    "NaN",
                    "18446744073709551616",
                    "18446744073709551615",
                    "4294967296",
                    "1e-320",
                    "1000000000000",
                ];
                let with = EXTREME[rng.random_range(0..EXTREME.len())];
                b = format!("{}{with}{}", &text[..start], &text[end..]).into_bytes();
            }
        }
    }
    b
}

/// Runs `target` on mutations of `seeds` (the seeds themselves first). `target` returns
/// whether the input was accepted, or panics (via `assert!`) when an independent check fails;
/// `bound` is the most bytes the target may allocate for an input. Panics are caught and
/// counted as crashes.
fn fuzz(
    seeds: &[Vec<u8>],
    budget: Budget,
    rng_seed: u64,
    bound: &dyn Fn(&[u8]) -> usize,
    target: &dyn Fn(&[u8]) -> bool,
) -> Stats {
    let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
    let mut stats = Stats::default();
    let started = Instant::now();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // crashes are counted, not printed
    loop {
        let done = match budget {
            Budget::Executions(n) => stats.executions >= n,
            Budget::Time(t) => started.elapsed() >= t,
        };
        if done {
            break;
        }
        let i = stats.executions as usize;
        let input = if i < seeds.len() {
            seeds[i].clone()
        } else {
            let seed = &seeds[rng.random_range(0..seeds.len())];
            let mut input = mutate(seed, &mut rng);
            if rng.random_range(0..4) == 0 {
                input = mutate(&input, &mut rng); // two mutations stacked
            }
            input
        };
        let limit = bound(&input);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            peak_bytes(|| target(&input))
        }));
        stats.executions += 1;
        match result {
            Ok((accepted, peak)) => {
                if accepted {
                    stats.accepted += 1;
                } else {
                    stats.refused += 1;
                }
                if peak > limit && std::env::var("DDPM_FUZZ_DEBUG").is_ok() {
                    let head: String = input.iter().take(32).map(|b| format!("{b:02x}")).collect();
                    eprintln!(
                        "over: input {} bytes, peak {peak}, limit {limit}, accepted {accepted}, head {head}",
                        input.len()
                    );
                }
                stats.worst_allocation_ratio =
                    stats.worst_allocation_ratio.max(peak as f64 / limit as f64);
            }
            Err(payload) => {
                stats.crashes += 1;
                if stats.first_crash.is_none() {
                    let message = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let head: String = input.iter().take(48).map(|b| format!("{b:02x}")).collect();
                    stats.first_crash = Some(format!(
                        "{message} (input of {} bytes starting {head})",
                        input.len()
                    ));
                }
            }
        }
    }
    std::panic::set_hook(previous_hook);
    stats
}

/// Asserts that a fuzzer found no crash and stayed within its allocation bound.
fn assert_clean(name: &str, stats: &Stats) {
    assert_eq!(
        stats.crashes,
        0,
        "{name}: {} crashes in {} inputs, the first: {}",
        stats.crashes,
        stats.executions,
        stats.first_crash.as_deref().unwrap_or("")
    );
    assert!(
        stats.worst_allocation_ratio <= 1.0,
        "{name}: an input made the reader allocate {:.2}x its bound",
        stats.worst_allocation_ratio
    );
    assert!(
        stats.refused > 0,
        "{name}: no mutation was refused: {stats:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Targets.
// ---------------------------------------------------------------------------------------

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Small valid IDX files: images (several sizes) and labels, raw.
fn idx_seeds(images: bool) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (count, rows, cols) in [
        (0usize, 28usize, 28usize),
        (1, 2, 3),
        (3, 4, 4),
        (2, 28, 28),
    ] {
        if images {
            let pixels: Vec<u8> = (0..count * rows * cols).map(|i| (i * 37) as u8).collect();
            seeds.push(ddpm::data::idx::encode_idx_images(
                count, rows, cols, &pixels,
            ));
        } else {
            let labels: Vec<u8> = (0..count * 3).map(|i| (i % 10) as u8).collect();
            seeds.push(ddpm::data::idx::encode_idx_labels(&labels));
        }
    }
    seeds
}

/// The IDX target: raw or gzip (`gz` also gzips each mutated raw input, and half the time
/// mutates the gzip bytes instead). Checks the outcome against the header, read here
/// independently of the crate.
fn idx_target(images: bool, input: &[u8]) -> bool {
    let (magic, header) = if images {
        (2051u32, 16usize)
    } else {
        (2049, 8)
    };
    let result: Result<usize, DataError> = if images {
        read_idx_images(input, "fuzz", false).map(|i| i.pixels.len())
    } else {
        read_idx_labels(input, "fuzz", false).map(|l| l.len())
    };
    // Independent reading of the header: big-endian words after the magic.
    let word = |at: usize| u32::from_be_bytes(input[at..at + 4].try_into().unwrap()) as u128;
    let expected_len = (input.len() >= header && word(0) == magic as u128).then(|| {
        (4..header)
            .step_by(4)
            .map(word)
            .product::<u128>()
            .saturating_add(header as u128)
    });
    let valid = expected_len == Some(input.len() as u128);
    match result {
        Ok(n) => {
            assert!(valid, "accepted an input whose length is not the header's");
            assert_eq!(n, input.len() - header);
            true
        }
        Err(e) => {
            assert!(!valid, "refused a valid input: {e}");
            let named = e.to_string();
            assert!(
                named.contains("fuzz"),
                "the error does not name the file: {named}"
            );
            false
        }
    }
}

/// The gzip IDX target: whatever the bytes, the reader allocates no more than their
/// decompressed size allows, and agrees with the raw reader on the decompressed bytes.
fn idx_gz_target(images: bool, input: &[u8]) -> bool {
    let result = if images {
        read_idx_images(input, "fuzz.gz", true).map(|i| i.pixels.len())
    } else {
        read_idx_labels(input, "fuzz.gz", true).map(|l| l.len())
    };
    result.is_ok()
}

/// Allocation bound of the raw IDX reader: the input's length (the pixels are copied once).
/// An input that starts with gzip's magic bytes (1f 8b) is decompressed instead (the reader
/// tells the two apart by them), so it gets the gzip reader's bound.
fn idx_bound(images: bool, input: &[u8]) -> usize {
    if input.starts_with(&[0x1f, 0x8b]) {
        idx_gz_bound(images, input)
    } else {
        input.len() + 4096
    }
}

/// Allocation bound of the gzip IDX reader: twice (a growing buffer) what it may decompress,
/// the least of the header's stated length and the real decompressed length, plus the
/// inflater's own state.
fn idx_gz_bound(images: bool, input: &[u8]) -> usize {
    let magic = if images { 2051 } else { 2049 };
    let mut decoder = flate2::read::MultiGzDecoder::new(input);
    let mut head = Vec::new();
    let _ = (&mut decoder).take(16).read_to_end(&mut head);
    // The bytes that decompress before the stream ends or turns out corrupt: the reader holds
    // those before it can tell (io::copy's count would be lost with its error).
    let mut real = head.len();
    let mut chunk = vec![0u8; 64 * 1024];
    while let Ok(n) = decoder.read(&mut chunk) {
        if n == 0 {
            break;
        }
        real += n;
    }
    let stated = stated_len(&head, magic).unwrap_or(0);
    2 * real.min(stated.saturating_add(1)).max(16) + 512 * 1024
}

fn gz_seeds(images: bool, rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = idx_seeds(images).iter().map(|s| gzip(s)).collect();
    for s in idx_seeds(images) {
        seeds.push(gzip(&mutate(&s, rng)));
    }
    // A header claiming 2^32 - 1 items followed by 1 MB of zeros: compresses to ~1 KB.
    let mut huge = if images {
        ddpm::data::idx::encode_idx_images(0, 28, 28, &[])
    } else {
        ddpm::data::idx::encode_idx_labels(&[])
    };
    huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    huge.extend(std::iter::repeat_n(0u8, 1 << 20));
    seeds.push(gzip(&huge));
    seeds
}

fn tiny_config() -> TrainingConfig {
    TrainingConfig::new(UNetConfig::tiny(), ScheduleConfig::linear_1000(), 4)
        .with_batch(4)
        .with_sample_steps(2)
}

/// Seeds of the config fuzzer: the 1,200-step run's weights/run-20min/config.json (no
/// checksum) and a checksummed one.
fn config_seeds() -> Vec<Vec<u8>> {
    vec![
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/run-20min/config.json"))
            .unwrap(),
        to_json_checked(&tiny_config()).into_bytes(),
    ]
}

/// The config target: parse and validate; a checksummed seed whose JSON value was changed by
/// the mutation must be refused.
fn config_target(input: &[u8]) -> bool {
    let path = Path::new("fuzz/config.json");
    let result = parse_config(input, path).and_then(|c| {
        c.validate()
            .map(|_| c)
            .map_err(|e| ddpm::workflows::CheckpointError::BadConfig {
                path: path.into(),
                message: e.to_string(),
            })
    });
    let checked = to_json_checked(&tiny_config());
    let original: serde_json::Value = serde_json::from_str(&checked).unwrap();
    if let Ok(mutated) = serde_json::from_slice::<serde_json::Value>(input)
        && mutated.get("sha256") == original.get("sha256")
        && mutated != original
    {
        assert!(
            result.is_err(),
            "a changed checksummed config.json was accepted"
        );
    }
    match result {
        Ok(config) => {
            // What was accepted reads back the same.
            let again = parse_config(to_json_checked(&config).as_bytes(), path).unwrap();
            assert_eq!(again, config);
            true
        }
        Err(e) => {
            assert!(e.to_string().contains("fuzz/config.json"), "{e}");
            false
        }
    }
}

/// Seeds of the state.json fuzzer.
fn state_seeds() -> Vec<Vec<u8>> {
    let state = TrainState {
        step: 1200,
        rng_word_pos: "123456789".into(),
    };
    vec![
        to_json_checked(&state).into_bytes(),
        serde_json::to_vec_pretty(&state).unwrap(),
    ]
}

fn state_target(input: &[u8]) -> bool {
    match parse_state(input, Path::new("fuzz/state.json")) {
        Ok(state) => {
            assert!(state.rng_word_pos.parse::<u128>().is_ok());
            true
        }
        Err(e) => {
            assert!(e.to_string().contains("fuzz/state.json"), "{e}");
            false
        }
    }
}

/// Every float parameter of a module, in visiting order.
fn parameters<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().convert::<f32>();
            self.0.extend(values.iter::<f32>());
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

/// A tiny U-Net, its parameters, and its weights file as written by the crate (with a
/// checksum) and as burn writes it (without).
fn weights_seeds() -> (Vec<f32>, Vec<Vec<u8>>) {
    let device = Device::flex();
    device.seed(3);
    let model: UNet = UNetConfig::tiny().init(&device).unwrap();
    let params = parameters(&model);
    let dir = std::env::temp_dir().join(format!("ddpm-fuzz-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sealed = dir.join("model.bpk");
    ddpm::workflows::checkpoint::save_module(&model, &sealed).unwrap();
    let plain = model.into_record().into_bytes().unwrap().to_vec();
    let seeds = vec![std::fs::read(&sealed).unwrap(), plain];
    std::fs::remove_dir_all(&dir).unwrap();
    (params, seeds)
}

/// The weights target: load into a fresh tiny U-Net; a checksummed file that loads must give
/// back the original parameters.
fn weights_target(original: &[f32], sealed: &[u8], input: &[u8]) -> bool {
    let device = Device::flex();
    let fresh: UNet = UNetConfig::tiny().init(&device).unwrap();
    match load_module_from_bytes(fresh, input.to_vec(), Path::new("fuzz/model.bpk")) {
        Ok(model) => {
            // A file that still carries its checksum must have loaded the original weights
            // (a flip in alignment padding or in a parameter id changes no weight).
            let checksummed =
                burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(input.to_vec()))
                    .is_ok_and(|r| {
                        r.metadata()
                            .contains_key(ddpm::workflows::files::SHA256_KEY)
                    });
            if checksummed && input != sealed {
                assert_eq!(
                    parameters(&model),
                    original,
                    "a damaged file loaded other weights"
                );
            }
            true
        }
        Err(e) => {
            assert!(e.to_string().contains("fuzz/model.bpk"), "{e}");
            false
        }
    }
}

fn optimizer_seed() -> Vec<u8> {
    // The state of Adam after one step of a tiny model.
    let device = Device::flex().autodiff();
    let model: UNet = UNetConfig::tiny().init(&device).unwrap();
    let x = Tensor::<4>::zeros([1, 1, 28, 28], &device);
    let t = Tensor::<1>::from_floats([5.0], &device);
    let loss = model.forward(x, t).square().mean();
    let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
    let mut optim = optimizer();
    let _ = optim.step(1e-3, model, grads);
    let dir = std::env::temp_dir().join(format!("ddpm-fuzz-optim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("optimizer.bpk");
    ddpm::workflows::checkpoint::save_burnpack(optim.into_bytes().unwrap(), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    bytes
}

fn optimizer_target(input: &[u8]) -> bool {
    match load_optimizer_from_bytes(input.to_vec(), Path::new("fuzz/optimizer.bpk")) {
        Ok(_) => true,
        Err(e) => {
            assert!(e.to_string().contains("fuzz/optimizer.bpk"), "{e}");
            false
        }
    }
}

/// Runs every fuzzer with `budget(target)`; returns (name, stats) per target.
fn run_all(budget: &dyn Fn(&str) -> Budget, seed: u64) -> Vec<(&'static str, Stats)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for images in [true, false] {
        let name = if images { "idx images" } else { "idx labels" };
        let stats = fuzz(
            &idx_seeds(images),
            budget(name),
            seed,
            &|b: &[u8]| idx_bound(images, b),
            &|b: &[u8]| idx_target(images, b),
        );
        out.push((name, stats));
        let name = if images {
            "idx images (gzip)"
        } else {
            "idx labels (gzip)"
        };
        let stats = fuzz(
            &gz_seeds(images, &mut rng),
            budget(name),
            seed + 1,
            &|b: &[u8]| idx_gz_bound(images, b),
            &|b: &[u8]| idx_gz_target(images, b),
        );
        out.push((name, stats));
    }
    // JSON: serde's value tree takes a few dozen bytes per input byte; validation builds the
    // described network lazily and the schedule (at most 100,000 steps): bounded by 64 MiB.
    let json_bound = |b: &[u8]| 64 * b.len() + (64 << 20);
    out.push((
        "config.json",
        fuzz(
            &config_seeds(),
            budget("config.json"),
            seed,
            &json_bound,
            &config_target,
        ),
    ));
    out.push((
        "state.json",
        fuzz(
            &state_seeds(),
            budget("state.json"),
            seed,
            &json_bound,
            &state_target,
        ),
    ));
    let (params, seeds) = weights_seeds();
    let sealed = seeds[0].clone();
    // Loading copies the file once and builds the network's tensors from it (no larger).
    let weights_bound = |b: &[u8]| 4 * b.len() + (16 << 20);
    out.push((
        "model.bpk",
        fuzz(
            &seeds,
            budget("model.bpk"),
            seed,
            &weights_bound,
            &|b: &[u8]| weights_target(&params, &sealed, b),
        ),
    ));
    out.push((
        "optimizer.bpk",
        fuzz(
            &[optimizer_seed()],
            budget("optimizer.bpk"),
            seed,
            &weights_bound,
            &optimizer_target,
        ),
    ));
    out
}

// ---------------------------------------------------------------------------------------
// In the check: fixed-seed runs of a fixed number of inputs.
// ---------------------------------------------------------------------------------------

#[test]
fn every_reader_survives_a_fixed_seed_fuzz_run() {
    let budget = |name: &str| {
        Budget::Executions(match name {
            "model.bpk" | "optimizer.bpk" => 150,
            "config.json" => 600,
            _ => 1500,
        })
    };
    for (name, stats) in run_all(&budget, 21) {
        assert_clean(name, &stats);
    }
}

#[test]
fn a_header_claiming_two_to_the_32_images_is_refused_before_allocating() {
    // 16 bytes whose header says 2^32 - 1 images of 28x28 (about 3.4 TB): refused as truncated
    // with no buffer for the pixels.
    let mut bytes = ddpm::data::idx::encode_idx_images(0, 28, 28, &[]);
    bytes[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    let (result, peak) = peak_bytes(|| read_idx_images(&bytes, "huge", false));
    let err = result.unwrap_err();
    assert!(
        matches!(err, DataError::Truncated { found: 16, .. }),
        "{err}"
    );
    assert!(peak < 4096, "allocated {peak} bytes");
    // The same header gzip-compressed with 1 MB of zeros after it (about 1 KB on disk): the
    // decompressed stream is read to its end but never held beyond the header's promise, and
    // the error gives the real length.
    let mut body = bytes.clone();
    body.extend(std::iter::repeat_n(0u8, 1 << 20));
    let gz = gzip(&body);
    let (result, peak) = peak_bytes(|| read_idx_images(&gz, "huge.gz", true));
    let err = result.unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    assert!(
        peak < 2 * body.len() + (512 << 10),
        "allocated {peak} bytes"
    );
}

#[test]
fn a_gzip_bomb_is_not_held_in_memory() {
    // A header for 10 images of 28x28 (7,856 bytes), then 64 MB of zeros: about 64 KB of gzip.
    // The reader keeps 7,857 bytes, counts the rest, and reports the real size.
    let mut body = ddpm::data::idx::encode_idx_images(10, 28, 28, &[0; 7840]);
    body.extend(std::iter::repeat_n(0u8, 64 << 20));
    let gz = gzip(&body);
    assert!(gz.len() < 1 << 20, "{} bytes of gzip", gz.len());
    let (result, peak) = peak_bytes(|| read_idx_images(&gz, "bomb.gz", true));
    match result.unwrap_err() {
        DataError::TrailingBytes {
            expected, found, ..
        } => {
            assert_eq!(expected, 16 + 7840);
            assert_eq!(found, body.len());
        }
        other => panic!("expected TrailingBytes, got {other}"),
    }
    assert!(peak < 1 << 20, "allocated {peak} bytes for a 64 MB stream");
}

// ---------------------------------------------------------------------------------------
// The script's run: a fixed time per target (scripts/fuzz.sh).
// ---------------------------------------------------------------------------------------

#[test]
#[ignore = "long: run by scripts/fuzz.sh with DDPM_FUZZ_SECONDS per target"]
fn fuzz_budget() {
    let seconds: f64 = std::env::var("DDPM_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let seed: u64 = std::env::var("DDPM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(21);
    let started = Instant::now();
    let results = run_all(&|_| Budget::Time(Duration::from_secs_f64(seconds)), seed);
    let mut total = (0, 0);
    for (name, s) in &results {
        println!(
            "FUZZ {{\"target\": \"{name}\", \"executions\": {}, \"accepted\": {}, \"refused\": {}, \"crashes\": {}, \"worst_allocation_ratio\": {:.3}}}",
            s.executions, s.accepted, s.refused, s.crashes, s.worst_allocation_ratio
        );
        if let Some(c) = &s.first_crash {
            println!("FUZZ-CRASH {name}: {c}");
        }
        total.0 += s.executions;
        total.1 += s.crashes;
    }
    println!(
        "FUZZ-TOTAL {} executions, {} crashes, {:.0} s, seed {seed}",
        total.0,
        total.1,
        started.elapsed().as_secs_f64()
    );
    for (name, s) in &results {
        assert_clean(name, s);
    }
}
