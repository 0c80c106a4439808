//! The `ddpm` command line: one sampler syntax (`--sampler SPEC`, `--samplers SPEC,...`) with
//! one default in every command, fixed choices listed by `--help`, old spellings refused with
//! the new one, and no default output path inside the shipped files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ddpm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ddpm"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the ddpm binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The standard error of a command that must fail.
fn refused(args: &[&str]) -> String {
    let output = ddpm(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{args:?} succeeded:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
    stderr
}

fn help(command: &str) -> String {
    let output = ddpm(&[command, "--help"]);
    assert!(output.status.success(), "{command} --help failed");
    stdout(&output)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ddpm-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The `[default: ...]` of option `--name` in a `--help` text.
fn default_of(help: &str, name: &str) -> String {
    let start = help
        .find(&format!("--{name} "))
        .unwrap_or_else(|| panic!("no --{name} in\n{help}"));
    let rest = &help[start..];
    let open = rest.find("[default: ").expect("a default") + "[default: ".len();
    rest[open..open + rest[open..].find(']').unwrap()].to_string()
}

#[test]
fn every_command_that_samples_has_the_same_default_sampler() {
    assert_eq!(default_of(&help("sample"), "sampler"), "ddim:50:1");
    assert_eq!(default_of(&help("eval"), "samplers"), "ddim:50:1");
    assert_eq!(default_of(&help("train"), "sampler"), "ddim:50:1");
    // The help says how to write the other samplers.
    for command in ["sample", "eval"] {
        let text = help(command);
        assert!(
            text.contains("ancestral:posterior") && text.contains("ddim:STEPS:ETA"),
            "{command}:\n{text}"
        );
    }
}

#[test]
fn help_lists_every_fixed_choice() {
    let train = help("train");
    for choice in [
        "tiny", "small", "paper", "patched", "cpu", "wgpu", "vulkan", "cuda", "constant", "cosine",
    ] {
        assert!(
            train.contains(&format!("{choice}:")),
            "train --help does not list {choice}:\n{train}"
        );
    }
    assert!(train.contains("--data <embedded|mnist|FOLDER>"), "{train}");
    let eval = help("eval");
    for choice in ["exact", "sampled", "none", "cpu", "wgpu", "vulkan", "cuda"] {
        assert!(eval.contains(&format!("{choice}:")), "{choice}:\n{eval}");
    }
    assert!(eval.contains("--data <embedded|mnist|FOLDER>"), "{eval}");
    let bench = help("bench");
    for choice in [
        "tiny", "small", "paper", "patched", "cpu", "wgpu", "vulkan", "cuda",
    ] {
        assert!(bench.contains(&format!("{choice}:")), "{choice}:\n{bench}");
    }
    // A choice outside the list is refused with the list.
    let err = refused(&["train", "--preset", "huge"]);
    assert!(err.contains("tiny") && err.contains("patched"), "{err}");
    let err = refused(&["sample", "--backend", "tpu"]);
    assert!(err.contains("cpu") && err.contains("wgpu"), "{err}");
}

#[test]
fn steps_means_optimisation_steps_only() {
    // `ddpm train --steps` is the number of optimisation steps; `ddpm sample` has no --steps.
    let train = help("train");
    assert!(train.contains("--steps <STEPS>"), "{train}");
    assert!(!help("sample").contains("--steps"));
    assert!(!help("eval").contains("--steps"));
}

#[test]
fn bad_sampler_specs_and_old_spellings_are_refused_with_the_new_spelling() {
    let cases: [(&[&str], &str); 9] = [
        (&["sample", "--sampler", "ddim:50"], "ddim:50:1"),
        (
            &["sample", "--sampler", "ddim", "--steps", "50"],
            "ddim:STEPS:ETA",
        ),
        (&["sample", "--sampler", "ddpm"], "`ancestral`"),
        (
            &["sample", "--steps", "50", "--eta", "1"],
            "--sampler ddim:50:1",
        ),
        (&["sample", "--eta", "0"], "--sampler ddim:STEPS:0"),
        (
            &["sample", "--variance", "posterior"],
            "--sampler ancestral:posterior",
        ),
        (&["eval", "--samplers", "ddim:50:1,ddpm"], "`ancestral`"),
        (&["eval", "--samplers", "ddim:20"], "ddim:20:1"),
        (&["train", "--sample-eta", "0"], "--sampler ddim:50:0"),
    ];
    for (args, expected) in cases {
        let err = refused(args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn training_refuses_bad_grid_samplers_and_data_before_writing() {
    let dir = tmp("refused");
    let run_dir = dir.to_str().unwrap();
    let err = refused(&[
        "train",
        "--preset",
        "tiny",
        "--sampler",
        "ancestral",
        "--run-dir",
        run_dir,
    ]);
    assert!(err.contains("ddim:STEPS:ETA"), "{err}");
    let missing = dir.join("no-such-data");
    let err = refused(&[
        "train",
        "--data",
        missing.to_str().unwrap(),
        "--run-dir",
        run_dir,
    ]);
    assert!(
        err.contains("no folder") && err.contains("embedded"),
        "{err}"
    );
    assert!(!dir.exists(), "a refused run created {run_dir}");
}

#[test]
fn no_default_output_path_overwrites_a_shipped_file() {
    // Every folder of the clone (weights/, chapters/, data/, ...) but the run folder and the
    // build folder.
    let shipped: Vec<String> = std::fs::read_dir(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "runs" && name != "target")
        .collect();
    assert!(shipped.iter().any(|name| name == "weights"), "{shipped:?}");
    for (command, option) in [
        ("book-figures", "out"),
        ("train-classifier", "out"),
        ("sample", "out"),
        ("eval", "json"),
    ] {
        let default = default_of(&help(command), option);
        let first = Path::new(&default).components().next().unwrap();
        let first = first.as_os_str().to_string_lossy();
        assert!(
            !shipped.iter().any(|name| *name == first),
            "ddpm {command} --{option} defaults to {default}, inside the shipped files"
        );
    }
    assert_eq!(
        default_of(&help("book-figures"), "out"),
        "runs/book-figures"
    );
    assert_eq!(
        default_of(&help("train-classifier"), "out"),
        "runs/classifier"
    );
}

#[test]
fn sample_draws_with_a_spec_from_the_shipped_weights() {
    let dir = tmp("sample");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("grid.png");
    let output = ddpm(&[
        "sample",
        "--sampler",
        "ddim:2:1",
        "--count",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout(&output).contains("ddim:2:1"), "{}", stdout(&output));
    // A PNG: the signature, then an image two 28-pixel tiles wide (with the grid's padding).
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    assert!(width >= 56, "{width} pixels wide");
    // More steps than the schedule has: the sampler's own error, not a panic.
    let err = refused(&[
        "sample",
        "--sampler",
        "ddim:5000:1",
        "--count",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("1..=1000"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn devices_lists_are_checked_before_training() {
    // `--devices`: each entry is a backend with an optional GPU index; a wrong entry is named,
    // and more shares than images in a batch are refused before anything is written.
    let dir = tmp("devices");
    let run_dir = dir.to_str().unwrap();
    let err = refused(&["train", "--devices", "cpu:1", "--run-dir", run_dir]);
    assert!(err.contains("cpu:1") && err.contains("no index"), "{err}");
    let err = refused(&["train", "--devices", "cpu,tpu", "--run-dir", run_dir]);
    assert!(err.contains("tpu") && err.contains("cuda"), "{err}");
    let err = refused(&["train", "--devices", "cuda:x", "--run-dir", run_dir]);
    assert!(err.contains("cuda:x") && err.contains("GPU index"), "{err}");
    let err = refused(&["train", "--devices", "cpu", "--backend", "cpu"]);
    assert!(
        err.contains("--devices") && err.contains("--backend"),
        "{err}"
    );
    let err = refused(&[
        "train",
        "--preset",
        "tiny",
        "--batch",
        "2",
        "--threads",
        "2",
        "--devices",
        "cpu,cpu",
        "--run-dir",
        run_dir,
    ]);
    assert!(
        err.contains("devices") && err.contains("3 shares") && err.contains("--batch"),
        "{err}"
    );
    // With dropout (the `paper` preset) a device listed twice would share one generator
    // between two threads.
    let err = refused(&[
        "train",
        "--preset",
        "paper",
        "--devices",
        "cpu,cpu",
        "--run-dir",
        run_dir,
    ]);
    assert!(err.contains("devices") && err.contains("dropout"), "{err}");
    assert!(!dir.exists(), "a refused run wrote {}", dir.display());
}

#[test]
fn the_shipped_weights_report_describes_the_shipped_weights() {
    // chapters/output/eval-shipped.json gives the figures README and chapter 13 quote for
    // weights/default: it must be a report of these weights (the same training configuration),
    // so that replacing the weights without measuring them again fails here.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(root.join(path)).unwrap()).unwrap()
    };
    let report = read("chapters/output/eval-shipped.json");
    let mut shipped = read("weights/default/config.json");
    let mut measured = report["config"].clone();
    for config in [&mut shipped, &mut measured] {
        config.as_object_mut().unwrap().remove("sha256");
    }
    assert_eq!(
        measured, shipped,
        "eval-shipped.json measured other weights than weights/default: run `ddpm eval \
         --weights weights/default --bound sampled --bound-images 2004 --timesteps-per-image \
         10 --samples 1000 --samplers ddim:100:1 --json chapters/output/eval-shipped.json`"
    );
    assert_eq!(report["weights"], "weights/default");
    assert!(report["ema"].as_bool().unwrap());
}

#[cfg(feature = "burn")]
#[test]
fn the_default_run_report_describes_the_default_run() {
    // chapters/output/eval-default-run.json gives the figures chapters 13 and 16, the appendix
    // and README quote for `ddpm train` without flags: it must measure a run of
    // TrainingConfig::default_run(), so that changing the default run without measuring it
    // again fails here.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("chapters/output/eval-default-run.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut measured = report["config"].clone();
    measured.as_object_mut().unwrap().remove("sha256");
    let measured: ddpm::workflows::TrainingConfig = serde_json::from_value(measured).unwrap();
    assert_eq!(
        measured,
        ddpm::workflows::TrainingConfig::default_run(),
        "eval-default-run.json measured another run than `ddpm train`: run `ddpm train`, then \
         `ddpm eval --weights runs/small --bound sampled --bound-images 2004 \
         --timesteps-per-image 10 --samples 1000 --samplers ddim:100:1 --json \
         chapters/output/eval-default-run.json`"
    );
    assert_eq!(report["weights"], "runs/small");
    assert!(report["ema"].as_bool().unwrap());
}
