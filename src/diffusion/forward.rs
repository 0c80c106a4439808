//! Chapter 6: the forward (noising) process $q$. See `chapters/06-forward-process.md`.
//!
//! **Timesteps are the paper's $t \in \{1, \dots, T\}$** (1-based) in every function here;
//! they read slot `t - 1` of the [`NoiseSchedule`] slices. A `t` outside `1..=T` is a
//! programming error and panics with a message saying so.

use ndarray::{Array, ArrayBase, Data, Dimension};
use rand::Rng;
use rand_distr::StandardNormal;

use super::schedule::NoiseSchedule;
use crate::probability::{LogVariance, Variance};

/// The slot of the paper's timestep `t` in the schedule's slices, checking `1 <= t <= T`.
///
/// # Panics
/// If `t == 0` or `t > T`.
#[track_caller]
pub fn slot(schedule: &NoiseSchedule, t: usize) -> usize {
    let num = schedule.num_timesteps();
    assert!(
        (1..=num).contains(&t),
        "timestep t = {t} is outside 1..={num}: functions in ddpm::diffusion take the paper's \
         1-based t (slice index t - 1)"
    );
    t - 1
}

/// A variance known to be valid by the schedule's invariants.
/// $a\,x + b\,y$, elementwise: the one operation behind [`q_sample`], [`q_step`], the
/// posterior mean and the reverse-process means.
///
/// # Panics
/// If the shapes differ (`what` names the two arguments in the message).
#[track_caller]
pub(crate) fn weighted_sum<S1, S2, D>(
    a: f64,
    x: &ArrayBase<S1, D>,
    b: f64,
    y: &ArrayBase<S2, D>,
    what: &str,
) -> Array<f64, D>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    D: Dimension,
{
    assert_eq!(x.shape(), y.shape(), "{what} shapes differ");
    let mut out = x.to_owned();
    out.zip_mut_with(y, |x, &y| *x = a * *x + b * y);
    out
}

pub(crate) fn variance(value: f64) -> Variance {
    match Variance::new(value) {
        Ok(v) => v,
        Err(e) => panic!("schedule invariant violated: {e}"),
    }
}

/// A log-variance known to be finite by the schedule's invariants.
pub(crate) fn log_variance(value: f64) -> LogVariance {
    match LogVariance::new(value) {
        Ok(v) => v,
        Err(e) => panic!("schedule invariant violated: {e}"),
    }
}

/// An array of independent standard normal draws of the given shape.
///
/// ```
/// use ddpm::diffusion::forward::standard_normal;
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let z = standard_normal(ndarray::Ix2(1000, 2), &mut rng);
/// assert!(z.mean().unwrap().abs() < 0.1);
/// ```
pub fn standard_normal<D: Dimension, R: Rng + ?Sized>(shape: D, rng: &mut R) -> Array<f64, D> {
    Array::from_shape_simple_fn(shape, || rng.sample(StandardNormal))
}

/// A Gaussian with a mean array and one shared (isotropic) variance, returned by
/// [`q_mean_variance`].
#[derive(Debug, Clone, PartialEq)]
pub struct IsotropicGaussian<D: Dimension> {
    /// The mean, same shape as the input.
    pub mean: Array<f64, D>,
    /// The variance shared by every element.
    pub variance: Variance,
    /// Its logarithm.
    pub log_variance: LogVariance,
}

// ANCHOR: q_mean_variance
/// The closed form of the forward process (Ho et al. 2020, Eq. (4)):
///
/// $$q(x_t \mid x_0) = \mathcal N\big(x_t;\ \sqrt{\bar\alpha_t}\,x_0,\ (1 - \bar\alpha_t)\,I\big).$$
///
/// `t` is the paper's timestep, $1 \le t \le T$.
///
/// # Shapes
/// `x_start`: any shape; the mean has the same shape.
///
/// # Panics
/// If `t` is not in `1..=T`.
///
/// ```
/// use ddpm::diffusion::{forward::q_mean_variance, schedule::NoiseSchedule};
/// let s = NoiseSchedule::linear(1000).unwrap();
/// let q = q_mean_variance(&s, &ndarray::arr1(&[1.0, -1.0]), 1000);
/// // By t = T almost all signal is gone: q(x_T | x_0) is close to N(0, I).
/// assert!(q.mean[0] < 0.01 && q.variance.get() > 0.9999);
/// ```
#[track_caller]
pub fn q_mean_variance<S, D>(
    schedule: &NoiseSchedule,
    x_start: &ArrayBase<S, D>,
    t: usize,
) -> IsotropicGaussian<D>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    let i = slot(schedule, t);
    let one_minus_alpha_bar = 1.0 - schedule.alpha_bar()[i];
    IsotropicGaussian {
        mean: x_start.mapv(|x| schedule.sqrt_alpha_bar()[i] * x),
        variance: variance(one_minus_alpha_bar),
        log_variance: log_variance(one_minus_alpha_bar.ln()),
    }
}
// ANCHOR_END: q_mean_variance

// ANCHOR: q_sample
/// Draws $x_t \sim q(x_t \mid x_0)$ in one step by reparameterisation (Ho et al. 2020, Eq. (4)
/// and Algorithm 1, line 5):
///
/// $$x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon, \qquad
///   \epsilon \sim \mathcal N(0, I).$$
///
/// The noise is passed in (rather than drawn here) because training needs it as the target.
///
/// # Shapes
/// `x_start` and `noise`: the same shape; so is the result.
///
/// # Panics
/// If `t` is not in `1..=T` or the shapes differ.
///
/// ```
/// use ddpm::diffusion::{forward::q_sample, schedule::NoiseSchedule};
/// use ndarray::arr1;
/// let s = NoiseSchedule::linear(1000).unwrap();
/// let x0 = arr1(&[0.5]);
/// // With zero noise, x_t is the shrunken mean sqrt(alpha_bar_t) x_0.
/// let xt = q_sample(&s, &x0, 10, &arr1(&[0.0]));
/// assert_eq!(xt[0], s.sqrt_alpha_bar()[9] * 0.5);
/// ```
#[track_caller]
pub fn q_sample<S1, S2, D>(
    schedule: &NoiseSchedule,
    x_start: &ArrayBase<S1, D>,
    t: usize,
    noise: &ArrayBase<S2, D>,
) -> Array<f64, D>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    D: Dimension,
{
    let i = slot(schedule, t);
    // sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps
    weighted_sum(
        schedule.sqrt_alpha_bar()[i],
        x_start,
        schedule.sqrt_one_minus_alpha_bar()[i],
        noise,
        "x_start and noise",
    )
}
// ANCHOR_END: q_sample

// ANCHOR: q_step
/// One step of the forward Markov chain (Ho et al. 2020, Eq. (2)):
///
/// $$q(x_t \mid x_{t-1}) = \mathcal N\big(x_t;\ \sqrt{1 - \beta_t}\,x_{t-1},\ \beta_t I\big),
///   \qquad x_t = \sqrt{1-\beta_t}\,x_{t-1} + \sqrt{\beta_t}\,\epsilon.$$
///
/// # Shapes
/// `x_prev` and `noise`: the same shape; so is the result.
///
/// # Panics
/// If `t` is not in `1..=T` or the shapes differ.
///
/// ```
/// use ddpm::diffusion::{forward::q_step, schedule::NoiseSchedule};
/// use ndarray::arr1;
/// let s = NoiseSchedule::linear(1000).unwrap();
/// // The first step barely changes x_0: beta_1 = 1e-4.
/// let x1 = q_step(&s, &arr1(&[1.0]), 1, &arr1(&[1.0]));
/// assert!((x1[0] - (1.0f64 - 1e-4).sqrt() - 1e-2).abs() < 1e-12);
/// ```
#[track_caller]
pub fn q_step<S1, S2, D>(
    schedule: &NoiseSchedule,
    x_prev: &ArrayBase<S1, D>,
    t: usize,
    noise: &ArrayBase<S2, D>,
) -> Array<f64, D>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    D: Dimension,
{
    let i = slot(schedule, t);
    // sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps
    weighted_sum(
        schedule.alpha()[i].sqrt(),
        x_prev,
        schedule.beta()[i].sqrt(),
        noise,
        "x_prev and noise",
    )
}
// ANCHOR_END: q_step

/// Runs the chain $x_0 \to x_1 \to \dots \to x_t$ step by step with [`q_step`], drawing fresh
/// noise at each step. Its distribution equals [`q_mean_variance`]'s closed form (chapter 6
/// proves it; `tests/forward_process.rs` checks it by Monte Carlo).
///
/// # Panics
/// If `t > T`. (`t = 0` returns `x_start` unchanged.)
#[track_caller]
pub fn q_chain<S, D, R>(
    schedule: &NoiseSchedule,
    x_start: &ArrayBase<S, D>,
    t: usize,
    rng: &mut R,
) -> Array<f64, D>
where
    S: Data<Elem = f64>,
    D: Dimension,
    R: Rng + ?Sized,
{
    let mut x = x_start.to_owned();
    for s in 1..=t {
        let noise = standard_normal(x.raw_dim(), rng);
        x = q_step(schedule, &x, s, &noise);
    }
    x
}
