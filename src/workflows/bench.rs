//! `ddpm bench`: milliseconds per training step and per forward pass, and images per second,
//! for each preset at a given batch size (median of a few timed iterations after one warm-up).

use std::time::Instant;

use burn::prelude::*;

use super::checkpoint::optimizer;
use super::config::{ScheduleConfig, TrainingConfig};
use super::train::{Batch, init_model, parallel_train_step};
use crate::network::{ScheduleTensors, UNetConfig};

/// One preset's timings.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// Preset name.
    pub preset: String,
    /// Parameters.
    pub params: usize,
    /// Batch size.
    pub batch: usize,
    /// Median milliseconds per training step (forward, backward, clipping, Adam).
    pub train_step_ms: f64,
    /// Median milliseconds per forward pass without autodiff.
    pub forward_ms: f64,
}

impl BenchResult {
    /// Training images per second.
    pub fn train_images_per_s(&self) -> f64 {
        self.batch as f64 / (self.train_step_ms / 1000.0)
    }
    /// Sampling throughput: images per second per network evaluation.
    pub fn forward_images_per_s(&self) -> f64 {
        self.batch as f64 / (self.forward_ms / 1000.0)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn sync(x: Tensor<4>) {
    // Reading one value forces the computation on lazy (GPU) backends.
    let _ = x.slice([0..1, 0..1, 0..1, 0..1]).into_scalar::<f32>();
}

/// Times `model` (preset `name`) at `batch` for `iterations` timed iterations; the training
/// step computes its gradients in `threads` threads ([`parallel_train_step`]; 1 is
/// [`super::train::train_step`]).
pub fn bench_preset(
    name: &str,
    model: UNetConfig,
    batch: usize,
    iterations: usize,
    threads: usize,
    device: &Device,
) -> BenchResult {
    let config = TrainingConfig::new(model, ScheduleConfig::linear_1000(), 1).with_batch(batch);
    let schedule = config.schedule.build().expect("valid schedule");
    let train_device = device.clone().autodiff();
    let tensors = ScheduleTensors::new(&schedule, &train_device);
    let mut model = init_model(&config, &train_device);
    let params = model.num_params();
    let mut optim = optimizer();
    let size = config.model.image_size;
    let shape = [batch, config.model.image_channels, size, size];
    let make_batch = |d: &Device| Batch {
        x_start: Tensor::random(shape, burn::tensor::Distribution::Uniform(-1.0, 1.0), d),
        t: Tensor::<1, Int>::from_data(TensorData::new(vec![500i64; batch], [batch]), d),
        noise: Tensor::random(shape, burn::tensor::Distribution::Normal(0.0, 1.0), d),
        labels: None,
        target: None,
    };
    let mut train_ms = Vec::new();
    for i in 0..=iterations {
        let b = make_batch(&train_device);
        let start = Instant::now();
        let (next, _) =
            parallel_train_step(model, &mut optim, &tensors, b, None, 1e-4, 1.0, threads)
                .expect("finite loss");
        model = next;
        if i > 0 {
            train_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let eval = model.valid();
    let mut forward_ms = Vec::new();
    for i in 0..=iterations {
        let b = make_batch(device);
        let start = Instant::now();
        sync(eval.forward(b.x_start, b.t.float()));
        if i > 0 {
            forward_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    BenchResult {
        preset: name.to_string(),
        params,
        batch,
        train_step_ms: median(train_ms),
        forward_ms: median(forward_ms),
    }
}

/// One operation timed by `ddpm bench --ops`, at one of the U-Net's shapes. Serialised as
/// the PyTorch reference script (`scripts/torch_reference.py`) reads it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct OpSpec {
    /// A short label, e.g. `conv3x3 32->32 @28`.
    pub name: String,
    /// `conv`, `group_norm_silu` or `attention`.
    pub kind: String,
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels (convolutions).
    pub c_out: usize,
    /// Kernel side (convolutions).
    pub kernel: usize,
    /// Stride (convolutions).
    pub stride: usize,
    /// Padding (convolutions).
    pub padding: usize,
    /// GroupNorm groups (norms and attention).
    pub groups: usize,
    /// Whether SiLU follows the GroupNorm.
    pub silu: bool,
    /// Image side.
    pub side: usize,
}

impl OpSpec {
    fn conv(
        batch: usize,
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        side: usize,
    ) -> Self {
        Self {
            name: format!(
                "conv{kernel}x{kernel}{} {c_in}->{c_out} @{side}",
                if stride > 1 { " s2" } else { "" }
            ),
            kind: "conv".into(),
            batch,
            c_in,
            c_out,
            kernel,
            stride,
            padding: kernel / 2,
            groups: 1,
            silu: false,
            side,
        }
    }

    fn norm(batch: usize, channels: usize, side: usize, silu: bool) -> Self {
        Self {
            name: format!(
                "group_norm{} {channels} @{side}",
                if silu { "+silu" } else { "" }
            ),
            kind: "group_norm_silu".into(),
            batch,
            c_in: channels,
            c_out: channels,
            kernel: 0,
            stride: 1,
            padding: 0,
            groups: 8,
            silu,
            side,
        }
    }

    fn attention(batch: usize, channels: usize, side: usize) -> Self {
        Self {
            name: format!("attention {channels} @{side}"),
            kind: "attention".into(),
            batch,
            c_in: channels,
            c_out: channels,
            kernel: 0,
            stride: 1,
            padding: 0,
            groups: 8,
            silu: false,
            side,
        }
    }
}

/// The operations of the `paper` preset's U-Net, one of each kind and shape that dominates a
/// step: its 3x3 convolutions at each level (including the up path's wider inputs after a
/// skip concatenation), the stride-2 downsampling, the attention's 1x1 convolutions,
/// GroupNorm+SiLU at each level, and a whole attention block.
pub fn paper_ops(batch: usize) -> Vec<OpSpec> {
    vec![
        OpSpec::conv(batch, 32, 32, 3, 1, 28),
        OpSpec::conv(batch, 64, 32, 3, 1, 28),
        OpSpec::conv(batch, 32, 32, 3, 2, 28),
        OpSpec::conv(batch, 64, 64, 3, 1, 14),
        OpSpec::conv(batch, 128, 64, 3, 1, 14),
        OpSpec::conv(batch, 64, 64, 3, 1, 7),
        OpSpec::conv(batch, 64, 64, 1, 1, 7),
        OpSpec::norm(batch, 32, 28, true),
        OpSpec::norm(batch, 64, 14, true),
        OpSpec::norm(batch, 64, 7, false),
        OpSpec::attention(batch, 64, 7),
    ]
}

/// Milliseconds for one operation: its forward pass without autodiff, and forward plus
/// backward of `sum(out * r)` under autodiff (medians of `iterations` after one warm-up).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct OpTiming {
    /// [`OpSpec::name`].
    pub name: String,
    /// Forward pass, no autodiff.
    pub forward_ms: f64,
    /// Forward and backward pass.
    pub train_ms: f64,
}

/// Times one operation on `device` with whatever route [`crate::network::fast`] takes now.
pub fn bench_op(spec: &OpSpec, iterations: usize, device: &Device) -> OpTiming {
    use crate::network::fast;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::{GroupNormConfig, PaddingConfig2d};

    let train_device = device.clone().autodiff();
    let shape = [spec.batch, spec.c_in, spec.side, spec.side];
    let build = |d: &Device| -> Box<dyn Fn(Tensor<4>) -> Tensor<4>> {
        match spec.kind.as_str() {
            "conv" => {
                let conv = Conv2dConfig::new([spec.c_in, spec.c_out], [spec.kernel, spec.kernel])
                    .with_stride([spec.stride, spec.stride])
                    .with_padding(PaddingConfig2d::Explicit(
                        spec.padding,
                        spec.padding,
                        spec.padding,
                        spec.padding,
                    ))
                    .init(d);
                Box::new(move |x| fast::conv2d(&conv, x))
            }
            "group_norm_silu" => {
                let norm = GroupNormConfig::new(spec.groups, spec.c_in).init(d);
                let silu = spec.silu;
                Box::new(move |x| fast::group_norm(&norm, x, silu))
            }
            _ => {
                let block =
                    crate::network::AttentionBlock::new_for_bench(spec.c_in, spec.groups, d);
                Box::new(move |x| block.forward(x))
            }
        }
    };
    let time = |f: &dyn Fn()| {
        f();
        let mut ms = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let start = Instant::now();
            f();
            ms.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        median(ms)
    };
    let op = build(device);
    let x = Tensor::<4>::random(shape, burn::tensor::Distribution::Normal(0.0, 1.0), device);
    let forward_ms = time(&|| sync(op(x.clone())));
    let op = build(&train_device);
    let x = Tensor::<4>::random(
        shape,
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &train_device,
    )
    .require_grad();
    let r = op(x.clone()).detach();
    let r = Tensor::<4>::random(
        r.dims(),
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &train_device,
    );
    let train_ms = time(&|| {
        let grads = (op(x.clone()) * r.clone()).sum().backward();
        let g = x.grad(&grads).expect("the input has a gradient");
        let _ = g.slice([0..1, 0..1, 0..1, 0..1]).into_scalar::<f32>();
    });
    OpTiming {
        name: spec.name.clone(),
        forward_ms,
        train_ms,
    }
}

/// What `scripts/torch_reference.py` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct TorchReport {
    /// PyTorch's version string.
    pub torch_version: String,
    /// Its intra-op threads.
    pub threads: usize,
    /// Per preset: `preset`, `params`, `batch`, `train_step_ms`, `forward_ms`.
    pub presets: Vec<TorchPreset>,
    /// Per operation.
    pub ops: Vec<OpTiming>,
}

/// One preset timed by PyTorch.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct TorchPreset {
    /// Preset name.
    pub preset: String,
    /// Parameters of the PyTorch network (checked equal to ours by the script).
    pub params: usize,
    /// Batch size.
    pub batch: usize,
    /// Median ms per training step.
    pub train_step_ms: f64,
    /// Median ms per forward pass.
    pub forward_ms: f64,
}

/// One preset's row of a [`BenchReport`]: this crate's timings, and where measured in the
/// same run, burn's own operations' and PyTorch's.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct PresetRow {
    /// Preset name.
    pub preset: String,
    /// Parameters.
    pub params: usize,
    /// Batch size.
    pub batch: usize,
    /// ms per training step, this crate.
    pub train_step_ms: f64,
    /// ms per forward pass, this crate.
    pub forward_ms: f64,
    /// ms per training step with burn's own operations.
    pub burn_train_step_ms: Option<f64>,
    /// ms per forward pass with burn's own operations.
    pub burn_forward_ms: Option<f64>,
    /// ms per training step, PyTorch.
    pub torch_train_step_ms: Option<f64>,
    /// ms per forward pass, PyTorch.
    pub torch_forward_ms: Option<f64>,
}

/// One operation's row of a [`BenchReport`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct OpRow {
    /// [`OpSpec::name`].
    pub name: String,
    /// Forward ms, this crate.
    pub forward_ms: f64,
    /// Forward+backward ms, this crate.
    pub train_ms: f64,
    /// Forward ms, burn's own operations.
    pub burn_forward_ms: Option<f64>,
    /// Forward+backward ms, burn's own operations.
    pub burn_train_ms: Option<f64>,
    /// Forward ms, PyTorch.
    pub torch_forward_ms: Option<f64>,
    /// Forward+backward ms, PyTorch.
    pub torch_train_ms: Option<f64>,
}

/// Everything one `ddpm bench` run measured (`--report FILE` writes it as JSON).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct BenchReport {
    /// The command line.
    pub command: String,
    /// The CPU model and logical core count, read from the system.
    pub machine: String,
    /// Batch size.
    pub batch: usize,
    /// Timed iterations per median.
    pub iterations: usize,
    /// Threads of the training step's data-parallel gradients.
    pub threads: usize,
    /// PyTorch's version, when it ran.
    pub torch_version: Option<String>,
    /// Per preset.
    pub presets: Vec<PresetRow>,
    /// Per operation (`--ops`).
    pub ops: Vec<OpRow>,
}

/// The CPU model (from `/proc/cpuinfo` where there is one) and the logical core count.
pub fn machine_description() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {cores} logical cores")
}

impl BenchReport {
    /// Puts the run's timings side by side; `burn_*` and `torch` may be empty.
    pub fn new(
        command: String,
        batch: usize,
        iterations: usize,
        threads: usize,
        (ours, burn_presets): (&[BenchResult], &[BenchResult]),
        (ours_ops, burn_ops): (&[OpTiming], &[OpTiming]),
        torch: Option<&TorchReport>,
    ) -> Self {
        let presets = ours
            .iter()
            .map(|r| {
                let burn = burn_presets.iter().find(|b| b.preset == r.preset);
                let torch = torch.and_then(|t| t.presets.iter().find(|p| p.preset == r.preset));
                PresetRow {
                    preset: r.preset.clone(),
                    params: r.params,
                    batch: r.batch,
                    train_step_ms: r.train_step_ms,
                    forward_ms: r.forward_ms,
                    burn_train_step_ms: burn.map(|b| b.train_step_ms),
                    burn_forward_ms: burn.map(|b| b.forward_ms),
                    torch_train_step_ms: torch.map(|t| t.train_step_ms),
                    torch_forward_ms: torch.map(|t| t.forward_ms),
                }
            })
            .collect();
        let ops = ours_ops
            .iter()
            .map(|o| {
                let burn = burn_ops.iter().find(|b| b.name == o.name);
                let torch = torch.and_then(|t| t.ops.iter().find(|p| p.name == o.name));
                OpRow {
                    name: o.name.clone(),
                    forward_ms: o.forward_ms,
                    train_ms: o.train_ms,
                    burn_forward_ms: burn.map(|b| b.forward_ms),
                    burn_train_ms: burn.map(|b| b.train_ms),
                    torch_forward_ms: torch.map(|t| t.forward_ms),
                    torch_train_ms: torch.map(|t| t.train_ms),
                }
            })
            .collect();
        Self {
            command,
            machine: machine_description(),
            batch,
            iterations,
            threads,
            torch_version: torch.map(|t| t.torch_version.clone()),
            presets,
            ops,
        }
    }

    /// The report as two text tables: ms for ddpm, burn's operations and PyTorch, and the
    /// ratios ddpm / PyTorch and burn / PyTorch (`-` where not measured).
    pub fn table(&self) -> String {
        // "ddpm / burn / torch | ddpm/torch burn/torch" for one timing
        let side_by_side = |ddpm: f64, burn: Option<f64>, torch: Option<f64>| {
            let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
            let ratio = |a: Option<f64>| match (a, torch) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                _ => "-".to_string(),
            };
            format!(
                "{:>22} | {:>9} {:>9}",
                format!("{} / {} / {}", cell(Some(ddpm)), cell(burn), cell(torch)),
                ratio(Some(ddpm)),
                ratio(burn)
            )
        };
        let heading = |what: &str| {
            format!(
                "{:>22} | {:>9} {:>9}",
                format!("{what} ms: ddpm/burn/torch"),
                "ddpm/torch",
                "burn/torch"
            )
        };
        let mut out = format!("machine: {}\n\n", self.machine);
        out += &format!(
            "{:<8} {:>9} {:>5} | {} | {}\n",
            "preset",
            "params",
            "batch",
            heading("train"),
            heading("forward")
        );
        for r in &self.presets {
            out += &format!(
                "{:<8} {:>9} {:>5} | {} | {}\n",
                r.preset,
                r.params,
                r.batch,
                side_by_side(r.train_step_ms, r.burn_train_step_ms, r.torch_train_step_ms),
                side_by_side(r.forward_ms, r.burn_forward_ms, r.torch_forward_ms),
            );
        }
        if !self.ops.is_empty() {
            out += &format!(
                "\n{:<26} | {} | {}\n",
                format!("operation (batch {})", self.batch),
                heading("forward"),
                heading("fwd+bwd")
            );
            for o in &self.ops {
                out += &format!(
                    "{:<26} | {} | {}\n",
                    o.name,
                    side_by_side(o.forward_ms, o.burn_forward_ms, o.torch_forward_ms),
                    side_by_side(o.train_ms, o.burn_train_ms, o.torch_train_ms),
                );
            }
        }
        out
    }
}
