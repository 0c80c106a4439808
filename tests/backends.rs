//! Chapter 14 (backends): the same weights and inputs give the same numbers on burn's CPU
//! backend (`flex`) and on wgpu. Compiled only with `--features wgpu`; the check command
//! builds with it and installs Debian's `mesa-vulkan-drivers`, whose lavapipe driver runs
//! Vulkan on the CPU (slow, but exact enough to compare).
#![cfg(feature = "wgpu")]

use burn::prelude::*;
use ddpm::workflows::load_weights;
use ddpm::workflows::sample::{SampleOptions, Sampler, sample};
use ddpm::workflows::{BackendKind, DEFAULT_WEIGHTS_DIR};

fn shipped() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_WEIGHTS_DIR)
}

fn host(x: Tensor<4>) -> Vec<f32> {
    x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn shipped_unet_agrees_on_cpu_and_wgpu() {
    let cpu = BackendKind::Cpu.device().unwrap();
    let gpu = BackendKind::Wgpu.device().unwrap();
    let (on_cpu, config) = load_weights(&shipped(), true, &cpu).unwrap();
    let (on_gpu, _) = load_weights(&shipped(), true, &gpu).unwrap();

    // The same inputs on both devices: four images at four noise levels.
    let size = config.model.image_size;
    let n = 4 * size * size;
    let pixels: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    let ts = [1.0f32, 10.0, 500.0, 1000.0];
    let run = |model: &ddpm::network::UNet, device: &Device| {
        let x = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [4, 1, size, size]), device);
        let t = Tensor::<1>::from_data(TensorData::new(ts.to_vec(), [4]), device);
        host(model.forward(x, t))
    };
    let (a, b) = (run(&on_cpu, &cpu), run(&on_gpu, &gpu));
    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let difference = max_abs_difference(&a, &b);
    eprintln!("forward pass: max |cpu - wgpu| = {difference:e} (output scale {scale})");
    // f32 sums in a different order: agreement to ~1e-5 of the output's scale (the issue
    // measured 4e-6 on a forward pass); a wrong kernel or a lost weight is off by O(scale).
    assert!(scale > 0.5, "degenerate output (max |eps| = {scale})");
    assert!(
        difference < 1e-4 * scale.max(1.0),
        "forward pass: cpu and wgpu differ by {difference} (output scale {scale})"
    );
}

#[test]
fn ddim_samples_agree_on_cpu_and_wgpu() {
    // Deterministic DDIM (eta = 0) from the same seed: the starting noise is drawn on the host,
    // so both backends start at the same x_T and take the same 5 steps.
    let cpu = BackendKind::Cpu.device().unwrap();
    let gpu = BackendKind::Wgpu.device().unwrap();
    let options = SampleOptions {
        sampler: Sampler::Ddim { steps: 5, eta: 0.0 },
        clip_x0: true,
        seed: 3,
        count: 2,
        frames: 0,
    };
    let draw = |device: &Device| {
        let (model, config) = load_weights(&shipped(), true, device).unwrap();
        let schedule = config.schedule.build().unwrap();
        let m = &config.model;
        sample(
            &model,
            &schedule,
            m.image_channels,
            m.image_size,
            &options,
            device,
            |_, _| {},
        )
        .unwrap()
        .images
    };
    let (a, b) = (draw(&cpu), draw(&gpu));
    let difference = max_abs_difference(&a, &b);
    eprintln!("DDIM samples: max |cpu - wgpu| = {difference:e}");
    assert!(
        difference < 1e-3,
        "DDIM samples: cpu and wgpu differ by {difference} (pixels in [-1, 1])"
    );
    assert!(a.iter().any(|v| v.abs() > 0.1), "degenerate samples");
}

#[test]
#[cfg(target_os = "linux")] // the environment variables below hide Linux's drivers only
fn a_backend_that_cannot_start_is_a_clear_error() {
    // Hide every driver wgpu could use: no Vulkan ICD, no EGL vendor (OpenGL fallback). burn
    // then panics on a worker thread at the first computation; the launcher must turn that
    // into one error line that names the backend, the cause and the way out.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ddpm"))
        .args([
            "bench",
            "--backend",
            "wgpu",
            "--presets",
            "tiny",
            "--batch",
            "1",
        ])
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the ddpm binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "started without a driver?\n{stderr}"
    );
    assert!(
        stderr.contains("the wgpu backend could not start") && stderr.contains("--backend cpu"),
        "unclear error:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic report leaked:\n{stderr}"
    );
}
