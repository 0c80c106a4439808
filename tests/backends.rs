//! Chapter 14 (backends): the same weights and inputs give the same numbers on burn's CPU
//! backend (`flex`) and on wgpu, and a batch shared by the two (`ddpm train --devices`) gives
//! the whole batch's gradient. Compiled only with `--features wgpu`; on a machine without a GPU
//! they run on Mesa's lavapipe (Vulkan on the CPU: slow, but exact enough to compare).
//!
//! With `--features vulkan` (wgpu pinned to Vulkan, kernels compiled to SPIR-V) the same
//! agreement tests run on the Vulkan device, and burn then compiles `--backend wgpu`'s kernels
//! for a Vulkan device to SPIR-V as well. Older lavapipes cannot run those: Mesa 22.3.6
//! (Debian 12), 25.0.7 (its backports; LLVM 15) and 25.0.7 (Debian 13; LLVM 19) segfault inside
//! `vkCreateComputePipelines` on cubek-matmul's register-tile matmul kernel, the first matmul of
//! the U-Net. Mesa 26.2.6 (LLVM 22) runs them all, so the check builds with `wgpu,vulkan` and
//! runs this file inside a Debian root with that Mesa (`scripts/lavapipe-root.sh`, entered by
//! cargo's runner `scripts/lavapipe-run`). On a real GPU: `cargo test --release --features
//! vulkan --test backends`.
#![cfg(feature = "wgpu")]

mod grad_support;

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
    forward_agrees(BackendKind::Wgpu);
}

#[test]
fn ddim_samples_agree_on_cpu_and_wgpu() {
    ddim_agrees(BackendKind::Wgpu);
}

#[cfg(feature = "vulkan")]
#[test]
fn vulkan_compiles_its_kernels_to_spirv() {
    // burn falls back to WGSL on a Vulkan device that lacks SPIR-V's required features (the
    // Vulkan memory model, buffer device addresses): then the tests below would not test the
    // SPIR-V path at all. The device's fingerprint names the compiler it really uses.
    let device = BackendKind::Vulkan.device().unwrap();
    let identity = device
        .identity()
        .expect("a wgpu device reports its identity");
    eprintln!(
        "vulkan device: {} (fingerprint {})",
        identity.name, identity.fingerprint
    );
    assert!(
        identity.fingerprint.starts_with("spirv"),
        "the vulkan backend compiles for `{}`, not SPIR-V",
        identity.fingerprint
    );
}

#[cfg(feature = "vulkan")]
#[test]
fn shipped_unet_agrees_on_cpu_and_vulkan() {
    forward_agrees(BackendKind::Vulkan);
}

#[cfg(feature = "vulkan")]
#[test]
fn ddim_samples_agree_on_cpu_and_vulkan() {
    ddim_agrees(BackendKind::Vulkan);
}

fn forward_agrees(kind: BackendKind) {
    let cpu = BackendKind::Cpu.device().unwrap();
    let gpu = kind.device().unwrap();
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
    eprintln!("forward pass: max |cpu - {kind:?}| = {difference:e} (output scale {scale})");
    // f32 sums in a different order: agreement to ~1e-5 of the output's scale (the issue
    // measured 4e-6 on a forward pass); a wrong kernel or a lost weight is off by O(scale).
    assert!(scale > 0.5, "degenerate output (max |eps| = {scale})");
    assert!(
        difference < 1e-4 * scale.max(1.0),
        "forward pass: cpu and {kind:?} differ by {difference} (output scale {scale})"
    );
}

fn ddim_agrees(kind: BackendKind) {
    // Deterministic DDIM (eta = 0) from the same seed: the starting noise is drawn on the host,
    // so both backends start at the same x_T and take the same 5 steps.
    let cpu = BackendKind::Cpu.device().unwrap();
    let gpu = kind.device().unwrap();
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
    eprintln!("DDIM samples: max |cpu - {kind:?}| = {difference:e}");
    assert!(
        difference < 1e-3,
        "DDIM samples: cpu and {kind:?} differ by {difference} (pixels in [-1, 1])"
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

#[test]
fn a_batch_shared_by_the_cpu_and_wgpu_has_the_whole_batch_gradient() {
    // `ddpm train --devices`: 5 images in 2 shares, one on the CPU and one on wgpu, the wgpu
    // share's gradients copied back and added on the CPU. Their sum is the gradient of the
    // whole batch computed on the CPU alone: a share left on the wrong device, a gradient not
    // copied back, or a share's loss not scaled by its size would be far off.
    use ddpm::network::{ScheduleTensors, UNetConfig};
    use ddpm::workflows::TrainingConfig;
    use ddpm::workflows::train::{batch_loss, init_model, sharded_gradients};
    let cpu = Device::flex().autodiff();
    let gpu = BackendKind::Wgpu.device().unwrap().autodiff();
    let mut config = TrainingConfig::default_run();
    config.model = UNetConfig::tiny();
    let schedule = config.schedule.build().unwrap();
    let tensors = ScheduleTensors::new(&schedule, &cpu);
    let model = init_model(&config, &cpu);
    let batch = grad_support::fixed_batch(5, &cpu);
    let loss = batch_loss(&model, &tensors, batch.clone(), None);
    let whole_loss = loss.clone().into_scalar::<f32>();
    let whole = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
    let (shared, shared_loss) = sharded_gradients(&model, &tensors, batch, None, &[cpu, gpu]);
    let d = grad_support::GradDistance::of(&model, &whole, &shared);
    assert_eq!(d.missing, 0, "every parameter has a gradient");
    assert!(d.norm > 0.0);
    let rel = d.relative();
    eprintln!("|g_cpu - g_cpu+wgpu| / |g_cpu| = {rel:e}; loss {whole_loss} vs {shared_loss}");
    assert!(rel < 1e-4, "|g - g_shared| / |g| = {rel}");
    assert!(
        ((shared_loss - whole_loss) / whole_loss).abs() < 1e-5,
        "{shared_loss} vs {whole_loss}"
    );
}

#[test]
fn training_on_the_cpu_and_wgpu_together_is_the_two_thread_run() {
    // `ddpm train --devices cpu,wgpu`: the CPU and wgpu each take half of every batch. The
    // run is the same training as two CPU threads (`--threads 2`, the same two shares on one
    // device): the losses of its steps agree to float rounding.
    let losses = |extra: &[&str]| {
        let dir = std::env::temp_dir().join(format!(
            "ddpm-devices-{}-{}",
            extra.join("-").replace(',', "+"),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let mut args = vec![
            "train",
            "--preset",
            "tiny",
            "--steps",
            "3",
            "--batch",
            "4",
            "--sample-every",
            "1000",
            "--sampler",
            "ddim:2:1",
            "--checkpoint-every",
            "1000",
            "--run-dir",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ddpm"))
            .args(&args)
            .output()
            .expect("the ddpm binary runs");
        assert!(
            output.status.success(),
            "{args:?}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let csv = std::fs::read_to_string(dir.join("loss.csv")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap())
            .collect::<Vec<_>>()
    };
    let together = losses(&["--devices", "cpu,wgpu"]);
    let threads = losses(&["--threads", "2"]);
    eprintln!("losses: --devices cpu,wgpu {together:?}, --threads 2 {threads:?}");
    assert_eq!(together.len(), 3);
    for (a, b) in together.iter().zip(&threads) {
        assert!(((a - b) / b).abs() < 1e-3, "{together:?} vs {threads:?}");
    }
}

#[test]
fn a_training_step_on_wgpu_is_the_cpus() {
    // `ddpm train --backend wgpu|vulkan`: the batch and the schedule are made on the GPU (not
    // moved there as in `--devices`). From the same weights and batch, the loss and the
    // gradients are the CPU's to float rounding. burn 0.22.1's fusion once made this loss 3x
    // too large, and different at each call, on lavapipe (see `batch_loss`).
    use burn::optim::GradientsParams;
    use ddpm::network::ScheduleTensors;
    use ddpm::workflows::train::batch_loss;
    let cpu = Device::flex().autodiff();
    let gpu = BackendKind::Wgpu.device().unwrap().autodiff();
    let (model, config) = load_weights(&shipped(), true, &cpu).unwrap();
    let schedule = config.schedule.build().unwrap();
    let step = |model: &ddpm::network::UNet, device: &Device| {
        let tensors = ScheduleTensors::new(&schedule, device);
        let batch = grad_support::fixed_batch(5, device);
        let loss = batch_loss(model, &tensors, batch, None);
        let value = loss.clone().into_scalar::<f32>();
        (GradientsParams::from_grads(loss.backward(), model), value)
    };
    let (on_cpu, loss_cpu) = step(&model, &cpu);
    let copy = model.clone().fork(&gpu);
    let (on_gpu, loss_gpu) = step(&copy, &gpu);
    let on_gpu = on_gpu.to_device(&cpu, &copy);
    let d = grad_support::GradDistance::of(&model, &on_cpu, &on_gpu);
    let rel = d.relative();
    eprintln!("loss {loss_cpu} (cpu) vs {loss_gpu} (wgpu); |g_cpu - g_wgpu| / |g_cpu| = {rel:e}");
    assert_eq!(d.missing, 0, "every parameter has a gradient");
    assert!(
        ((loss_gpu - loss_cpu) / loss_cpu).abs() < 1e-4,
        "loss {loss_gpu} on wgpu, {loss_cpu} on the cpu"
    );
    assert!(rel < 1e-4, "|g_cpu - g_wgpu| / |g_cpu| = {rel}");
}
