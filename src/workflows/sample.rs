//! Sampling (chapter 14): ancestral DDPM sampling (Ho et al. 2020, Algorithm 2) and DDIM
//! (Song, Meng & Ermon 2021, Eq. (12)) with any number of steps and any $\eta$.
//!
//! Schedule coefficients are read from the f64
//! [`NoiseSchedule`](crate::diffusion::schedule::NoiseSchedule) as host scalars (every image
//! of a batch shares the timestep), and all noise comes from a seeded `ChaCha8Rng` on the host,
//! so a seed gives the same images on every backend up to floating-point rounding.
//!
//! A check to run (chapters 14 and 17; `cargo test --release --doc workflows::sample`): DDIM's
//! timesteps are evenly spaced from 1 to $T$, the exact half $2 \cdot 999/4 = 499.5$ rounded
//! up; with $S$ steps it makes $S$ network evaluations, and with $S = T$ it visits every
//! timestep, as ancestral sampling does.
//!
//! ```
//! use ddpm::workflows::sample::ddim_timesteps;
//! assert_eq!(ddim_timesteps(5, 1000), [1, 251, 501, 750, 1000]);
//! assert_eq!(ddim_timesteps(50, 1000).len(), 50);
//! assert_eq!(ddim_timesteps(1000, 1000), (1..=1000).collect::<Vec<_>>());
//! ```

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::diffusion::schedule::NoiseSchedule;
use crate::network::NoisePredictor;

/// The reverse-process variance $\sigma_t^2$ (chapter 8's enum, shared with the f64 layer).
pub use crate::diffusion::reverse::VarianceKind;

/// Which sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// Ancestral sampling through all $T$ steps.
    Ancestral {
        /// $\sigma_t^2$.
        variance: VarianceKind,
    },
    /// DDIM on an evenly spaced sub-sequence of `steps` timesteps; `eta = 0` is deterministic,
    /// `eta = 1` with all $T$ steps matches ancestral sampling with $\tilde\beta_t$.
    Ddim {
        /// Number of network evaluations.
        steps: usize,
        /// Stochasticity $\eta \ge 0$.
        eta: f64,
    },
}

// ANCHOR: sampler_spec
/// The sampler every command uses unless told otherwise (`ddpm sample`, `ddpm eval`, the grids
/// `ddpm train` writes): DDIM with 50 steps and $\eta = 1$. Chapter 17 measures why: $\eta = 1$
/// beats $\eta = 0$ at every step count for the 1,200-step run's network (`weights/run-20min`),
/// and 50 steps cost a twentieth of ancestral sampling's 1,000 at a quality between DDIM-20
/// and DDIM-100.
pub const DEFAULT_SAMPLER: Sampler = Sampler::Ddim {
    steps: 50,
    eta: 1.0,
};

/// [`DEFAULT_SAMPLER`] written as a spec (for the command line's defaults).
pub const DEFAULT_SAMPLER_SPEC: &str = "ddim:50:1";

/// The spec forms [`Sampler`]'s parser accepts, for help texts and error messages.
pub const SAMPLER_SPEC_FORMS: &str =
    "ancestral, ancestral:posterior or ddim:STEPS:ETA (e.g. ddim:50:1)";

/// A sampler spec that does not parse: what was given and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sampler `{spec}`: {problem}; write {SAMPLER_SPEC_FORMS}", SAMPLER_SPEC_FORMS = SAMPLER_SPEC_FORMS)]
pub struct SamplerSpecError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong with it.
    pub problem: String,
}

impl std::str::FromStr for Sampler {
    type Err = SamplerSpecError;

    /// Parses a sampler spec, the one syntax of every command that samples:
    ///
    /// | spec | sampler |
    /// |---|---|
    /// | `ancestral` (or `ancestral:beta`) | [`Sampler::Ancestral`], $\sigma_t^2 = \beta_t$, all $T$ steps (Ho et al. 2020, Algorithm 2) |
    /// | `ancestral:posterior` | [`Sampler::Ancestral`], $\sigma_t^2 = \tilde\beta_t$ |
    /// | `ddim:STEPS:ETA` | [`Sampler::Ddim`], e.g. `ddim:50:1` (stochastic) or `ddim:100:0` (deterministic) |
    ///
    /// Whether `STEPS` fits the schedule ($1 \le S \le T$) is checked when sampling, where
    /// $T$ is known ([`SampleError::Steps`]).
    ///
    /// ```
    /// use ddpm::workflows::sample::{Sampler, VarianceKind};
    /// let ddim: Sampler = "ddim:50:1".parse().unwrap();
    /// assert_eq!(ddim, Sampler::Ddim { steps: 50, eta: 1.0 });
    /// assert_eq!(ddim.to_string(), "ddim:50:1");
    /// let ancestral: Sampler = "ancestral:posterior".parse().unwrap();
    /// assert_eq!(ancestral, Sampler::Ancestral { variance: VarianceKind::PosteriorBeta });
    /// let bad = "ddim:50".parse::<Sampler>().unwrap_err();
    /// assert!(bad.to_string().contains("ddim:50:1"), "{bad}");
    /// ```
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = |problem: String| SamplerSpecError {
            spec: spec.to_string(),
            problem,
        };
        let parts: Vec<&str> = spec.trim().split(':').map(str::trim).collect();
        match parts.as_slice() {
            ["ancestral"] | ["ancestral", "beta"] => Ok(Sampler::Ancestral {
                variance: VarianceKind::Beta,
            }),
            ["ancestral", "posterior"] => Ok(Sampler::Ancestral {
                variance: VarianceKind::PosteriorBeta,
            }),
            ["ancestral", other] if other.parse::<usize>().is_ok() => Err(bad(
                "ancestral sampling always takes every step of the schedule, so it has no step \
                 count; write `ancestral` (sigma_t^2 = beta_t) or `ancestral:posterior`"
                    .to_string(),
            )),
            ["ancestral", other] => Err(bad(format!(
                "unknown variance `{other}`: use beta (the default) or posterior"
            ))),
            ["ddim", steps, eta] => {
                let steps = steps
                    .parse::<usize>()
                    .ok()
                    .filter(|&s| s >= 1)
                    .ok_or_else(|| {
                        bad(format!(
                            "STEPS `{steps}` is not a whole number of at least 1"
                        ))
                    })?;
                let eta = eta
                    .parse::<f64>()
                    .ok()
                    .filter(|e| e.is_finite() && *e >= 0.0)
                    .ok_or_else(|| {
                        bad(format!(
                            "ETA `{eta}` is not a number >= 0 (0 deterministic, 1 stochastic)"
                        ))
                    })?;
                Ok(Sampler::Ddim { steps, eta })
            }
            ["ddim"] => Err(bad(
                "DDIM needs its step count and eta: ddim:STEPS:ETA".to_string()
            )),
            ["ddim", steps] => Err(bad(format!(
                "DDIM needs eta too: ddim:{steps}:1 (stochastic) or ddim:{steps}:0 \
                 (deterministic)"
            ))),
            ["ddpm", rest @ ..] => Err(bad(format!(
                "ancestral sampling is now written `ancestral{}`",
                rest.iter().map(|r| format!(":{r}")).collect::<String>()
            ))),
            _ => Err(bad("not a sampler".to_string())),
        }
    }
}

impl std::fmt::Display for Sampler {
    /// The spec [`Sampler`]'s parser reads back: `ancestral`, `ancestral:posterior` or
    /// `ddim:STEPS:ETA`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sampler::Ancestral {
                variance: VarianceKind::Beta,
            } => f.write_str("ancestral"),
            Sampler::Ancestral {
                variance: VarianceKind::PosteriorBeta,
            } => f.write_str("ancestral:posterior"),
            Sampler::Ddim { steps, eta } => write!(f, "ddim:{steps}:{eta}"),
        }
    }
}

/// Parses a comma-separated list of sampler specs (`ddpm eval --samplers`), e.g.
/// `ddim:50:1,ancestral`.
///
/// # Errors
/// The first spec that does not parse; an empty list.
pub fn parse_sampler_list(list: &str) -> Result<Vec<Sampler>, SamplerSpecError> {
    let samplers = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect::<Result<Vec<Sampler>, _>>()?;
    if samplers.is_empty() {
        return Err(SamplerSpecError {
            spec: list.to_string(),
            problem: "no sampler in the list".to_string(),
        });
    }
    Ok(samplers)
}
// ANCHOR_END: sampler_spec

/// Sampling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOptions {
    /// The sampler.
    pub sampler: Sampler,
    /// Clip the predicted $\hat x_0$ to $[-1, 1]$ at every step (Ho et al.'s `clip_denoised`).
    pub clip_x0: bool,
    /// Seed of the initial noise and of every noise draw.
    pub seed: u64,
    /// How many images.
    pub count: usize,
    /// Record this many evenly spaced snapshots of $x_t$ (0 = none); the last is $x_0$.
    pub frames: usize,
}

/// Errors of the sampling workflow.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SampleError {
    /// DDIM steps outside `1..=T`.
    #[error("DDIM steps must lie in 1..={max}, got {steps}")]
    Steps {
        /// Requested.
        steps: usize,
        /// $T$.
        max: usize,
    },
    /// Negative or non-finite eta.
    #[error("eta must be finite and >= 0, got {0}")]
    Eta(f64),
    /// No images requested.
    #[error("count must be at least 1")]
    Count,
}

/// Generated images.
#[derive(Debug, Clone)]
pub struct Samples {
    /// `[count, channels * size * size]` row-major, values in (roughly) $[-1, 1]$.
    pub images: Vec<f32>,
    /// Snapshots of $x_t$, each like `images`, in sampling order.
    pub frames: Vec<Vec<f32>>,
    /// Number of images.
    pub count: usize,
}

/// A guide network ([`crate::network::AutoGuided`]) that cannot guide this network: both must
/// predict the noise of the same $x_t$ at the same $t$.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the guide's {what} ({guide}) differs from the network's ({network}): a guide must be \
     trained on the same images with the same noise schedule (e.g. weights/run-20min for \
     weights/default)"
)]
pub struct GuideMismatch {
    /// What differs.
    pub what: &'static str,
    /// The network's value.
    pub network: String,
    /// The guide's value.
    pub guide: String,
}

/// Checks that a guide with config `guide` can guide a network with config `network`: the same
/// image channels and size and the same noise schedule. Widths and depths may differ.
///
/// # Errors
/// [`GuideMismatch`] naming the first difference.
pub fn check_guide(
    network: &crate::workflows::TrainingConfig,
    guide: &crate::workflows::TrainingConfig,
) -> Result<(), GuideMismatch> {
    let differ = |what, a: String, b: String| {
        if a == b {
            Ok(())
        } else {
            Err(GuideMismatch {
                what,
                network: a,
                guide: b,
            })
        }
    };
    let (n, g) = (&network.model, &guide.model);
    differ(
        "image channels",
        n.image_channels.to_string(),
        g.image_channels.to_string(),
    )?;
    differ(
        "image size",
        n.image_size.to_string(),
        g.image_size.to_string(),
    )?;
    differ(
        "noise schedule",
        format!("{:?}", network.schedule),
        format!("{:?}", guide.schedule),
    )
}

/// The evenly spaced DDIM timesteps $\tau_1 < \dots < \tau_S$ from 1 to $T$ inclusive
/// (for $S = T$ every timestep).
pub fn ddim_timesteps(steps: usize, num_timesteps: usize) -> Vec<usize> {
    if steps <= 1 {
        return vec![num_timesteps];
    }
    (0..steps)
        .map(|i| 1 + (i as f64 * (num_timesteps - 1) as f64 / (steps - 1) as f64).round() as usize)
        .collect()
}

fn standard_normal(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

fn to_tensor(values: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn to_host(x: &Tensor<4>) -> Vec<f32> {
    x.to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 data")
}

/// $\hat x_0 = \big(x_t - \sqrt{1 - \bar\alpha_t}\,\epsilon\big)/\sqrt{\bar\alpha_t}$
/// (Ho et al. 2020, Eq. (4) solved for $x_0$), optionally clipped to $[-1, 1]$.
fn predict_x0(
    schedule: &NoiseSchedule,
    x_t: Tensor<4>,
    t: usize,
    eps: Tensor<4>,
    clip: bool,
) -> Tensor<4> {
    let i = t - 1;
    let x0 = x_t.mul_scalar(schedule.sqrt_recip_alpha_bar()[i])
        - eps.mul_scalar(schedule.sqrt_recipm1_alpha_bar()[i]);
    if clip { x0.clamp(-1.0, 1.0) } else { x0 }
}

// ANCHOR: p_sample
/// One ancestral step $x_t \to x_{t-1}$ (Ho et al. 2020, Algorithm 2, line 4, written through
/// $\hat x_0$ so that it can be clipped): $x_{t-1} = \tilde\mu_t(x_t, \hat x_0) + \sigma_t z$,
/// with no noise at $t = 1$.
///
/// # Shapes
/// - `x_t`, `noise`: `[batch, c, h, w]`; returns `[batch, c, h, w]`
pub fn p_sample(
    model: &(impl NoisePredictor + ?Sized),
    schedule: &NoiseSchedule,
    x_t: Tensor<4>,
    t: usize,
    variance: VarianceKind,
    clip_x0: bool,
    noise: Tensor<4>,
) -> Tensor<4> {
    let [batch, _, _, _] = x_t.dims();
    let device = x_t.device();
    let t_in = Tensor::<1>::full([batch], t as f32, &device); // [batch]
    let eps = model.predict_noise(x_t.clone(), t_in); // [batch, c, h, w]
    let i = t - 1;
    let x0 = predict_x0(schedule, x_t.clone(), t, eps, clip_x0);
    let mean = x0.mul_scalar(schedule.posterior_mean_coef1()[i])
        + x_t.mul_scalar(schedule.posterior_mean_coef2()[i]); // Eq. (7)
    if t == 1 {
        return mean;
    }
    let sigma2 = match variance {
        VarianceKind::Beta => schedule.beta()[i],
        VarianceKind::PosteriorBeta => schedule.posterior_variance()[i],
    };
    mean + noise.mul_scalar(sigma2.sqrt())
}
// ANCHOR_END: p_sample

// ANCHOR: ddim_step
/// One DDIM step from $t$ to $s < t$ (Song et al. 2021, Eq. (12); $\bar\alpha_0 = 1$):
/// $$ x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1 - \bar\alpha_s - \sigma^2}\,\hat\epsilon +
///   \sigma z,\quad \sigma = \eta\sqrt{\tfrac{1-\bar\alpha_s}{1-\bar\alpha_t}}
///   \sqrt{1 - \tfrac{\bar\alpha_t}{\bar\alpha_s}}, $$
/// with $\hat x_0$ from $\epsilon_\theta(x_t, t)$ and
/// $\hat\epsilon = (x_t - \sqrt{\bar\alpha_t}\,\hat x_0)/\sqrt{1-\bar\alpha_t}$: that is
/// $\epsilon_\theta$ itself without clipping, and the noise consistent with the clipped
/// $\hat x_0$ with it.
// The eight inputs are the step's own quantities (model, schedule, x_t, t, s, eta, clipping,
// noise); bundling them into a struct would hide the equation's shape.
#[allow(clippy::too_many_arguments)]
pub fn ddim_step(
    model: &(impl NoisePredictor + ?Sized),
    schedule: &NoiseSchedule,
    x_t: Tensor<4>,
    t: usize,
    s: usize,
    eta: f64,
    clip_x0: bool,
    noise: Tensor<4>,
) -> Tensor<4> {
    let [batch, _, _, _] = x_t.dims();
    let device = x_t.device();
    let eps = model.predict_noise(x_t.clone(), Tensor::<1>::full([batch], t as f32, &device));
    let alpha_bar_t = schedule.alpha_bar()[t - 1];
    let alpha_bar_s = if s == 0 {
        1.0
    } else {
        schedule.alpha_bar()[s - 1]
    };
    let x0 = predict_x0(schedule, x_t.clone(), t, eps.clone(), clip_x0);
    // With clipping, the noise that is consistent with the clipped x0.
    let eps = if clip_x0 {
        (x_t - x0.clone().mul_scalar(alpha_bar_t.sqrt())).div_scalar((1.0 - alpha_bar_t).sqrt())
    } else {
        eps
    };
    let sigma = eta
        * ((1.0 - alpha_bar_s) / (1.0 - alpha_bar_t)).sqrt()
        * (1.0 - alpha_bar_t / alpha_bar_s).sqrt();
    let direction = (1.0 - alpha_bar_s - sigma * sigma).max(0.0).sqrt();
    let x_s = x0.mul_scalar(alpha_bar_s.sqrt()) + eps.mul_scalar(direction);
    if sigma > 0.0 {
        x_s + noise.mul_scalar(sigma)
    } else {
        x_s
    }
}
// ANCHOR_END: ddim_step

/// Draws `options.count` images from `model` (Ho et al. 2020, Algorithm 2, or DDIM): a
/// [`UNet`](crate::network::UNet), or a guided conditional one
/// ([`Guided`](crate::network::Guided), chapter 18).
/// `on_step(done, total)` is called after each network evaluation (for progress bars).
///
/// # Errors
/// [`SampleError`] for invalid options.
pub fn sample(
    model: &(impl NoisePredictor + ?Sized),
    schedule: &NoiseSchedule,
    channels: usize,
    size: usize,
    options: &SampleOptions,
    device: &Device,
    mut on_step: impl FnMut(usize, usize),
) -> Result<Samples, SampleError> {
    let big_t = schedule.num_timesteps();
    if options.count == 0 {
        return Err(SampleError::Count);
    }
    // The timesteps visited, from T down.
    let visit: Vec<usize> = match options.sampler {
        Sampler::Ancestral { .. } => (1..=big_t).rev().collect(),
        Sampler::Ddim { steps, eta } => {
            if steps == 0 || steps > big_t {
                return Err(SampleError::Steps { steps, max: big_t });
            }
            if !(eta.is_finite() && eta >= 0.0) {
                return Err(SampleError::Eta(eta));
            }
            ddim_timesteps(steps, big_t).into_iter().rev().collect()
        }
    };
    let shape = [options.count, channels, size, size];
    let n = options.count * channels * size * size;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut x = to_tensor(standard_normal(&mut rng, n), shape, device); // x_T ~ N(0, I)
    let total = visit.len();
    let record_at: Vec<usize> = if options.frames == 0 {
        Vec::new()
    } else {
        (0..options.frames)
            .map(|j| ((j + 1) * total).div_ceil(options.frames))
            .collect()
    };
    let mut frames = Vec::new();
    if options.frames > 0 {
        frames.push(to_host(&x));
    }
    for (k, &t) in visit.iter().enumerate() {
        let noise = to_tensor(standard_normal(&mut rng, n), shape, device);
        x = match options.sampler {
            Sampler::Ancestral { variance } => {
                p_sample(model, schedule, x, t, variance, options.clip_x0, noise)
            }
            Sampler::Ddim { eta, .. } => {
                let s = visit.get(k + 1).copied().unwrap_or(0);
                ddim_step(model, schedule, x, t, s, eta, options.clip_x0, noise)
            }
        };
        if record_at.contains(&(k + 1)) {
            frames.push(to_host(&x));
        }
        on_step(k + 1, total);
    }
    Ok(Samples {
        images: to_host(&x),
        frames,
        count: options.count,
    })
}
