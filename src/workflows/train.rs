//! Training (chapter 13): $L_\text{simple}$ with $\epsilon$-prediction (Ho et al. 2020,
//! Algorithm 1 and Eq. (14)), Adam with linear warmup, global-norm gradient clipping, an EMA of
//! the weights, periodic sample grids and atomic checkpoints that resume exactly.
//!
//! Randomness: one seeded `ChaCha8Rng` on the host draws the batch indices, timesteps and noise
//! (its position is saved in each checkpoint); the device generator, used only by dropout, is
//! reseeded from `(seed, step)` at every step; the initial weights come from the device
//! generator seeded with `seed`. Hence the same config gives the same run, and a resumed run
//! continues exactly where the checkpoint left it.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::checkpoint::{self, CheckpointError, TrainState};
use super::config::{LrSchedule, TrainingConfig, TrainingConfigError};
use super::ema::{ema_decay_at, ema_update};
use super::images::{self, ImageError};
use super::sample::{SampleOptions, sample};
use super::{RunLayout, write_atomic};
use crate::data::{DataError, DataSource, ImageSet, Split};
use crate::diffusion::bound::min_snr_weights;
use crate::diffusion::schedule::NoiseSchedule;
use crate::network::{Guided, ScheduleTensors, UNet, UNetConfig};

/// Everything that can stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] TrainingConfigError),
    /// The data could not be loaded.
    #[error("cannot load training data: {0}")]
    Data(#[from] DataError),
    /// Checkpoint or weights I/O.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Writing an image.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Other file I/O.
    #[error(
        "cannot write {path}: {source}; the run folder must be writable and its disk have room"
    )]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The loss became NaN or infinite.
    #[error(
        "the loss became {loss} at step {step}: training diverged and was stopped. {}. Try a \
         lower --lr, a longer warmup or a smaller --grad-clip",
        describe_checkpoint(.checkpoint)
    )]
    NonFinite {
        /// The step whose loss was not finite.
        step: usize,
        /// The loss.
        loss: f32,
        /// The last good checkpoint.
        checkpoint: Option<PathBuf>,
    },
    /// The run folder is not empty (it holds a run, or anything else: `entry`) and `--resume`
    /// was not given.
    #[error(
        "{} is not empty (it holds {}): pass --resume to continue the run in it, or choose a \
         new or empty --run-dir",
        .0.display(),
        .1
    )]
    RunExists(PathBuf, String),
    /// The teacher or guide of a distillation run cannot be used.
    #[error(transparent)]
    Distill(#[from] super::distill::DistillError),
    /// Resuming with a different configuration than the run's.
    #[error(
        "the run's config.json differs from the requested configuration ({0}); resume with \
         the same settings (only --steps may grow) or start a new run"
    )]
    ConfigMismatch(String),
}

fn describe_checkpoint(checkpoint: &Option<PathBuf>) -> String {
    match checkpoint {
        Some(p) => format!(
            "The last good checkpoint is {}; resume from it with --resume",
            p.display()
        ),
        None => "No checkpoint was written yet".into(),
    }
}

/// How to run (not part of the run's identity).
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Continue from the newest checkpoint in `run_dir`.
    pub resume: bool,
    /// Draw a progress bar.
    pub progress: bool,
    /// The device (without autodiff; training adds it). It holds the model, the optimiser and
    /// the EMA, and computes its share of each batch.
    pub device: Device,
    /// More devices (without autodiff), each computing an equal share of every batch's
    /// gradients in its own thread ([`sharded_gradients`]; `ddpm train --devices`). Empty:
    /// `device` alone.
    pub peers: Vec<Device>,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Steps completed in total.
    pub steps: usize,
    /// Steps done in this invocation.
    pub steps_this_session: usize,
    /// Mean loss of the last (up to) 100 steps.
    pub final_loss: f64,
    /// Per-step losses of this invocation.
    pub losses: Vec<f32>,
    /// Wall time of this invocation, in seconds.
    pub seconds: f64,
    /// The final sample grid.
    pub final_grid: PathBuf,
}

/// One training batch, drawn on the host.
#[derive(Debug, Clone)]
pub struct Batch {
    /// $x_0$, `[batch, 1, 28, 28]` in $[-1, 1]$.
    pub x_start: Tensor<4>,
    /// $t \sim \mathrm{Uniform}\{1, \dots, T\}$, `[batch]`.
    pub t: Tensor<1, Int>,
    /// $\epsilon \sim \mathcal N(0, I)$, like `x_start`.
    pub noise: Tensor<4>,
    /// The class labels of a conditional run (`[batch]`, the null class where dropped;
    /// chapter 18), `None` for an unconditional one.
    pub labels: Option<Tensor<1, Int>>,
    /// What the network's prediction is regressed on, like `noise`: `None` is $\epsilon$
    /// itself ($L_\text{simple}$); a distillation run puts its teacher's prediction here
    /// ([`super::distill::Distiller::attach`]).
    pub target: Option<Tensor<4>>,
}

impl Batch {
    /// The same batch on `device`.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            x_start: self.x_start.to_device(device),
            t: self.t.to_device(device),
            noise: self.noise.to_device(device),
            labels: self.labels.map(|l| l.to_device(device)),
            target: self.target.map(|y| y.to_device(device)),
        }
    }
}

/// Draws a batch: `batch` images uniformly with replacement, one timestep and one noise image
/// each.
pub fn draw_batch(
    data: &ImageSet,
    batch: usize,
    num_timesteps: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Batch {
    let indices: Vec<usize> = (0..batch)
        .map(|_| rng.random_range(0..data.len()))
        .collect();
    batch_of(data, &indices, num_timesteps, rng, device)
}

/// [`draw_batch`] with the images' class labels, each replaced by the null class
/// `num_classes` with probability `label_dropout` ([`super::conditional::drop_labels`]).
pub fn draw_conditional_batch(
    data: &ImageSet,
    batch: usize,
    num_timesteps: usize,
    num_classes: usize,
    label_dropout: f64,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Batch {
    let indices: Vec<usize> = (0..batch)
        .map(|_| rng.random_range(0..data.len()))
        .collect();
    let mut out = batch_of(data, &indices, num_timesteps, rng, device);
    let labels: Vec<usize> = indices
        .iter()
        .map(|&i| usize::from(data.label(i)))
        .collect();
    let labels = super::conditional::drop_labels(&labels, label_dropout, num_classes, rng);
    out.labels = Some(crate::network::conditional::label_tensor(&labels, device));
    out
}

/// The images `indices` of `data`, one timestep and one noise image each.
fn batch_of(
    data: &ImageSet,
    indices: &[usize],
    num_timesteps: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Batch {
    let batch = indices.len();
    let t: Vec<i64> = (0..batch)
        .map(|_| rng.random_range(1..=num_timesteps as i64))
        .collect();
    let shape = [batch, 1, data.rows, data.cols];
    let n = batch * data.rows * data.cols;
    let noise: Vec<f32> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
    Batch {
        x_start: Tensor::from_data(
            TensorData::new(data.symmetric_batch(indices), shape),
            device,
        ),
        t: Tensor::from_data(TensorData::new(t, [batch]), device),
        noise: Tensor::from_data(TensorData::new(noise, shape), device),
        labels: None,
        target: None,
    }
}

/// Sum of squares of all gradients of `model`'s parameters.
struct GradNormSquared<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for GradNormSquared<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

/// Multiplies every gradient by a factor.
struct ScaleGrads<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for ScaleGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Clips the global gradient norm to `max_norm` (TensorFlow's `clip_by_global_norm`, as in
/// Ho et al.'s code); returns the norm before clipping.
pub fn clip_global_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut norm = GradNormSquared { grads, sum: None };
    model.visit(&mut norm);
    let norm = norm
        .sum
        .map(|s| f64::from(s.into_scalar::<f32>()).sqrt())
        .unwrap_or(0.0);
    if norm > max_norm {
        model.visit(&mut ScaleGrads {
            grads,
            factor: max_norm / norm,
        });
    }
    norm
}

/// Learning rate at `step` (0-based): linear warmup to `lr` over `warmup` steps, then constant
/// (Ho et al. 2020, Appendix B).
pub fn learning_rate(step: usize, lr: f64, warmup: usize) -> f64 {
    if warmup == 0 {
        lr
    } else {
        lr * ((step + 1) as f64 / warmup as f64).min(1.0)
    }
}

/// Learning rate at `step` (0-based) of a run of `steps` steps: [`learning_rate`]'s warmup,
/// then `schedule` ([`LrSchedule::Cosine`]: $\eta_\text{max}\,\tfrac12(1 + \cos(\pi p))$ with
/// $p$ the share of the post-warmup steps already taken, so the last step uses a small but
/// positive rate). `None` is [`LrSchedule::Constant`].
///
/// ```
/// use ddpm::workflows::{config::LrSchedule, train::scheduled_learning_rate};
/// let cos = Some(LrSchedule::Cosine);
/// assert_eq!(scheduled_learning_rate(9, 111, 1e-3, 10, cos), 1e-3); // end of warmup
/// assert!((scheduled_learning_rate(60, 111, 1e-3, 10, cos) - 0.5e-3).abs() < 1e-12); // half way
/// assert!(scheduled_learning_rate(110, 111, 1e-3, 10, cos) < 1e-6); // last step
/// assert_eq!(scheduled_learning_rate(110, 111, 1e-3, 10, None), 1e-3);
/// ```
pub fn scheduled_learning_rate(
    step: usize,
    steps: usize,
    lr: f64,
    warmup: usize,
    schedule: Option<LrSchedule>,
) -> f64 {
    let warm = learning_rate(step, lr, warmup);
    match schedule {
        None | Some(LrSchedule::Constant) => warm,
        Some(LrSchedule::Cosine) => {
            if step < warmup {
                return warm;
            }
            // p = 0 at the last warmup step (rate lr), (steps - warmup) / span < 1 at the last.
            let span = steps.saturating_sub(warmup) + 1;
            let p = ((step + 1 - warmup) as f64 / span as f64).min(1.0);
            warm * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
        }
    }
}

/// Loss and gradient norm of one step.
#[derive(Debug, Clone, Copy)]
pub struct StepStats {
    /// $L_\text{simple}$ on the batch (before the update).
    pub loss: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

// ANCHOR: train_step
/// $L_\text{simple}$ (Ho et al. 2020, Eq. (14)) of a batch: $x_t = \sqrt{\bar\alpha_t}x_0 +
/// \sqrt{1-\bar\alpha_t}\epsilon$, then $\lVert\epsilon - \epsilon_\theta(x_t, t)\rVert^2$
/// averaged over pixels and batch (with a [`Batch::target`], the target takes $\epsilon$'s
/// place in the error; $x_t$ is still made with $\epsilon$). With `loss_weights` (`[T]`, e.g.
/// [`crate::diffusion::bound::min_snr_weights`]) each example's squared error is multiplied by
/// the weight of its $t$ first.
pub fn batch_loss(
    model: &UNet,
    schedule: &ScheduleTensors,
    batch: Batch,
    loss_weights: Option<&Tensor<1>>,
) -> Tensor<1> {
    let x_t = schedule.q_sample(batch.x_start, &batch.t, batch.noise.clone()); // [b, 1, 28, 28]
    let predicted = match batch.labels {
        None => model.forward(x_t, batch.t.clone().float()), // [b, 1, 28, 28]
        Some(labels) => model.forward_conditional(x_t, batch.t.clone().float(), labels),
    };
    // `predicted` stays alive until the mean is taken: consumed here, burn 0.22.1's fusion
    // gave wrong losses and gradients on wgpu/vulkan (chapter 14, "Backends").
    let target = batch.target.unwrap_or(batch.noise); // [b, 1, 28, 28]
    let squared_error = (predicted.clone() - target).square(); // [b, 1, 28, 28]
    let loss = match loss_weights {
        None => squared_error.mean(), // [1]
        Some(w) => (squared_error * ScheduleTensors::extract(w, &batch.t)).mean(), // [1]
    };
    drop(predicted);
    loss
}

/// One step of Algorithm 1 (Ho et al. 2020): the gradient of [`batch_loss`], then a clipped
/// Adam update. Returns `Err(loss)` without updating when the loss is not finite.
pub fn train_step(
    model: UNet,
    optim: &mut ModuleOptimizer,
    schedule: &ScheduleTensors,
    batch: Batch,
    loss_weights: Option<&Tensor<1>>,
    lr: f64,
    grad_clip_norm: f64,
) -> Result<(UNet, StepStats), f32> {
    let loss = batch_loss(&model, schedule, batch, loss_weights);
    let loss_value = loss.clone().into_scalar::<f32>();
    if !loss_value.is_finite() {
        return Err(loss_value);
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    Ok(update(model, optim, grads, loss_value, lr, grad_clip_norm))
}

/// The clipped Adam update of a step whose loss is `loss`.
fn update(
    model: UNet,
    optim: &mut ModuleOptimizer,
    mut grads: GradientsParams,
    loss: f32,
    lr: f64,
    grad_clip_norm: f64,
) -> (UNet, StepStats) {
    let grad_norm = clip_global_norm(&model, &mut grads, grad_clip_norm);
    let model = optim.step(lr, model, grads);
    (model, StepStats { loss, grad_norm })
}
// ANCHOR_END: train_step

/// Adds the gradients of `from` into `into`, parameter by parameter.
struct AddGrads<'a> {
    into: &'a mut GradientsParams,
    from: &'a mut GradientsParams,
}

impl ModuleVisitor for AddGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(b) = self.from.remove::<D>(param.id) {
            let sum = match self.into.remove::<D>(param.id) {
                Some(a) => a + b,
                None => b,
            };
            self.into.register(param.id, sum);
        }
    }
}

/// The rows `range` of a batch.
fn batch_rows(batch: &Batch, range: std::ops::Range<usize>) -> Batch {
    Batch {
        x_start: batch.x_start.clone().slice(range.clone()),
        t: batch.t.clone().slice(range.clone()),
        noise: batch.noise.clone().slice(range.clone()),
        labels: batch
            .labels
            .as_ref()
            .map(|l| l.clone().slice(range.clone())),
        target: batch.target.as_ref().map(|y| y.clone().slice(range)),
    }
}

// ANCHOR: parallel_train_step
/// The gradients and loss of [`train_step`]'s batch, computed in `threads` threads (data
/// parallelism): the batch is cut into `threads` contiguous shares, each thread runs the
/// forward and backward pass of its share on its own copy of the model ([`Module::fork`]: the
/// same parameters and ids, its own autodiff graph), with the share's loss scaled by its size
/// over the batch's, so that the shares' losses and gradients add up to those of the whole
/// batch (up to float rounding). Returns the summed gradients and the batch's loss.
/// `threads` is kept within 1..=batch size. The threads share burn's random generator, so a
/// model with dropout would get masks that depend on their timing: [`TrainingConfig::validate`]
/// refuses more than one thread with dropout. The work is [`sharded_gradients`]'s, with every
/// share on the batch's device.
pub fn parallel_gradients(
    model: &UNet,
    schedule: &ScheduleTensors,
    batch: Batch,
    loss_weights: Option<&Tensor<1>>,
    threads: usize,
) -> (GradientsParams, f32) {
    let n = batch.t.dims()[0];
    let device = batch.noise.device();
    let devices = vec![device; threads.clamp(1, n.max(1))];
    sharded_gradients(model, schedule, batch, loss_weights, &devices)
}

/// [`train_step`] with the gradients of [`parallel_gradients`] ([`sharded_train_step`] with
/// every share on the batch's device): one clipped Adam update of the whole batch's gradient. burn's CPU backend keeps only about 1.2 of 2 cores busy in a
/// single-threaded step, so on a 2-core machine 2 threads take a step in less time
/// (`ddpm bench --threads 2`; chapter 14). With `threads <= 1` this is [`train_step`] itself.
#[allow(clippy::too_many_arguments)] // train_step's seven, and the thread count
pub fn parallel_train_step(
    model: UNet,
    optim: &mut ModuleOptimizer,
    schedule: &ScheduleTensors,
    batch: Batch,
    loss_weights: Option<&Tensor<1>>,
    lr: f64,
    grad_clip_norm: f64,
    threads: usize,
) -> Result<(UNet, StepStats), f32> {
    if threads <= 1 {
        return train_step(
            model,
            optim,
            schedule,
            batch,
            loss_weights,
            lr,
            grad_clip_norm,
        );
    }
    let n = batch.t.dims()[0];
    let devices = vec![batch.noise.device(); threads.clamp(1, n.max(1))];
    sharded_train_step(
        model,
        optim,
        schedule,
        batch,
        loss_weights,
        lr,
        grad_clip_norm,
        &devices,
    )
}
// ANCHOR_END: parallel_train_step

// ANCHOR: sharded_gradients
/// [`parallel_gradients`] with one share per entry of `devices`, each computed on that device
/// in a thread of its own (as a task of the CPU kernels' rayon pool when every share is on the
/// batch's device): the model is forked onto it, the share, the schedule and the loss
/// weights are copied to it, and its gradients are copied back to the batch's device and
/// added there. Several GPUs of one machine train together this way (`ddpm train --devices
/// cuda:0,cuda:1`), and so do unlike devices (the CPU and a wgpu device: tests/backends.rs).
/// An entry may repeat (the same device in two threads, as `--threads` does). `devices` must
/// be autodiff devices; entries beyond the batch size are left idle, and an empty list means
/// the batch's device alone. The batch's device should be one of them (it holds the summed
/// gradients and the optimiser).
pub fn sharded_gradients(
    model: &UNet,
    schedule: &ScheduleTensors,
    batch: Batch,
    loss_weights: Option<&Tensor<1>>,
    devices: &[Device],
) -> (GradientsParams, f32) {
    let n = batch.t.dims()[0];
    let home = batch.noise.device();
    let only_home = [home.clone()];
    let devices = if devices.is_empty() {
        &only_home[..]
    } else {
        devices
    };
    let shares_count = devices.len().min(n.max(1));
    // Each share's inputs, on its device: the model forked there, the rows of the batch, the
    // loss weights and the schedule.
    let jobs: Vec<_> = devices[..shares_count]
        .iter()
        .enumerate()
        .map(|(i, device)| {
            let (lo, hi) = (i * n / shares_count, (i + 1) * n / shares_count);
            let away = *device != home;
            let mut share = batch_rows(&batch, lo..hi);
            let copy = model.clone().fork(device);
            let mut weights = loss_weights.cloned();
            let mut schedule = std::borrow::Cow::Borrowed(schedule);
            if away {
                share = share.to_device(device);
                weights = weights.map(|w| w.to_device(device));
                schedule = std::borrow::Cow::Owned(schedule.to_device(device));
            }
            (
                copy,
                share,
                weights,
                schedule,
                (hi - lo) as f64 / n as f64,
                away,
            )
        })
        .collect();
    let home = &home;
    let run = |(copy, share, weights, schedule, fraction, away): (
        UNet,
        Batch,
        Option<Tensor<1>>,
        std::borrow::Cow<'_, ScheduleTensors>,
        f64,
        bool,
    )| {
        let mean = batch_loss(&copy, &schedule, share, weights.as_ref());
        let loss = mean.mul_scalar(fraction); // [1]
        let value = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &copy);
        let grads = if away {
            grads.to_device(home, &copy)
        } else {
            grads
        };
        (grads, value)
    };
    let on_pool = devices[..shares_count].iter().all(|d| d == home);
    let shares: Vec<(GradientsParams, f32)> = if on_pool {
        // Every share on the batch's device (`--threads`): the shares run as tasks of rayon's
        // pool, the threads the CPU kernels spread their loops over. A kernel called from a
        // pool thread queues its parts on that thread, which runs them itself unless another
        // thread is idle; called from a thread of its own, every kernel would hand its parts
        // to the pool and sleep until they are done, a wake-up and a sleep per operation
        // (hundreds per step), which cost 2-core machines a large share of each step. A
        // thread waiting inside a kernel may run another share from its queue in the
        // meantime; that share records into its own autodiff graph (its own fork of the
        // model), never into the one whose lock the waiting thread holds, so it cannot block.
        use rayon::prelude::*;
        jobs.into_par_iter().map(run).collect()
    } else {
        // Shares on other devices (`--devices`), which wait on their GPUs: one thread each.
        let run = &run;
        std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|job| scope.spawn(move || run(job)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a training thread panicked"))
                .collect()
        })
    };
    let loss: f32 = shares.iter().map(|(_, v)| v).sum();
    let mut shares = shares.into_iter();
    let (mut grads, _) = shares.next().expect("at least one share");
    for (mut from, _) in shares {
        model.visit(&mut AddGrads {
            into: &mut grads,
            from: &mut from,
        });
    }
    (grads, loss)
}
// ANCHOR_END: sharded_gradients

/// [`parallel_train_step`] with one share of the batch per entry of `devices`
/// ([`sharded_gradients`]); the update runs on the batch's device.
#[allow(clippy::too_many_arguments)] // train_step's seven, and the devices
pub fn sharded_train_step(
    model: UNet,
    optim: &mut ModuleOptimizer,
    schedule: &ScheduleTensors,
    batch: Batch,
    loss_weights: Option<&Tensor<1>>,
    lr: f64,
    grad_clip_norm: f64,
    devices: &[Device],
) -> Result<(UNet, StepStats), f32> {
    let (grads, loss_value) = sharded_gradients(&model, schedule, batch, loss_weights, devices);
    if !loss_value.is_finite() {
        return Err(loss_value);
    }
    Ok(update(model, optim, grads, loss_value, lr, grad_clip_norm))
}

/// Initialises every parameter now (burn initialises lazily), in a fixed order, from the
/// device generator seeded with `seed`, so that initial weights depend on the seed only.
pub fn init_model(config: &TrainingConfig, device: &Device) -> UNet {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    device.seed(config.seed);
    let model = config.model.init(device).expect("validated config");
    model.visit(&mut Touch);
    model
}

/// The network a new run starts from: [`init_model`], or the weights of
/// `config.init_weights` (given a label embedding when `config` is conditional and they are
/// not).
///
/// # Errors
/// [`TrainError::Checkpoint`] when the folder cannot be loaded, [`TrainError::ConfigMismatch`]
/// when its network differs from `config.model` in more than `num_classes`.
pub fn initial_model(config: &TrainingConfig, device: &Device) -> Result<UNet, TrainError> {
    let Some(dir) = &config.init_weights else {
        return Ok(init_model(config, device));
    };
    let (model, saved) = checkpoint::load_weights(std::path::Path::new(dir), true, device)?;
    let same_but_labels = UNetConfig {
        num_classes: config.model.num_classes,
        ..saved.model.clone()
    };
    if same_but_labels != config.model {
        return Err(TrainError::ConfigMismatch(format!(
            "--init-weights {dir} holds the network {}, but the run asks for {}; start from \
             weights of the same preset",
            serde_json::to_string(&saved.model).unwrap_or_default(),
            serde_json::to_string(&config.model).unwrap_or_default()
        )));
    }
    device.seed(config.seed);
    Ok(match (saved.model.num_classes, config.model.num_classes) {
        (None, Some(n)) => model.into_conditional(n, device),
        _ => model,
    })
}

/// The device seed for dropout at `step` (a SplitMix64 mix of seed and step).
fn step_seed(seed: u64, step: usize) -> u64 {
    let mut z = seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The name of one entry of `dir` (`None` if it is empty or does not exist), ignoring the
/// `.NAME.tmp` files an interrupted atomic write leaves behind.
fn first_entry(dir: &std::path::Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !(n.starts_with('.') && n.ends_with(".tmp")))
        .collect();
    names.sort();
    names.into_iter().next()
}

/// Loads the training images of `config.data`.
///
/// # Errors
/// [`DataError`] when the source cannot be read.
pub fn load_training_data(config: &TrainingConfig) -> Result<ImageSet, DataError> {
    let source: DataSource = config.data.parse()?;
    let data = crate::data::load(&source, Split::Train)?;
    Ok(if config.max_images > 0 {
        data.take(config.max_images)
    } else {
        data
    })
}

/// Sample grid of the EMA model with fixed noise (seed 0 offset from the run seed), so grids
/// of successive steps show the same 36 starting points.
fn write_grid(
    ema: &UNet,
    schedule: &NoiseSchedule,
    config: &TrainingConfig,
    device: &Device,
    path: &std::path::Path,
) -> Result<(), TrainError> {
    let options = SampleOptions {
        sampler: config.grid_sampler(),
        clip_x0: true,
        seed: config.seed.wrapping_add(1),
        count: 36,
        frames: 0,
    };
    let draw = |model: &dyn crate::network::NoisePredictor| {
        sample(
            model,
            schedule,
            config.model.image_channels,
            config.model.image_size,
            &options,
            device,
            |_, _| {},
        )
        .expect("training configs carry valid sampling settings")
    };
    // A conditional run's grid asks for the digits 0, 1, ..., 9, 0, ... in turn.
    let samples = match ema.num_classes() {
        None => draw(ema),
        Some(n) => {
            let labels = (0..options.count).map(|i| i % n).collect();
            let guided = Guided::new(ema, labels, super::conditional::TRAINING_GRID_GUIDANCE)
                .expect("labels below num_classes");
            draw(&guided)
        }
    };
    images::save_grid(
        path,
        &samples.images,
        samples.count,
        config.model.image_size,
    )?;
    Ok(())
}

// ANCHOR: train
/// Trains a DDPM as `config` says, writing into `options.run_dir` (layout: [`RunLayout`]).
///
/// # Errors
/// [`TrainError`]: invalid config, unreadable data, I/O failures, or a non-finite loss (the
/// last good checkpoint is kept and named in the message).
pub fn train(config: &TrainingConfig, options: &TrainOptions) -> Result<TrainReport, TrainError> {
    let started = Instant::now();
    let schedule = config.validate()?;
    let layout = RunLayout::new(&options.run_dir);
    let device = options.device.clone();
    let train_device = device.clone().autodiff();
    let peer_devices: Vec<Device> = options
        .peers
        .iter()
        .map(|peer| peer.clone().autodiff())
        .collect();
    // A device in two shares gives both threads one random generator, so dropout masks would
    // depend on their timing (as with --threads; TrainingConfig::validate refuses that).
    let mut distinct = vec![device.clone()];
    for peer in &options.peers {
        if config.model.dropout > 0.0 && distinct.contains(peer) {
            return Err(TrainingConfigError::Setting {
                name: "devices",
                value: format!("{peer:?} twice"),
                hint: "with dropout, each device may take only one share (its random \
                       generator is seeded per step): list each device once",
            }
            .into());
        }
        distinct.push(peer.clone());
    }
    let shares = config.threads.unwrap_or(1) + peer_devices.len();
    if shares > config.batch {
        return Err(TrainingConfigError::Setting {
            name: "devices",
            value: format!(
                "{shares} shares (threads and devices) for a batch of {}",
                config.batch
            ),
            hint: "each thread and each device needs at least one image of the batch: use \
                   fewer devices or a larger --batch",
        }
        .into());
    }
    let io = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| TrainError::Io { path, source }
    };

    // The data first: a wrong --data is refused before anything is written.
    let data = load_training_data(config)?;
    data.require_size(config.model.image_size, config.model.image_size)?;
    // A distillation run's teacher and guide: a wrong folder is refused before anything is
    // written, too.
    let distiller = match &config.distill {
        Some(distill) => Some(super::distill::Distiller::load(distill, config, &device)?),
        None => None,
    };

    // A new run or a resumed one.
    let resumed = if options.resume {
        if !layout.config().exists() {
            return Err(CheckpointError::NothingToResume {
                dir: layout.root.clone(),
            }
            .into());
        }
        let saved = checkpoint::read_config(&layout.config())?;
        let mut comparable = saved.clone();
        comparable.steps = config.steps;
        if comparable != *config {
            return Err(TrainError::ConfigMismatch(format!(
                "saved {}, requested {}",
                serde_json::to_string(&saved).unwrap_or_default(),
                serde_json::to_string(config).unwrap_or_default()
            )));
        }
        // A run killed before its first checkpoint starts again from step 0: nothing of it
        // was kept, so nothing is lost.
        match checkpoint::load_checkpoint(&layout, config, &device, &train_device) {
            Ok(ckpt) => Some(ckpt),
            Err(CheckpointError::NothingToResume { .. }) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        if let Some(entry) = first_entry(&layout.root) {
            return Err(TrainError::RunExists(layout.root.clone(), entry));
        }
        std::fs::create_dir_all(&layout.root).map_err(io(&layout.root))?;
        checkpoint::write_config(&layout.config(), config)?;
        None
    };
    let (mut model, mut ema, mut optim, start_step, mut rng) = match resumed {
        Some(ckpt) => {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            let pos: u128 = ckpt
                .state
                .rng_word_pos
                .parse()
                .expect("checked by parse_state");
            rng.set_word_pos(pos);
            (ckpt.model, ckpt.ema, ckpt.optim, ckpt.state.step, rng)
        }
        None => {
            let model = initial_model(config, &train_device)?;
            let ema = model.valid();
            let rng = ChaCha8Rng::seed_from_u64(config.seed);
            (model, ema, checkpoint::optimizer(), 0, rng)
        }
    };
    std::fs::create_dir_all(layout.samples_dir()).map_err(io(&layout.samples_dir()))?;
    std::fs::create_dir_all(layout.checkpoints_dir()).map_err(io(&layout.checkpoints_dir()))?;
    if options.progress && options.resume {
        eprintln!("resuming {} at step {start_step}", layout.root.display());
    }

    let schedule_tensors = ScheduleTensors::new(&schedule, &train_device);
    let loss_weights = config.min_snr_gamma.map(|gamma| {
        let w: Vec<f32> = min_snr_weights(&schedule, gamma)
            .iter()
            .map(|&w| w as f32)
            .collect();
        let n = w.len();
        Tensor::<1>::from_data(TensorData::new(w, [n]), &train_device)
    });

    // loss.csv: keep the rows up to the resumed step, drop any written after it.
    let csv_path = layout.loss_csv();
    let mut csv_text = String::from("step,loss,lr,grad_norm\n");
    if options.resume
        && let Ok(old) = std::fs::read_to_string(&csv_path)
    {
        for line in old.lines().skip(1) {
            let step: Option<usize> = line.split(',').next().and_then(|s| s.parse().ok());
            if step.is_some_and(|s| s <= start_step) {
                csv_text.push_str(line);
                csv_text.push('\n');
            }
        }
    }
    write_atomic(&csv_path, csv_text.as_bytes()).map_err(io(&csv_path))?;
    let mut csv = std::fs::OpenOptions::new()
        .append(true)
        .open(&csv_path)
        .map_err(io(&csv_path))?;

    let bar = if options.progress {
        let bar = ProgressBar::new(config.steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  ETA {eta}  {msg}")
                .expect("valid template"),
        );
        bar.set_position(start_step as u64);
        bar.reset_eta();
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut losses = Vec::new();
    let mut last_checkpoint = checkpoint::latest_checkpoint(&layout);
    let mut smoothed: Option<f64> = None;
    for step in start_step..config.steps {
        train_device.seed(step_seed(config.seed, step));
        let batch = match config.model.num_classes {
            None => draw_batch(
                &data,
                config.batch,
                schedule.num_timesteps(),
                &mut rng,
                &train_device,
            ),
            Some(num_classes) => draw_conditional_batch(
                &data,
                config.batch,
                schedule.num_timesteps(),
                num_classes,
                config.label_dropout.unwrap_or(0.0),
                &mut rng,
                &train_device,
            ),
        };
        let batch = match &distiller {
            Some(distiller) => distiller.attach(batch),
            None => batch,
        };
        let lr = scheduled_learning_rate(
            step,
            config.steps,
            config.lr,
            config.warmup_steps,
            config.lr_schedule,
        );
        // Algorithm 1's step: `train_step` itself with one thread (the default), its
        // data-parallel twin with `--threads N` (chapter 14), or with `--devices` one share
        // per device (each peer's generator seeded per step, as the main one is).
        let stepped = if peer_devices.is_empty() {
            parallel_train_step(
                model,
                &mut optim,
                &schedule_tensors,
                batch,
                loss_weights.as_ref(),
                lr,
                config.grad_clip_norm,
                config.threads.unwrap_or(1),
            )
        } else {
            for (k, peer) in peer_devices.iter().enumerate() {
                peer.seed(step_seed(config.seed, step) ^ (k as u64 + 1));
            }
            let mut devices = vec![train_device.clone(); config.threads.unwrap_or(1)];
            devices.extend(peer_devices.iter().cloned());
            sharded_train_step(
                model,
                &mut optim,
                &schedule_tensors,
                batch,
                loss_weights.as_ref(),
                lr,
                config.grad_clip_norm,
                &devices,
            )
        };
        let (next, stats) = match stepped {
            Ok(result) => result,
            Err(loss) => {
                bar.abandon();
                return Err(TrainError::NonFinite {
                    step: step + 1,
                    loss,
                    checkpoint: last_checkpoint,
                });
            }
        };
        model = next;
        ema = ema_update(ema, &model, ema_decay_at(step, config.ema_decay));
        losses.push(stats.loss);
        let done = step + 1;
        writeln!(csv, "{done},{},{lr:e},{:.4}", stats.loss, stats.grad_norm)
            .map_err(io(&csv_path))?;
        let s = smoothed.map_or(f64::from(stats.loss), |m| {
            0.98 * m + 0.02 * f64::from(stats.loss)
        });
        smoothed = Some(s);
        bar.set_message(format!("loss {s:.4}"));
        bar.inc(1);

        let at_end = done == config.steps;
        if at_end || (config.sample_every > 0 && done % config.sample_every == 0) {
            write_grid(&ema, &schedule, config, &device, &layout.sample_grid(done))?;
        }
        if at_end || (config.checkpoint_every > 0 && done % config.checkpoint_every == 0) {
            csv.flush().map_err(io(&csv_path))?;
            let state = TrainState {
                step: done,
                rng_word_pos: rng.get_word_pos().to_string(),
            };
            last_checkpoint = Some(checkpoint::save_checkpoint(
                &layout, &model, &ema, &optim, &state,
            )?);
        }
    }
    bar.finish();
    checkpoint::save_module(&model.valid(), &layout.model())?;
    checkpoint::save_module(&ema, &layout.model_ema())?;
    let final_grid = layout.sample_grid(config.steps);
    if !final_grid.exists() {
        write_grid(&ema, &schedule, config, &device, &final_grid)?;
    }
    csv.flush().map_err(io(&csv_path))?;
    if let Ok(all) = super::loss::read_loss_csv(&csv_path) {
        // The curve is a convenience: a run whose plot cannot be drawn is still a good run.
        let label = super::loss::loss_label(config.min_snr_gamma);
        let _ = super::loss::loss_chart(&all, 100, &label).write(layout.loss_plot());
    }
    let tail = &losses[losses.len().saturating_sub(100)..];
    let final_loss = tail.iter().map(|&l| f64::from(l)).sum::<f64>() / tail.len().max(1) as f64;
    Ok(TrainReport {
        run_dir: layout.root.clone(),
        steps: config.steps,
        steps_this_session: config.steps.saturating_sub(start_step),
        final_loss,
        losses,
        seconds: started.elapsed().as_secs_f64(),
        final_grid,
    })
}
// ANCHOR_END: train
