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
