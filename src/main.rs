//! The `ddpm` command: a thin launcher over the library's workflows.

#[cfg(feature = "burn")]
use clap::ValueEnum;
use clap::{Parser, Subcommand};
#[cfg(feature = "burn")]
use ddpm::data::DataSource;
#[cfg(feature = "burn")]
use ddpm::workflows::sample::{DEFAULT_SAMPLER_SPEC, Sampler};
use std::path::PathBuf;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tell mimalloc to keep freed memory instead of returning it to the OS. A training step
/// allocates and frees the same large activation buffers every time; returned to the OS, they
/// come back as fresh pages the kernel must zero (11% of a `paper` step's time in a profile).
/// Measured with `ddpm bench --presets paper --batch 64` on the 2-core Xeon: see chapter 14.
/// The cost: the process keeps its peak memory until it exits.
fn keep_freed_memory() {
    // mimalloc's C API (mimalloc.h, v3, which the mimalloc crate builds by default):
    // `mi_option_purge_delay` is the 16th entry of `mi_option_e`; -1 means never purge.
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
        fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    }
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    // SAFETY: both are plain setters/getters of mimalloc's global options, callable at any time.
    unsafe {
        mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        debug_assert_eq!(mi_option_get(MI_OPTION_PURGE_DELAY), -1);
    }
}

#[derive(Parser)]
#[command(
    name = "ddpm",
    version,
    about = "Denoising Diffusion Probabilistic Models, from first principles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render every figure the book shows into a folder (to replace the book's own, give
    /// `--out chapters/figures`).
    BookFigures {
        /// Output folder.
        #[arg(long, default_value = "runs/book-figures")]
        out: PathBuf,
    },
    /// Train a DDPM on MNIST (defaults: the 20-minute CPU run of chapter 13).
    #[cfg(feature = "burn")]
    Train(TrainArgs),
    /// Draw digits from trained weights (default: the shipped weights/default).
    #[cfg(feature = "burn")]
    Sample(SampleArgs),
    /// Time training steps and forward passes of each preset.
    #[cfg(feature = "burn")]
    Bench(BenchArgs),
    // --- Part IV (measuring): train-classifier, eval ---
    /// Train the MNIST classifier that measures sample quality (to replace the shipped one,
    /// give `--out weights/classifier`).
    #[cfg(feature = "burn")]
    TrainClassifier {
        /// Output folder (config.json + model.bpk); `ddpm eval --classifier` reads it.
        #[arg(long, default_value = "runs/classifier")]
        out: PathBuf,
        /// Passes over the 7,996 embedded training digits.
        #[arg(long, default_value_t = 12)]
        epochs: usize,
        /// Seed of weights, batch order and augmentation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Measure a weights folder: the variational bound in bits/dim on the test split and the
    /// sample quality of one or more samplers against the MNIST classifier (table + JSON).
    #[cfg(feature = "burn")]
    Eval(EvalArgs),
}

#[cfg(feature = "burn")]
#[derive(clap::Args)]
struct TrainArgs {
    /// Network preset.
    #[arg(long, value_enum, default_value_t = Preset::Small)]
    preset: Preset,
    /// Override the preset's channel multipliers, one per level, comma separated (e.g. 1,2,4
    /// gives `small` 64 channels at 7x7); each level after the first halves the image side.
    #[arg(long)]
    channel_mults: Option<String>,
    /// Override the preset's channels at the first level (e.g. 24 with `--channel-mults 1,2,4`
    /// gives 24, 48 and 96 channels at 28, 14 and 7); even, and divisible by the GroupNorm
    /// groups (8 for `small` and `paper`).
    #[arg(long)]
    base_channels: Option<usize>,
    /// Override the preset's residual blocks per level on the way down (the way up has one more).
    #[arg(long)]
    res_blocks: Option<usize>,
    /// Override the preset's dropout inside residual blocks (`paper`: 0.1; 0 lets a step
    /// use two threads).
    #[arg(long)]
    dropout: Option<f64>,
    /// Optimisation steps (default: the default run's).
    #[arg(long)]
    steps: Option<usize>,
    /// Images per step.
    #[arg(long)]
    batch: Option<usize>,
    /// Learning rate after warmup.
    #[arg(long)]
    lr: Option<f64>,
    /// Warmup steps.
    #[arg(long)]
    warmup: Option<usize>,
    /// Global gradient-norm clip.
    #[arg(long)]
    grad_clip: Option<f64>,
    /// EMA decay.
    #[arg(long)]
    ema_decay: Option<f64>,
    /// Min-SNR-gamma loss weighting (Hang et al. 2023; they use 5): weight each example's
    /// noise error by min(SNR(t), gamma) / SNR(t). Default: none (Ho et al.'s L_simple).
    #[arg(long, value_name = "GAMMA")]
    min_snr: Option<f64>,
    /// Learning rate after warmup (default: cosine, half a cosine from the peak to 0 at the
    /// last step; constant holds it, as Ho et al. do).
    #[arg(long, value_enum, value_name = "SCHEDULE")]
    lr_schedule: Option<LrScheduleArg>,
    /// Compute each step's gradients in this many threads, each on a share of the batch
    /// (default 2 on the CPU, which takes a step faster on a 2-core CPU; 1 for a network with
    /// dropout, which needs it, and with --devices or a GPU --backend).
    #[arg(long)]
    threads: Option<usize>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Training data: embedded (the 10,000-digit subset compiled in), mnist (full MNIST,
    /// downloaded once) or a folder of IDX files.
    #[arg(long, value_name = DATA_VALUES, default_value = "embedded", value_parser = data_source)]
    data: DataSource,
    /// Write a sample grid every N steps.
    #[arg(long)]
    sample_every: Option<usize>,
    /// Sampler of those grids: ddim:STEPS:ETA (as in `ddpm sample --sampler`).
    #[arg(long, value_name = "SPEC", default_value = DEFAULT_SAMPLER_SPEC)]
    sampler: Sampler,
    /// Replaced by --sampler ddim:50:ETA.
    #[arg(long, hide = true, value_name = "ETA")]
    sample_eta: Option<String>,
    /// Write a checkpoint every N steps.
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Run folder (default: runs/<preset>).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Continue the run in --run-dir from its newest checkpoint.
    #[arg(long)]
    resume: bool,
    /// Train a class-conditional network (chapter 18): the digit's label embedding is added
    /// to the timestep embedding.
    #[arg(long)]
    conditional: bool,
    /// With --conditional: probability of replacing a label by the null class (default 0.1).
    #[arg(long, value_name = "P")]
    label_dropout: Option<f64>,
    /// Start from the weights in this folder (e.g. weights/default) instead of random ones;
    /// unconditional weights get a fresh label embedding with --conditional.
    #[arg(long, value_name = "DIR")]
    init_weights: Option<String>,
    /// Guidance distillation (chapter 18): learn the autoguided prediction of the teacher in
    /// this weights folder, (1 + w) eps_teacher - w eps_guide, instead of the noise, so that
    /// the trained network alone samples as the guided pair does. Needs --guide; start from
    /// the teacher with --init-weights.
    #[arg(long, value_name = "TEACHER", requires = "guide")]
    distill: Option<String>,
    /// With --distill: the teacher's autoguidance guide (a weaker network of the same data,
    /// e.g. weights/run-20min).
    #[arg(long, value_name = "DIR", requires = "distill")]
    guide: Option<String>,
    /// With --distill: the autoguidance weight w >= 0 of the teacher.
    #[arg(long, value_name = "W", requires = "distill", default_value_t = ddpm::network::autoguide::DEFAULT_AUTOGUIDE_WEIGHT)]
    guide_weight: f64,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Train on several devices at once, each computing an equal share of every batch
    /// (data parallelism; the first holds the model and the optimiser), e.g. cuda:0,cuda:1 for
    /// two GPUs; entries cpu, wgpu[:N], vulkan[:N], cuda[:N]. Replaces --backend.
    #[arg(long, value_name = "LIST", conflicts_with = "backend")]
    devices: Option<String>,
}

/// How `--data` is shown in `--help`: the two named sources, or a folder.
#[cfg(feature = "burn")]
const DATA_VALUES: &str = "embedded|mnist|FOLDER";

/// `--data`: `embedded`, `mnist`, or a folder of IDX files that exists.
#[cfg(feature = "burn")]
fn data_source(value: &str) -> Result<DataSource, String> {
    let source: DataSource = value.parse().map_err(|e| format!("{e}"))?;
    if let DataSource::Dir(dir) = &source
        && !dir.is_dir()
    {
        return Err(format!(
            "no folder {}: use embedded (the subset compiled in), mnist (full MNIST, \
             downloaded once) or a folder of IDX files",
            dir.display()
        ));
    }
    Ok(source)
}

/// The network presets (`ddpm::network::UNetConfig::preset`).
#[cfg(feature = "burn")]
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Preset {
    /// For tests and CI: a few seconds per hundred steps.
    Tiny,
    /// The default run of chapter 13 (280,177 parameters).
    Small,
    /// Ho et al.'s recipe at a quarter of their width (1.6M parameters; about 3x slower per
    /// step than small).
    Paper,
    /// small's 14x14 and 7x7 levels on 2x2 patches of the image (less than half of small's
    /// step).
    Patched,
}

#[cfg(feature = "burn")]
impl Preset {
    /// The name `UNetConfig::preset` knows it by (the same as on the command line).
    fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Paper => "paper",
            Preset::Patched => "patched",
        }
    }

    fn config(self) -> ddpm::network::UNetConfig {
        ddpm::network::UNetConfig::preset(self.name())
            .expect("every Preset names a UNetConfig preset (tested)")
    }
}

/// Compute backends (`ddpm::workflows::BackendKind`).
#[cfg(feature = "burn")]
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Backend {
    /// burn's CPU backend `flex`, always compiled in.
    #[value(alias = "flex")]
    Cpu,
    /// Vulkan, Metal or DX12 through wgpu (build with `--features wgpu`).
    #[value(alias = "gpu")]
    Wgpu,
    /// wgpu pinned to Vulkan, kernels compiled to SPIR-V (build with `--features vulkan`).
    #[value(alias = "spirv")]
    Vulkan,
    /// NVIDIA GPUs (build with `--features cuda`).
    Cuda,
}

#[cfg(feature = "burn")]
impl Backend {
    fn kind(self) -> ddpm::workflows::BackendKind {
        use ddpm::workflows::BackendKind;
        match self {
            Backend::Cpu => BackendKind::Cpu,
            Backend::Wgpu => BackendKind::Wgpu,
            Backend::Vulkan => BackendKind::Vulkan,
            Backend::Cuda => BackendKind::Cuda,
        }
    }
}

/// `--lr-schedule` (`ddpm::workflows::config::LrSchedule`).
#[cfg(feature = "burn")]
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum LrScheduleArg {
    /// Held at --lr after warmup (Ho et al.).
    Constant,
    /// Half a cosine from --lr down to 0 at the last step.
    Cosine,
}

#[cfg(feature = "burn")]
impl From<LrScheduleArg> for ddpm::workflows::config::LrSchedule {
    fn from(arg: LrScheduleArg) -> Self {
        match arg {
            LrScheduleArg::Constant => Self::Constant,
            LrScheduleArg::Cosine => Self::Cosine,
        }
    }
}

/// The sampler specs, as every `--sampler`/`--samplers` help says them (`Sampler::from_str`).
#[cfg(feature = "burn")]
macro_rules! sampler_forms {
    () => {
        "ancestral (all T steps, sigma_t^2 = beta_t), ancestral:posterior (sigma_t^2 = \
         beta-tilde_t) or ddim:STEPS:ETA (STEPS network calls; ETA 0 deterministic, 1 \
         stochastic as ancestral)"
    };
}

#[cfg(feature = "burn")]
#[derive(Clone, Copy, ValueEnum)]
enum TrajectoryArg {
    /// Animated GIF of the whole grid.
    Gif,
    /// PNG strip: one row per image (first 8), one column per snapshot.
    Strip,
}

#[cfg(feature = "burn")]
#[derive(clap::Args)]
struct SampleArgs {
    /// Weights folder (config.json + model-ema.bpk), e.g. runs/small.
    #[arg(long, default_value = ddpm::workflows::DEFAULT_WEIGHTS_DIR)]
    weights: PathBuf,
    /// Use the raw (last-iterate) weights instead of the EMA.
    #[arg(long)]
    raw: bool,
    /// Sampler: ancestral, ancestral:posterior or ddim:STEPS:ETA.
    #[arg(
        long,
        value_name = "SPEC",
        default_value = DEFAULT_SAMPLER_SPEC,
        long_help = concat!("Sampler: ", sampler_forms!())
    )]
    sampler: Sampler,
    /// Replaced by --sampler ddim:STEPS:ETA.
    #[arg(long, hide = true)]
    steps: Option<String>,
    /// Replaced by --sampler ddim:STEPS:ETA.
    #[arg(long, hide = true)]
    eta: Option<String>,
    /// Replaced by --sampler ancestral or ancestral:posterior.
    #[arg(long, hide = true)]
    variance: Option<String>,
    /// Do not clip the predicted x_0 to [-1, 1].
    #[arg(long)]
    no_clip: bool,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of images.
    #[arg(long, default_value_t = 64)]
    count: usize,
    /// Output PNG grid.
    #[arg(long, default_value = "samples.png")]
    out: PathBuf,
    /// Also write the denoising trajectory (beside --out).
    #[arg(long, value_enum)]
    trajectory: Option<TrajectoryArg>,
    /// Snapshots in the trajectory.
    #[arg(long, default_value_t = 20)]
    frames: usize,
    /// A conditional network's digit (0-9). Without it, a conditional network draws one row
    /// per digit.
    #[arg(long)]
    digit: Option<String>,
    /// Classifier-free guidance weight w of a conditional network (0: no guidance).
    #[arg(long, default_value_t = ddpm::workflows::conditional::DEFAULT_SAMPLE_GUIDANCE)]
    guidance: f64,
    /// Autoguidance (chapter 18): a smaller or shorter-trained network of the same digits
    /// (e.g. weights/run-20min for weights/default) that the samples are pushed away from,
    /// eps = (1 + w) eps_network - w eps_guide. Unconditional networks only.
    #[arg(long, value_name = "DIR")]
    guide: Option<PathBuf>,
    /// With --guide: the autoguidance weight w >= 0 (0: the network alone).
    #[arg(long, value_name = "W", requires = "guide", default_value_t = ddpm::network::autoguide::DEFAULT_AUTOGUIDE_WEIGHT)]
    guide_weight: f64,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

#[cfg(feature = "burn")]
#[derive(Clone, Copy, ValueEnum)]
enum BoundArg {
    /// Every term t = 1..T for each image (T network calls per image).
    Exact,
    /// L_T and L_0 exactly, the sum over t estimated from sampled t (unbiased, with its SE).
    Sampled,
    /// Skip the bound.
    None,
}

#[cfg(feature = "burn")]
#[derive(clap::Args)]
struct EvalArgs {
    /// Weights folder (config.json + model-ema.bpk).
    #[arg(long, default_value = ddpm::workflows::DEFAULT_WEIGHTS_DIR)]
    weights: PathBuf,
    /// Use the raw (last-iterate) weights instead of the EMA.
    #[arg(long)]
    raw: bool,
    /// Classifier folder (ddpm train-classifier).
    #[arg(long, default_value = ddpm::workflows::classifier_train::DEFAULT_CLASSIFIER_DIR)]
    classifier: PathBuf,
    /// Data for the test split (bound, FLD reference) and train split (floor): embedded,
    /// mnist or a folder of IDX files.
    #[arg(long, value_name = DATA_VALUES, default_value = "embedded", value_parser = data_source)]
    data: DataSource,
    /// How to compute the variational bound.
    #[arg(long, value_enum, default_value = "sampled")]
    bound: BoundArg,
    /// Test images in the bound.
    #[arg(long, default_value_t = 500)]
    bound_images: usize,
    /// Sampled timesteps per image (--bound sampled).
    #[arg(long, default_value_t = 10)]
    timesteps_per_image: usize,
    /// Samples per sampler for the quality table (0 skips it).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Samplers, comma separated, one row each (e.g. ddim:50:1,ancestral).
    #[arg(
        long,
        visible_alias = "sampler",
        value_name = "SPEC,...",
        value_delimiter = ',',
        default_value = DEFAULT_SAMPLER_SPEC,
        long_help = concat!("Samplers, comma separated, one row each: ", sampler_forms!())
    )]
    samplers: Vec<Sampler>,
    /// Do not clip the predicted x_0 while sampling.
    #[arg(long)]
    no_clip: bool,
    /// Seed of the samples, the bound's noise and the noise ceiling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Images per network call.
    #[arg(long, default_value_t = 250)]
    batch: usize,
    /// Where to write the report as JSON.
    #[arg(long, default_value = "eval.json")]
    json: PathBuf,
    /// With --bound exact: also plot the per-timestep terms (.svg or .png).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Also save each sampler's first 64 samples as a PNG grid into this folder.
    #[arg(long)]
    grids: Option<PathBuf>,
    /// Conditional networks: instead of the bound and samplers, sweep these classifier-free
    /// guidance weights (comma separated, e.g. 0,0.5,1,2,4) and report, per weight, the share
    /// of samples classified as the requested digit (per digit) and the FLD (chapter 18).
    #[arg(long, value_name = "W,W,...")]
    guidance: Option<String>,
    /// With --guidance: samples per digit and per weight (with the first sampler of --samplers).
    #[arg(long, default_value_t = 100)]
    per_digit: usize,
    /// Autoguidance (chapter 18): a smaller or shorter-trained network of the same digits
    /// (e.g. weights/run-20min for weights/default) that the samples are pushed away from,
    /// eps = (1 + w) eps_network - w eps_guide. Unconditional networks only.
    #[arg(long, value_name = "DIR")]
    guide: Option<PathBuf>,
    /// With --guide: the autoguidance weight w >= 0 (0: the network alone).
    #[arg(long, value_name = "W", requires = "guide", default_value_t = ddpm::network::autoguide::DEFAULT_AUTOGUIDE_WEIGHT)]
    guide_weight: f64,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

#[cfg(feature = "burn")]
#[derive(clap::Args)]
struct BenchArgs {
    /// Presets to time, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Preset::Tiny, Preset::Small, Preset::Paper])]
    presets: Vec<Preset>,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Timed iterations (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 3)]
    iterations: usize,
    /// Override every preset's attention resolutions, to time variants: image sides, comma
    /// separated (e.g. `14,7`), or `none`.
    #[arg(long)]
    attention: Option<String>,
    /// Threads that compute each training step's gradients (`ddpm train --threads`).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Also time the `paper` U-Net's operations one by one (convolutions, GroupNorm+SiLU,
    /// attention) at --batch, forward and forward+backward.
    #[arg(long)]
    ops: bool,
    /// Also time everything with burn's own operations instead of the crate's CPU kernels
    /// (chapter 14), in the same run.
    #[arg(long)]
    burn_ops: bool,
    /// Also time PyTorch on the same networks and operations, in the same run: the Python
    /// interpreter of an environment with torch (runs scripts/torch_reference.py).
    #[arg(long, value_name = "PYTHON")]
    torch: Option<PathBuf>,
    /// Write every timing of the run as JSON (for chapters/output and the results page).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    keep_freed_memory();
    let cli = Cli::parse();
    #[cfg(feature = "burn")]
    if cli.command.cpu_only() {
        // On the CPU, the whole command runs on a thread of the kernels' own pool
        // (`on_kernel_threads`: no hand-over to the pool and back at each operation), with
        // the stack of a main thread (8 MiB; rayon's threads get 2 MiB otherwise).
        let _ = rayon::ThreadPoolBuilder::new()
            .stack_size(8 << 20)
            .build_global();
        return ddpm::network::fast::on_kernel_threads(|| run(cli.command));
    }
    run(cli.command)
}

#[cfg(feature = "burn")]
impl Command {
    /// Whether the command computes on the CPU alone: no GPU backend, no `--devices`, whose
    /// threads wait on their devices outside the kernels' pool.
    fn cpu_only(&self) -> bool {
        match self {
            Command::BookFigures { .. } => false,
            Command::Train(a) => a.backend == Backend::Cpu && a.devices.is_none(),
            Command::Sample(a) => a.backend == Backend::Cpu,
            Command::Bench(a) => a.backend == Backend::Cpu,
            Command::TrainClassifier { .. } => true,
            Command::Eval(a) => a.backend == Backend::Cpu,
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::BookFigures { out } => {
            let written = ddpm::book_figures::render_all(&out)?;
            println!("wrote {} figures to {}", written.len(), out.display());
        }
        #[cfg(feature = "burn")]
        Command::Train(args) => launch::train(args)?,
        #[cfg(feature = "burn")]
        Command::Sample(args) => launch::sample(args)?,
        #[cfg(feature = "burn")]
        Command::Bench(args) => launch::bench(args)?,
        // --- Part IV (measuring) ---
        #[cfg(feature = "burn")]
        Command::TrainClassifier { out, epochs, seed } => {
            measure::train_classifier(&out, epochs, seed)?
        }
        #[cfg(feature = "burn")]
        Command::Eval(args) => measure::eval(args)?,
    }
    Ok(())
}

#[cfg(feature = "burn")]
mod launch {
    use super::*;
    use anyhow::{Context, anyhow, bail};
    use ddpm::workflows::sample::SampleOptions;
    use ddpm::workflows::train::TrainOptions;
    use ddpm::workflows::{BackendKind, TrainingConfig, images};

    /// The device for `--backend NAME`. A GPU backend that cannot start (no driver, no
    /// device, no CUDA library) panics deep inside burn on its first computation, so the
    /// launcher runs one small computation here and turns a failure into an error that says
    /// what is missing and what to do instead.
    pub(crate) fn device(backend: Backend) -> anyhow::Result<burn::tensor::Device> {
        let name = backend
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string());
        started(
            ddpm::workflows::DeviceSpec {
                kind: backend.kind(),
                index: None,
            },
            &name,
        )
    }

    /// [`device`] for one entry of `--devices`.
    fn started(
        spec: ddpm::workflows::DeviceSpec,
        name: &str,
    ) -> anyhow::Result<burn::tensor::Device> {
        let kind = spec.kind;
        let device = spec.device().map_err(|e| anyhow!(e))?;
        if kind == BackendKind::Cpu {
            return Ok(device);
        }
        // While probing, keep the first panic message (often raised on one of burn's worker
        // threads, which the calling thread then sees as a closed channel) instead of printing
        // it: the error below reports it.
        let first_panic = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let report = std::panic::take_hook();
        let keep = first_panic.clone();
        std::panic::set_hook(Box::new(move |info| {
            let mut first = keep.lock().unwrap_or_else(|e| e.into_inner());
            if first.is_none() {
                let message = info
                    .payload()
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| info.payload().downcast_ref::<&str>().copied())
                    .unwrap_or("no message");
                *first = Some(message.lines().next().unwrap_or("").trim().to_string());
            }
        }));
        let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            burn::tensor::Tensor::<1>::ones([4], &device)
                .sum()
                .into_scalar::<f32>()
        }));
        std::panic::set_hook(report);
        let needs = match kind {
            BackendKind::Cuda => {
                "it needs an NVIDIA GPU with its driver (libcuda) and the CUDA runtime compiler \
                 (libnvrtc)"
            }
            _ => {
                "it needs a GPU driver that wgpu can use: Vulkan, Metal, DX12 or OpenGL (on \
                 Linux without a GPU, `apt-get install mesa-vulkan-drivers` provides lavapipe, \
                 a slow Vulkan on the CPU)"
            }
        };
        match probe {
            Ok(4.0) => Ok(device),
            Ok(sum) => bail!(
                "the {name} backend started but computed 1 + 1 + 1 + 1 = {sum}; its driver is \
                 broken: use --backend cpu"
            ),
            Err(_) => {
                let why = first_panic.lock().unwrap_or_else(|e| e.into_inner()).take();
                bail!(
                    "the {name} backend could not start ({}): {needs}; or use --backend cpu",
                    why.unwrap_or_else(|| "no message".into())
                )
            }
        }
    }

    /// A comma-separated list of whole numbers (`--attention`, `--channel-mults`).
    fn numbers(list: &str) -> Result<Vec<usize>, std::num::ParseIntError> {
        list.split(',').map(|n| n.trim().parse::<usize>()).collect()
    }

    pub fn train(a: TrainArgs) -> anyhow::Result<()> {
        if let Some(eta) = &a.sample_eta {
            bail!(
                "--sample-eta is gone: the grids' sampler is one option now, --sampler \
                 ddim:STEPS:ETA (e.g. --sampler ddim:50:{eta})"
            );
        }
        let mut config = TrainingConfig::default_run();
        config.model = a.preset.config();
        if let Some(list) = &a.channel_mults {
            config.model.channel_mults = numbers(list)
                .map_err(|_| anyhow!("--channel-mults {list}: give whole numbers like 1,2,4"))?;
        }
        if let Some(n) = a.base_channels {
            config.model.base_channels = n;
        }
        if let Some(n) = a.res_blocks {
            config.model.num_res_blocks = n;
        }
        if let Some(p) = a.dropout {
            config.model.dropout = p;
        }
        config.data = a.data.to_string();
        config
            .set_grid_sampler(a.sampler)
            .context("ddpm train --sampler")?;
        macro_rules! set {
            ($($field:ident = $arg:expr),*) => { $( if let Some(v) = $arg { config.$field = v; } )* };
        }
        set!(
            steps = a.steps,
            batch = a.batch,
            lr = a.lr,
            warmup_steps = a.warmup,
            grad_clip_norm = a.grad_clip,
            ema_decay = a.ema_decay,
            seed = a.seed,
            sample_every = a.sample_every,
            checkpoint_every = a.checkpoint_every
        );
        if a.min_snr.is_some() {
            config.min_snr_gamma = a.min_snr;
        }
        if let Some(schedule) = a.lr_schedule {
            config.lr_schedule = Some(schedule.into());
        }
        if a.threads.is_some() {
            config.threads = a.threads;
        } else if config.model.dropout > 0.0
            || a.devices.is_some()
            || a.backend != Backend::Cpu
            || config.batch < 2
        {
            // The default run's two threads are two shares of each batch on the CPU's two
            // cores. A network with dropout cannot share one random generator between threads,
            // --devices gives each device one share, a GPU gains nothing from a second thread
            // and a batch of one image has one share: those take one thread unless --threads
            // says otherwise.
            config.threads = None;
        }
        ddpm::workflows::conditional::apply_conditioning(
            &mut config,
            a.conditional,
            a.label_dropout,
            10,
        )
        .map_err(|e| anyhow!(e))?;
        config.init_weights = a.init_weights;
        config.distill = a.distill.map(|teacher| {
            ddpm::workflows::config::DistillConfig::new(
                teacher,
                a.guide.unwrap_or_default(),
                a.guide_weight,
            )
        });
        let run_dir = a
            .run_dir
            .unwrap_or_else(|| PathBuf::from("runs").join(a.preset.name()));
        let (main_device, peers) = match &a.devices {
            None => (device(a.backend)?, Vec::new()),
            Some(list) => {
                let specs = ddpm::workflows::DeviceSpec::parse_list(list)
                    .map_err(|e| anyhow!("--devices {list}: {e}"))?;
                let mut devices = Vec::with_capacity(specs.len());
                for (spec, name) in specs.iter().zip(list.split(',')) {
                    devices.push(started(*spec, name.trim())?);
                }
                let main_device = devices.remove(0);
                (main_device, devices)
            }
        };
        let options = TrainOptions {
            run_dir: run_dir.clone(),
            resume: a.resume,
            progress: true,
            device: main_device,
            peers,
        };
        println!(
            "training preset `{}` ({} steps, batch {}) into {}",
            a.preset.name(),
            config.steps,
            config.batch,
            run_dir.display()
        );
        let report = ddpm::workflows::train::train(&config, &options)
            .with_context(|| format!("training into {} failed", run_dir.display()))?;
        println!(
            "done: {} steps in {:.1} min, mean loss of the last 100 steps {:.4}",
            report.steps_this_session,
            report.seconds / 60.0,
            report.final_loss
        );
        println!("outputs in {}:", report.run_dir.display());
        println!("  config.json, model.bpk, model-ema.bpk, loss.csv, checkpoints/, samples/");
        println!("  final sample grid: {}", report.final_grid.display());
        println!(
            "  draw more: ddpm sample --weights {}",
            report.run_dir.display()
        );
        Ok(())
    }

    /// The error for `ddpm sample --steps/--eta/--variance`, which `--sampler SPEC` replaced:
    /// it spells the new option with the values given.
    fn old_sampler_flags(a: &SampleArgs) -> anyhow::Result<()> {
        let given: Vec<String> = [
            ("steps", &a.steps),
            ("eta", &a.eta),
            ("variance", &a.variance),
        ]
        .into_iter()
        .filter_map(|(flag, value)| value.as_ref().map(|v| format!("--{flag} {v}")))
        .collect();
        if given.is_empty() {
            return Ok(());
        }
        let new = match (&a.variance, &a.steps, &a.eta) {
            (Some(v), None, None) if v.trim() == "posterior" => "ancestral:posterior".to_string(),
            (Some(_), None, None) => "ancestral".to_string(),
            (_, steps, eta) => format!(
                "ddim:{}:{}",
                steps.as_deref().unwrap_or("STEPS"),
                eta.as_deref().unwrap_or("ETA")
            ),
        };
        bail!(
            "{} is gone: the sampler is one option now, --sampler {new} (the forms: {})",
            given.join(" "),
            ddpm::workflows::sample::SAMPLER_SPEC_FORMS
        )
    }

    pub fn sample(a: SampleArgs) -> anyhow::Result<()> {
        old_sampler_flags(&a)?;
        let device = device(a.backend)?;
        let (model, config) = ddpm::workflows::load_weights(&a.weights, !a.raw, &device)
            .with_context(|| format!("loading weights from {}", a.weights.display()))?;
        let schedule = config
            .schedule
            .build()
            .with_context(|| format!("the schedule in {}/config.json", a.weights.display()))?;
        let options = SampleOptions {
            sampler: a.sampler,
            clip_x0: !a.no_clip,
            seed: a.seed,
            count: a.count,
            frames: if a.trajectory.is_some() { a.frames } else { 0 },
        };
        let bar = indicatif::ProgressBar::new(0);
        let size = config.model.image_size;
        let started = std::time::Instant::now();
        let on_step = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        };
        let labels = ddpm::workflows::conditional::requested_labels(
            model.num_classes(),
            a.digit.as_deref(),
            a.count,
        )?;
        let guide = match &a.guide {
            Some(dir) if labels.is_some() => bail!(
                "--guide {}: autoguidance is for unconditional networks, and {} is conditional; \
                 use its classifier-free guidance (--guidance W) instead",
                dir.display(),
                a.weights.display()
            ),
            Some(dir) => Some(load_guide(dir, &config, &device)?.0),
            None => None,
        };
        let guided = match &guide {
            Some(g) => Some(
                ddpm::network::AutoGuided::new(&model, g, a.guide_weight)
                    .with_context(|| "--guide-weight".to_string())?,
            ),
            None => None,
        };
        let network: &dyn ddpm::network::NoisePredictor = match &guided {
            Some(g) => g,
            None => &model,
        };
        let samples = match &labels {
            None => ddpm::workflows::sample::sample(
                network,
                &schedule,
                config.model.image_channels,
                size,
                &options,
                &device,
                on_step,
            )?,
            Some(labels) => ddpm::workflows::conditional::sample_digits(
                &model,
                &config,
                labels.clone(),
                a.guidance,
                &options,
                &device,
                on_step,
            )?,
        };
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        match (&labels, &a.digit) {
            // One row per digit.
            (Some(labels), None) => {
                let cols = labels.iter().filter(|&&l| l == 0).count();
                let grid = images::grid_image(&samples.images, samples.count, size, cols, 2);
                images::save_png(&a.out, &grid)?;
            }
            _ => images::save_grid(&a.out, &samples.images, samples.count, size)?,
        }
        println!(
            "wrote {} samples to {} ({}, sampled in {seconds:.1} s)",
            samples.count,
            a.out.display(),
            a.sampler
        );
        if let Some(kind) = a.trajectory {
            let shown = samples.count.min(8);
            let (path, result) = match kind {
                TrajectoryArg::Gif => {
                    let path = a.out.with_extension("gif");
                    let r =
                        images::save_trajectory_gif(&path, &samples.frames, samples.count, size);
                    (path, r)
                }
                TrajectoryArg::Strip => {
                    let path = a.out.with_file_name(format!(
                        "{}-trajectory.png",
                        a.out.file_stem().unwrap_or_default().to_string_lossy()
                    ));
                    let strip = images::trajectory_strip(&samples.frames, shown, size);
                    let r = images::save_png(&path, &strip);
                    (path, r)
                }
            };
            result?;
            println!("wrote the trajectory to {}", path.display());
        }
        Ok(())
    }

    /// The EMA weights of an autoguidance guide, checked against the network's config.
    pub(crate) fn load_guide(
        dir: &std::path::Path,
        config: &ddpm::workflows::TrainingConfig,
        device: &burn::tensor::Device,
    ) -> anyhow::Result<(ddpm::network::UNet, TrainingConfig)> {
        let (guide, guide_config) = ddpm::workflows::load_weights(dir, true, device)
            .with_context(|| format!("loading the guide from {}", dir.display()))?;
        ddpm::workflows::sample::check_guide(config, &guide_config)
            .with_context(|| format!("--guide {}", dir.display()))?;
        Ok((guide, guide_config))
    }

    pub fn bench(a: BenchArgs) -> anyhow::Result<()> {
        use ddpm::network::fast;
        use ddpm::workflows::bench::{BenchReport, TorchReport, bench_op, bench_preset, paper_ops};
        let device = device(a.backend)?;
        if a.batch == 0 || a.iterations == 0 {
            bail!("--batch and --iterations must be at least 1");
        }
        if a.threads == 0 || a.threads > a.batch {
            bail!(
                "--threads {}: use 1 to --batch ({}) threads",
                a.threads,
                a.batch
            );
        }
        let attention =
            match a.attention.as_deref().map(str::trim) {
                None => None,
                Some("none") | Some("") => Some(Vec::new()),
                Some(list) => Some(numbers(list).map_err(|_| {
                    anyhow!("--attention {list}: give image sides like 14,7, or none")
                })?),
            };
        let mut presets = Vec::new();
        for preset in &a.presets {
            let name = preset.name();
            let mut config = preset.config();
            if let Some(resolutions) = &attention {
                config.attention_resolutions = resolutions.clone();
                config
                    .validate()
                    .with_context(|| format!("--attention on preset {name}"))?;
            }
            presets.push((name.to_string(), config));
        }
        let ops = if a.ops {
            paper_ops(a.batch)
        } else {
            Vec::new()
        };
        // This crate's timings first, then burn's own operations, then PyTorch's: each has
        // the machine to itself while it runs.
        let time_presets = |label: &str| {
            presets
                .iter()
                .map(|(name, config)| {
                    eprintln!("timing {name} ({label})");
                    bench_preset(
                        name,
                        config.clone(),
                        a.batch,
                        a.iterations,
                        a.threads,
                        &device,
                    )
                })
                .collect::<Vec<_>>()
        };
        let time_ops = |label: &str| {
            ops.iter()
                .map(|op| {
                    eprintln!("timing {} ({label})", op.name);
                    bench_op(op, a.iterations, &device)
                })
                .collect::<Vec<_>>()
        };
        fast::set_enabled(true);
        let on_cpu = fast::takes_fast_path(&device);
        let ours = time_presets("ddpm");
        let ours_ops = time_ops("ddpm");
        let (burn_presets, burn_ops) = if a.burn_ops && on_cpu {
            fast::set_enabled(false);
            let timings = (time_presets("burn ops"), time_ops("burn ops"));
            fast::set_enabled(true);
            timings
        } else {
            (Vec::new(), Vec::new())
        };
        let torch: Option<TorchReport> = match &a.torch {
            None => None,
            Some(python) => {
                eprintln!("timing PyTorch ({})", python.display());
                let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("scripts/torch_reference.py");
                let names: Vec<&str> = presets.iter().map(|p| p.0.as_str()).collect();
                let params: Vec<String> = ours
                    .iter()
                    .map(|r| format!("{}={}", r.preset, r.params))
                    .collect();
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let output = std::process::Command::new(python)
                    .arg(&script)
                    .args(["--presets", &names.join(",")])
                    .args(["--batch", &a.batch.to_string()])
                    .args(["--iterations", &a.iterations.to_string()])
                    .args(["--threads", &threads.to_string()])
                    .args(["--params", &params.join(",")])
                    .args(["--ops", &serde_json::to_string(&ops)?])
                    .output()
                    .with_context(|| {
                        format!(
                            "--torch {}: could not run {}",
                            python.display(),
                            script.display()
                        )
                    })?;
                if !output.status.success() {
                    bail!(
                        "--torch {}: the PyTorch reference failed: {}",
                        python.display(),
                        String::from_utf8_lossy(&output.stderr).trim()
                    );
                }
                Some(serde_json::from_slice(&output.stdout).with_context(|| {
                    format!(
                        "--torch {}: unreadable output of {}",
                        python.display(),
                        script.display()
                    )
                })?)
            }
        };
        let report = BenchReport::new(
            std::iter::once("ddpm".to_string())
                .chain(std::env::args().skip(1))
                .collect::<Vec<_>>()
                .join(" "),
            a.batch,
            a.iterations,
            a.threads,
            (&ours, &burn_presets),
            (&ours_ops, &burn_ops),
            torch.as_ref(),
        );
        print!("{}", report.table());
        println!(
            "(median of {} iterations after one warm-up; attention at {}; the crate's CPU kernels {})",
            a.iterations,
            match &attention {
                None => "each preset's resolutions".to_string(),
                Some(r) if r.is_empty() => "no resolution".to_string(),
                Some(r) => format!("{r:?}"),
            },
            if on_cpu {
                "on"
            } else {
                "not used on this backend"
            }
        );
        if let Some(path) = &a.report {
            std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
                .with_context(|| format!("--report {}: cannot write", path.display()))?;
            println!("wrote {}", path.display());
        }
        Ok(())
    }
}

// --- Part IV (measuring): launchers for train-classifier and eval ---
#[cfg(feature = "burn")]
mod measure {
    use anyhow::Context;
    use ddpm::network::classifier::ClassifierConfig;
    use ddpm::workflows::classifier_train::{
        ClassifierTrainConfig, save_classifier, train_classifier as train,
    };

    pub fn eval(a: super::EvalArgs) -> anyhow::Result<()> {
        use super::BoundArg;
        use ddpm::data::{Split, load};
        use ddpm::workflows::classifier_train::load_classifier;
        use ddpm::workflows::eval_report::{
            EvalReport, EvalSettings, bound_terms_chart, evaluate_guided,
        };
        use ddpm::workflows::measure::{BoundMode, BoundOptions};

        let device = super::launch::device(a.backend)?;
        let (model, config) = ddpm::workflows::load_weights(&a.weights, !a.raw, &device)
            .with_context(|| format!("loading weights from {}", a.weights.display()))?;
        let (classifier, _) = load_classifier(&a.classifier, &device)
            .with_context(|| format!("loading the classifier from {}", a.classifier.display()))?;
        let train = load(&a.data, Split::Train)?;
        let test = load(&a.data, Split::Test)?;
        if let (Some(_), Some(dir)) = (&a.guidance, &a.guide) {
            anyhow::bail!(
                "--guide {} with --guidance: the guidance sweep measures classifier-free \
                 guidance of a conditional network; give one of the two",
                dir.display()
            );
        }
        if let Some(list) = &a.guidance {
            return guidance_eval(
                &a,
                list,
                &model,
                &config,
                &classifier,
                &train,
                &test,
                &a.samplers,
                &device,
            );
        }
        let bound = match a.bound {
            BoundArg::None => None,
            BoundArg::Exact | BoundArg::Sampled => Some(BoundOptions {
                images: a.bound_images,
                mode: if matches!(a.bound, BoundArg::Exact) {
                    BoundMode::Exact
                } else {
                    BoundMode::Sampled {
                        timesteps_per_image: a.timesteps_per_image,
                    }
                },
                batch: a.batch,
                seed: a.seed,
            }),
        };
        let settings = EvalSettings {
            bound,
            samples: a.samples,
            samplers: a.samplers.clone(),
            clip_x0: !a.no_clip,
            seed: a.seed,
            sample_batch: a.batch,
            keep_images: if a.grids.is_some() { 64 } else { 0 },
        };
        let guide = match &a.guide {
            Some(dir) if model.num_classes().is_some() => anyhow::bail!(
                "--guide {}: autoguidance is for unconditional networks, and {} is conditional; \
                 measure its classifier-free guidance with --guidance W,W,...",
                dir.display(),
                a.weights.display()
            ),
            Some(dir) => {
                let (network, guide_config) = super::launch::load_guide(dir, &config, &device)?;
                let info = ddpm::workflows::eval_report::GuideInfo {
                    weights: dir.display().to_string(),
                    params: burn::module::Module::num_params(&network),
                    steps: guide_config.steps,
                    w: a.guide_weight,
                };
                Some((network, info))
            }
            None => None,
        };
        let start = std::time::Instant::now();
        let (bound, quality) = evaluate_guided(
            &model,
            guide.as_ref().map(|(g, info)| (g, info.w)),
            &config,
            &classifier,
            &train,
            &test,
            &settings,
            &device,
            |line| eprintln!("[{:>6.0} s] {line}", start.elapsed().as_secs_f64()),
        )?;
        let report = EvalReport {
            weights: a.weights.display().to_string(),
            ema: !a.raw,
            params: burn::module::Module::num_params(&model),
            config: config.clone(),
            bound,
            quality,
            guide: guide.map(|(_, info)| info),
        };
        print!("{}", report.table());
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(&a.json, json).with_context(|| format!("writing {}", a.json.display()))?;
        println!("wrote {}", a.json.display());
        if let Some(path) = &a.plot {
            match report.bound.as_ref().and_then(bound_terms_chart) {
                Some(chart) => {
                    chart.write(path)?;
                    println!("wrote {}", path.display());
                }
                None => {
                    eprintln!("--plot needs --bound exact (a sampled bound has no per-t terms)")
                }
            }
        }
        if a.grids.is_some() && report.quality.is_none() {
            eprintln!("--grids needs a quality table: no grids written (give --samples 2 or more)");
        }
        if let (Some(dir), Some(q)) = (&a.grids, &report.quality) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let size = config.model.image_size;
            for (row, sampler) in q.samplers.iter().zip(&a.samplers) {
                // The table's own samples: the first 64 that were scored.
                let n = row.images.len() / (size * size);
                let path = dir.join(format!("{}.png", sampler.to_string().replace(':', "-")));
                ddpm::workflows::images::save_grid(&path, &row.images, n, size)?;
                println!("wrote {}", path.display());
            }
        }
        Ok(())
    }

    /// `ddpm eval --guidance`: the guidance sweep of chapter 18, its table, JSON and charts.
    #[allow(clippy::too_many_arguments)]
    fn guidance_eval(
        a: &super::EvalArgs,
        list: &str,
        model: &ddpm::network::UNet,
        config: &ddpm::workflows::TrainingConfig,
        classifier: &ddpm::network::classifier::Classifier,
        train: &ddpm::data::ImageSet,
        test: &ddpm::data::ImageSet,
        samplers: &[ddpm::workflows::sample::Sampler],
        device: &burn::tensor::Device,
    ) -> anyhow::Result<()> {
        use ddpm::workflows::conditional::{
            GuidanceSettings, guidance_sweep, parse_guidance_weights,
        };
        use std::path::PathBuf;
        let settings = GuidanceSettings {
            weights: parse_guidance_weights(list).map_err(|e| anyhow::anyhow!(e))?,
            per_digit: a.per_digit,
            sampler: *samplers
                .first()
                .ok_or_else(|| anyhow::anyhow!("--guidance needs a sampler in --samplers"))?,
            seed: a.seed,
            sample_batch: a.batch,
        };
        let start = std::time::Instant::now();
        let report = guidance_sweep(
            model,
            config,
            &a.weights.display().to_string(),
            classifier,
            train,
            test,
            &settings,
            device,
            |line| eprintln!("[{:>6.0} s] {line}", start.elapsed().as_secs_f64()),
        )?;
        print!("{}", report.table());
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(&a.json, json).with_context(|| format!("writing {}", a.json.display()))?;
        println!("wrote {}", a.json.display());
        if let Some(path) = &a.plot {
            let stem = path.with_extension("");
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("svg");
            for (suffix, chart) in [
                ("accuracy", report.accuracy_chart()),
                ("fld", report.fld_chart()),
            ] {
                let out = PathBuf::from(format!("{}-{suffix}.{ext}", stem.display()));
                chart.write(&out)?;
                println!("wrote {}", out.display());
            }
        }
        Ok(())
    }

    pub fn train_classifier(out: &std::path::Path, epochs: usize, seed: u64) -> anyhow::Result<()> {
        let config = ClassifierTrainConfig::new(ClassifierConfig::new())
            .with_epochs(epochs)
            .with_seed(seed);
        let device = burn::tensor::Device::flex();
        let (model, report) = train(&config, &device, true)?;
        for (epoch, loss) in report.epoch_losses.iter().enumerate() {
            println!("epoch {:2}: mean cross-entropy {loss:.4} nats", epoch + 1);
        }
        println!(
            "{} parameters, trained in {:.0} s; test accuracy {:.2}% on the 2,004 embedded test \
             digits",
            report.num_params,
            report.seconds,
            100.0 * report.test_accuracy
        );
        save_classifier(out, &model, &config)
            .with_context(|| format!("saving the classifier to {}", out.display()))?;
        println!(
            "wrote {}; measure with it: ddpm eval --classifier {}",
            out.display(),
            out.display()
        );
        Ok(())
    }
}

#[cfg(all(test, feature = "burn"))]
mod tests {
    use super::*;

    #[test]
    fn every_preset_on_the_command_line_is_a_network_preset_and_back() {
        let names: Vec<&str> = Preset::value_variants().iter().map(|p| p.name()).collect();
        assert_eq!(names, ddpm::network::UNetConfig::PRESETS);
        for preset in Preset::value_variants() {
            // The command-line spelling is the library's name.
            let value = preset.to_possible_value().unwrap();
            assert_eq!(value.get_name(), preset.name());
            assert_eq!(
                Some(preset.config()),
                ddpm::network::UNetConfig::preset(preset.name())
            );
        }
    }

    #[test]
    fn backends_and_learning_rate_schedules_map_to_the_library_names() {
        use ddpm::workflows::BackendKind;
        use ddpm::workflows::config::LrSchedule;
        for backend in Backend::value_variants() {
            let name = backend.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(name.parse::<BackendKind>(), Ok(backend.kind()), "{name}");
        }
        for schedule in LrScheduleArg::value_variants() {
            let name = schedule.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(
                name.parse::<LrSchedule>(),
                Ok(LrSchedule::from(*schedule)),
                "{name}"
            );
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
