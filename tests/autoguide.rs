//! Chapter 18, autoguidance: a network guided by a worse network of the same data. At w = 0 it
//! is the network; at w = 1.5 it is 2.5 eps_network - 1.5 eps_guide from two separate passes;
//! a network guided by itself is itself at any w; bad weights and guides that predict the noise
//! of other images or another schedule are refused with messages; and the command line wires
//! `--guide` into `ddpm sample` (w = 0 draws the unguided images bit for bit) and refuses it on
//! a conditional network.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::prelude::*;
use ddpm::network::{AutoGuideError, AutoGuided, NoisePredictor, UNetConfig};
use ddpm::workflows::TrainingConfig;
use ddpm::workflows::sample::check_guide;

fn to_vec(x: Tensor<4>) -> Vec<f32> {
    x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A batch of 3 inputs (fixed pixel patterns) at timesteps 1, 300 and 1000.
fn inputs(d: &Device) -> (Tensor<4>, Tensor<1>) {
    let pixels: Vec<f32> = (0..3 * 784)
        .map(|i| ((i % 31) as f32 / 15.0) - 1.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(pixels, [3, 1, 28, 28]), d);
    let t = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 300.0, 1000.0], [3]), d);
    (x, t)
}

#[test]
fn autoguided_noise_is_the_network_at_w_0_and_extrapolates_from_the_guide_at_w_1_5() {
    let d = Device::flex();
    let model = UNetConfig::tiny().init(&d).unwrap();
    // A guide of another width: autoguidance needs the same images and schedule, not the
    // same network.
    let mut guide_config = UNetConfig::tiny();
    guide_config.base_channels *= 2;
    let guide = guide_config.init(&d).unwrap();
    let (x, t) = inputs(&d);
    let good = to_vec(model.forward(x.clone(), t.clone()));
    let bad = to_vec(guide.forward(x.clone(), t.clone()));
    assert!(max_abs_diff(&good, &bad) > 1e-3, "the two networks differ");

    let w0 = AutoGuided::new(&model, &guide, 0.0).unwrap();
    assert!(max_abs_diff(&to_vec(w0.predict_noise(x.clone(), t.clone())), &good) < 1e-6);

    let guided = to_vec(
        AutoGuided::new(&model, &guide, 1.5)
            .unwrap()
            .predict_noise(x, t),
    );
    let by_hand: Vec<f32> = good
        .iter()
        .zip(&bad)
        .map(|(g, b)| 2.5 * g - 1.5 * b)
        .collect();
    assert!(
        max_abs_diff(&guided, &by_hand) < 1e-5,
        "{}",
        max_abs_diff(&guided, &by_hand)
    );
    assert!(max_abs_diff(&guided, &good) > 1e-3);
}

#[test]
fn a_network_guided_by_itself_is_itself_at_any_weight() {
    let d = Device::flex();
    let model = UNetConfig::tiny().init(&d).unwrap();
    let (x, t) = inputs(&d);
    let plain = to_vec(model.forward(x.clone(), t.clone()));
    for w in [0.5, 4.0] {
        let guided = to_vec(
            AutoGuided::new(&model, &model, w)
                .unwrap()
                .predict_noise(x.clone(), t.clone()),
        );
        // (1 + w) e - w e = e up to rounding, which grows with w.
        assert!(
            max_abs_diff(&guided, &plain) < 1e-5 * (1.0 + w as f32),
            "w = {w}: {}",
            max_abs_diff(&guided, &plain)
        );
    }
}

#[test]
fn negative_and_non_finite_weights_are_refused_with_a_message() {
    let d = Device::flex();
    let model = UNetConfig::tiny().init(&d).unwrap();
    for w in [-0.5, f64::NAN, f64::INFINITY] {
        let err = AutoGuided::new(&model, &model, w).unwrap_err();
        assert!(matches!(err, AutoGuideError::Weight(_)), "{err:?}");
        assert!(err.to_string().contains(">= 0"), "{err}");
    }
}

#[test]
fn a_guide_must_share_the_image_shape_and_the_schedule_but_not_the_width() {
    let network = TrainingConfig::default_run();
    let mut wider = network.clone();
    wider.model.base_channels *= 2;
    wider.model.channel_mults = vec![1, 2, 4];
    wider.steps = 10;
    assert_eq!(check_guide(&network, &wider), Ok(()));

    let mut shorter = network.clone();
    shorter.schedule.num_timesteps = 500;
    let err = check_guide(&network, &shorter).unwrap_err();
    assert_eq!(err.what, "noise schedule");
    assert!(err.to_string().contains("same noise schedule"), "{err}");

    let mut bigger = network.clone();
    bigger.model.image_size = 32;
    let err = check_guide(&network, &bigger).unwrap_err();
    assert_eq!((err.what, err.guide.as_str()), ("image size", "32"));
}

// The command line, with the shipped weights and the 1,200-step run's as the guide.

fn ddpm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ddpm"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the ddpm binary runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ddpm-autoguide-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `ddpm sample` of 4 DDIM-5 images with `extra` flags into `out`; its PNG bytes.
fn sample_png(out: &Path, extra: &[&str]) -> Vec<u8> {
    let out_text = out.display().to_string();
    let mut args = vec![
        "sample",
        "--weights",
        "weights/default",
        "--sampler",
        "ddim:5:1",
        "--count",
        "4",
        "--seed",
        "3",
        "--out",
        &out_text,
    ];
    args.extend_from_slice(extra);
    let output = ddpm(&args);
    assert!(
        output.status.success(),
        "{args:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(out).unwrap()
}

#[test]
fn sample_with_a_guide_at_w_0_draws_the_unguided_images_and_at_w_1_others() {
    let dir = tmp("sample");
    let plain = sample_png(&dir.join("plain.png"), &[]);
    let guide = ["--guide", "weights/run-20min", "--guide-weight"];
    let w0 = sample_png(&dir.join("w0.png"), &[guide[0], guide[1], guide[2], "0"]);
    let w1 = sample_png(&dir.join("w1.png"), &[guide[0], guide[1], guide[2], "1"]);
    assert_eq!(plain, w0, "w = 0 is the network alone");
    assert_ne!(plain, w1, "w = 1 moves the samples");
    let _ = std::fs::remove_dir_all(&dir);
}

fn refused(args: &[&str]) -> String {
    let output = ddpm(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{args:?} succeeded:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
    stderr
}

#[test]
fn guides_that_cannot_guide_are_refused_before_sampling() {
    let dir = tmp("refused");
    let out = dir.join("x.png").display().to_string();
    let base = [
        "sample",
        "--count",
        "2",
        "--sampler",
        "ddim:2:1",
        "--out",
        &out,
    ];
    // A weight without a guide.
    let err = refused(&[&base[..], &["--guide-weight", "1"]].concat());
    assert!(err.contains("--guide"), "{err}");
    // A negative weight.
    let err = refused(
        &[
            &base[..],
            &["--guide", "weights/run-20min", "--guide-weight=-1"],
        ]
        .concat(),
    );
    assert!(err.contains(">= 0"), "{err}");
    // A conditional network has classifier-free guidance instead.
    let err = refused(
        &[
            &base[..],
            &[
                "--weights",
                "weights/conditional",
                "--guide",
                "weights/run-20min",
            ],
        ]
        .concat(),
    );
    assert!(err.contains("--guidance"), "{err}");
    // A guide trained with another schedule: the shipped guide's files with T = 500.
    let guide = dir.join("guide");
    std::fs::create_dir_all(&guide).unwrap();
    let config = std::fs::read_to_string("weights/run-20min/config.json").unwrap();
    let config = config.replace("\"num_timesteps\": 1000", "\"num_timesteps\": 500");
    assert!(config.contains("500"), "the config names num_timesteps");
    std::fs::write(guide.join("config.json"), config).unwrap();
    std::fs::copy(
        "weights/run-20min/model-ema.bpk",
        guide.join("model-ema.bpk"),
    )
    .unwrap();
    let guide_text = guide.display().to_string();
    let err = refused(&[&base[..], &["--guide", &guide_text]].concat());
    assert!(err.contains("noise schedule"), "{err}");
    assert!(!dir.join("x.png").exists(), "nothing written");
    let _ = std::fs::remove_dir_all(&dir);
}
