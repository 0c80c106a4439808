//! Chapter 9: the variational bound $L = L_T + \sum_{t>1} L_{t-1} + L_0$, its Gaussian KL
//! terms, the discretised Gaussian decoder $L_0$ and bits per dimension.
//! See `chapters/09-variational-bound.md`.
//!
//! All functions are elementwise (per pixel / per coordinate) and return **nats**, as Ho et
//! al.'s `diffusion_utils_2.py` does before its `mean_flat(...) / log(2)`; sum or average over
//! dimensions and convert with [`nats_to_bits`]. Timesteps are the paper's $t$.

use ndarray::{Array, ArrayBase, Data, Dimension, Zip};

use super::forward::{log_variance, slot};
use super::posterior::q_posterior_mean_variance;
use super::reverse::{ReverseOptions, VarianceKind, p_mean_variance};
use super::schedule::NoiseSchedule;
use crate::probability::{LogVariance, kl::normal_kl};

/// $\log 2$, to turn nats into bits.
pub const LN_2: f64 = std::f64::consts::LN_2;

/// Nats to bits: $b = n / \ln 2$. Averaged over dimensions this is "bits per dimension".
///
/// ```
/// assert!((ddpm::diffusion::bound::nats_to_bits(std::f64::consts::LN_2) - 1.0).abs() < 1e-15);
/// ```
pub fn nats_to_bits(nats: f64) -> f64 {
    nats / LN_2
}

/// Bits per dimension of a total negative log-likelihood `total_nats` over `num_dims`
/// dimensions: $\frac{-\log p(x)}{D \ln 2}$ (an MNIST image has $D = 784$).
///
/// ```
/// // A uniform distribution over 256 grey levels costs exactly 8 bits per pixel.
/// let nats = 784.0 * 256f64.ln();
/// assert!((ddpm::diffusion::bound::bits_per_dim(nats, 784) - 8.0).abs() < 1e-12);
/// ```
pub fn bits_per_dim(total_nats: f64, num_dims: usize) -> f64 {
    total_nats / (num_dims as f64 * LN_2)
}

/// The complementary error function $\operatorname{erfc}(x) = 1 - \operatorname{erf}(x)$, to
/// about 1e-15 relative accuracy (Rust's `f64::erf` is not stable yet).
///
/// For $-3 \le x < 1$: the everywhere-positive series
/// $\operatorname{erf}(x) = \frac{2}{\sqrt\pi} e^{-x^2} \sum_{n\ge0} \frac{2^n x^{2n+1}}{1\cdot3\cdots(2n+1)}$;
/// for $x \ge 1$: the continued fraction
/// $\operatorname{erfc}(x) = \frac{e^{-x^2}}{\sqrt\pi}\cfrac{1}{x + \cfrac{1/2}{x + \cfrac{1}{x + \cfrac{3/2}{x + \cdots}}}}$
/// (Abramowitz & Stegun 7.1.6 and 7.1.14).
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < -3.0 {
        return 2.0 - erfc(-x);
    }
    // The series gives erf, and 1 - erf cancels as erf -> 1: switching at x = 3 lost up to
    // 3e-11 relative accuracy just below 3. From x = 1 the continued fraction converges in
    // under 230 terms and keeps the whole range within about 5e-15 (tests/variational_bound.rs).
    if x < 1.0 {
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= 2.0 * x2 / (2.0 * n + 1.0);
            sum += term;
        }
        return 1.0 - 2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum;
    }
    // Modified Lentz evaluation of the continued fraction x + (1/2)/(x + 1/(x + (3/2)/(x + ...))).
    let tiny = 1e-300;
    let mut f = x;
    let mut c = x;
    let mut d = 0.0;
    for k in 1..500 {
        let a = k as f64 / 2.0;
        d = x + a * d;
        d = if d == 0.0 { tiny } else { d };
        c = x + a / c;
        c = if c == 0.0 { tiny } else { c };
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

/// The standard normal CDF $\Phi(x) = \tfrac12\operatorname{erfc}(-x/\sqrt2)$, exact to
/// rounding (including far in the tails).
///
/// ```
/// use ddpm::diffusion::bound::standard_normal_cdf;
/// assert_eq!(standard_normal_cdf(0.0), 0.5);
/// assert!((standard_normal_cdf(1.959963984540054) - 0.975).abs() < 1e-15);
/// ```
pub fn standard_normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Ho et al.'s fast approximation of $\Phi$ (`approx_standard_normal_cdf` in
/// `diffusion_utils_2.py`, from PixelCNN++):
/// $\Phi(x) \approx \tfrac12\big(1 + \tanh\big(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\big)\big)$.
/// Its error is below $2\times10^{-4}$ (`tests/variational_bound.rs`); this crate's decoder uses the
/// exact [`standard_normal_cdf`].
pub fn approx_standard_normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
}

// ANCHOR: discretized_gaussian_log_likelihood
/// The discretised Gaussian decoder $\log p_\theta(x_0 \mid x_1)$ of one pixel (Ho et al. 2020,
/// Eq. (13); `discretized_gaussian_log_likelihood` in their code). Pixel values $0..255$ are
/// scaled to $x \in [-1, 1]$, so bins have width $2/255$ and are centred on the values; the
/// first and last bins extend to $\mp\infty$:
///
/// $$p(x) = \int_{\delta_-(x)}^{\delta_+(x)} \mathcal N(v;\mu,\sigma^2)\,dv,\quad
///   \delta_+(x) = \begin{cases}\infty & x = 1\\ x + \tfrac1{255} & x < 1\end{cases},\quad
///   \delta_-(x) = \begin{cases}-\infty & x = -1\\ x - \tfrac1{255} & x > -1\end{cases}.$$
///
/// Returns nats (a log-probability, $\le 0$). As in Ho et al.'s code, probabilities are floored
/// at $10^{-12}$ before the log, and $x < -0.999$ / $x > 0.999$ select the edge bins.
///
/// ```
/// use ddpm::diffusion::bound::discretized_gaussian_log_likelihood as ll;
/// use ddpm::probability::LogVariance;
/// // The 256 bins' probabilities sum to one.
/// let lv = LogVariance::new((0.3f64).ln()).unwrap();
/// let total: f64 = (0..256).map(|k| ll(2.0 * k as f64 / 255.0 - 1.0, 0.1, lv).exp()).sum();
/// assert!((total - 1.0).abs() < 1e-12);
/// ```
pub fn discretized_gaussian_log_likelihood(x: f64, mean: f64, log_variance: LogVariance) -> f64 {
    let inv_std = (-0.5 * log_variance.get()).exp();
    let centred = x - mean;
    let cdf_plus = standard_normal_cdf(inv_std * (centred + 1.0 / 255.0));
    let cdf_min = standard_normal_cdf(inv_std * (centred - 1.0 / 255.0));
    let prob = if x < -0.999 {
        cdf_plus // the bin (-inf, -1 + 1/255]
    } else if x > 0.999 {
        // 1 - Phi(a) computed as Phi(-a), which keeps precision in the upper tail
        standard_normal_cdf(-inv_std * (centred - 1.0 / 255.0))
    } else {
        cdf_plus - cdf_min
    };
    prob.max(1e-12).ln()
}
// ANCHOR_END: discretized_gaussian_log_likelihood

// ANCHOR: prior_kl
/// $L_T = D_{\mathrm{KL}}\big(q(x_T \mid x_0)\,\|\,\mathcal N(0, I)\big)$ per dimension, in nats
/// (Ho et al. 2020, Eq. (5); `_prior_bpd` in their code before dividing by $\ln 2$). It
/// contains no learnable parameter: a constant of training (Sec. 3.1).
///
/// ```
/// use ddpm::diffusion::{bound::prior_kl, schedule::NoiseSchedule};
/// let s = NoiseSchedule::linear(1000).unwrap();
/// let lt = prior_kl(&s, &ndarray::arr1(&[1.0]));
/// assert!(lt[0] > 0.0 && lt[0] < 1e-4); // tiny: q(x_T | x_0) is almost N(0, 1)
/// ```
pub fn prior_kl<S, D>(schedule: &NoiseSchedule, x_start: &ArrayBase<S, D>) -> Array<f64, D>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    let i = schedule.num_timesteps() - 1;
    let lv = log_variance((1.0 - schedule.alpha_bar()[i]).ln());
    let zero = log_variance(0.0);
    x_start.mapv(|x0| normal_kl(schedule.sqrt_alpha_bar()[i] * x0, lv, 0.0, zero))
}
// ANCHOR_END: prior_kl

// ANCHOR: posterior_kl
/// $L_{t-1} = D_{\mathrm{KL}}\big(q(x_{t-1} \mid x_t, x_0)\,\|\,p_\theta(x_{t-1} \mid x_t)\big)$
/// per element, in nats, for $t \ge 2$ (Ho et al. 2020, Eq. (5)): both are Gaussians, so this is
/// [`normal_kl`] of the posterior ([`q_posterior_mean_variance`]) and the model
/// ([`p_mean_variance`] from the noise prediction `noise_pred`).
///
/// # Panics
/// If `t < 2` (at $t = 1$ the bound uses the decoder [`decoder_nll`]) or `t > T`, or the
/// shapes differ.
#[track_caller]
pub fn posterior_kl<S1, S2, S3, D>(
    schedule: &NoiseSchedule,
    x_start: &ArrayBase<S1, D>,
    x_t: &ArrayBase<S2, D>,
    t: usize,
    noise_pred: &ArrayBase<S3, D>,
    variance: VarianceKind,
) -> Array<f64, D>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    S3: Data<Elem = f64>,
    D: Dimension,
{
    assert!(
        t >= 2,
        "L_(t-1) is a KL only for t >= 2; use decoder_nll at t = 1"
    );
    let q = q_posterior_mean_variance(schedule, x_start, x_t, t);
    let p = p_mean_variance(
        schedule,
        x_t,
        t,
        noise_pred,
        ReverseOptions::unclipped(variance),
    );
    Zip::from(&q.mean)
        .and(&p.mean)
        .map_collect(|&mq, &mp| normal_kl(mq, q.log_variance_clipped, mp, p.log_variance))
}
// ANCHOR_END: posterior_kl

// ANCHOR: loss_weight
/// $\sigma_t^2$ of the chosen [`VarianceKind`] at slot `i` (the paper's $t = i + 1$).
fn sigma_squared(schedule: &NoiseSchedule, i: usize, variance: VarianceKind) -> f64 {
    match variance {
        VarianceKind::Beta => schedule.beta()[i],
        VarianceKind::PosteriorBeta => schedule.posterior_variance()[i],
    }
}

/// The weight of the noise error in $L_{t-1}$ (Ho et al. 2020, Eq. (12)):
///
/// $$L_{t-1} - D\,C_t = \frac{\beta_t^2}{2\sigma_t^2\,\alpha_t\,(1-\bar\alpha_t)}\,
///   \big\|\epsilon - \epsilon_\theta(x_t, t)\big\|^2 .$$
///
/// for $x_t$ of $D$ dimensions ([`variance_mismatch_kl`] is $C_t$, per dimension).
/// $L_\text{simple}$ (Eq. (14)) replaces this weight by 1.
///
/// # Panics
/// If `t < 2` or `t > T`.
#[track_caller]
pub fn loss_weight(schedule: &NoiseSchedule, t: usize, variance: VarianceKind) -> f64 {
    let i = slot(schedule, t);
    assert!(t >= 2, "the weight is defined for t >= 2");
    let sigma2 = sigma_squared(schedule, i, variance);
    schedule.beta()[i].powi(2)
        / (2.0 * sigma2 * schedule.alpha()[i] * (1.0 - schedule.alpha_bar()[i]))
}
// ANCHOR_END: loss_weight

// ANCHOR: min_snr_weights
/// The min-SNR-$\gamma$ weights (Hang et al. 2023) of the noise error, one per step:
///
/// $$w_t = \frac{\min(\mathrm{SNR}(t),\ \gamma)}{\mathrm{SNR}(t)},\qquad
///   \mathrm{SNR}(t) = \frac{\bar\alpha_t}{1-\bar\alpha_t}.$$
///
/// Since $x_0 - \hat x_0 = (\epsilon - \epsilon_\theta)/\sqrt{\mathrm{SNR}(t)}$,
/// $w_t\,\lVert\epsilon - \epsilon_\theta\rVert^2 = \min(\mathrm{SNR}(t), \gamma)\,
/// \lVert x_0 - \hat x_0\rVert^2$: $L_\text{simple}$ weighs the $x_0$ error by
/// $\mathrm{SNR}(t)$, which is huge for small $t$; min-SNR caps that weight at $\gamma$. So
/// $w_t = 1$ (as in $L_\text{simple}$) where $\mathrm{SNR}(t) \le \gamma$, and the nearly
/// clean steps, where $\mathrm{SNR}(t) > \gamma$, count less. Index `i` holds $t = i + 1$.
///
/// ```
/// use ddpm::diffusion::{bound::min_snr_weights, schedule::NoiseSchedule};
/// let s = NoiseSchedule::linear(1000)?;
/// let w = min_snr_weights(&s, 5.0);
/// assert!(w[0] < 1e-3 && w[999] == 1.0);
/// # Ok::<(), ddpm::diffusion::schedule::ScheduleError>(())
/// ```
///
/// # Panics
/// If `gamma` is not finite and positive.
#[track_caller]
pub fn min_snr_weights(schedule: &NoiseSchedule, gamma: f64) -> Vec<f64> {
    assert!(
        gamma.is_finite() && gamma > 0.0,
        "min-SNR gamma must be finite and positive, got {gamma}"
    );
    schedule
        .snr()
        .iter()
        .map(|&snr| snr.min(gamma) / snr)
        .collect()
}
// ANCHOR_END: min_snr_weights

/// The part $C_t$ of $L_{t-1}$ that does not depend on $\epsilon_\theta$: the KL between
/// $\mathcal N(0, \tilde\beta_t)$ and $\mathcal N(0, \sigma_t^2)$,
/// $C_t = \tfrac12\big(\tilde\beta_t/\sigma_t^2 - 1 - \log(\tilde\beta_t/\sigma_t^2)\big)$ per
/// dimension, in nats. Zero for [`VarianceKind::PosteriorBeta`].
///
/// # Panics
/// If `t < 2` or `t > T`.
#[track_caller]
pub fn variance_mismatch_kl(schedule: &NoiseSchedule, t: usize, variance: VarianceKind) -> f64 {
    let i = slot(schedule, t);
    assert!(t >= 2, "defined for t >= 2");
    let sigma2 = sigma_squared(schedule, i, variance);
    let lv = |v: f64| log_variance(v.ln());
    normal_kl(0.0, lv(schedule.posterior_variance()[i]), 0.0, lv(sigma2))
}

/// The decoder term $L_0 = -\log p_\theta(x_0 \mid x_1)$ per pixel, in nats: the model's mean
/// at $t = 1$ from the noise prediction, the log-variance [`p_mean_variance`] reports at
/// $t = 1$, and [`discretized_gaussian_log_likelihood`]. `x_start` must be on the pixel grid
/// in $[-1, 1]$.
///
/// # Panics
/// If the shapes differ.
pub fn decoder_nll<S1, S2, S3, D>(
    schedule: &NoiseSchedule,
    x_start: &ArrayBase<S1, D>,
    x_1: &ArrayBase<S2, D>,
    noise_pred: &ArrayBase<S3, D>,
    variance: VarianceKind,
) -> Array<f64, D>
where
    S1: Data<Elem = f64>,
    S2: Data<Elem = f64>,
    S3: Data<Elem = f64>,
    D: Dimension,
{
    let p = p_mean_variance(
        schedule,
        x_1,
        1,
        noise_pred,
        ReverseOptions::unclipped(variance),
    );
    Zip::from(x_start)
        .and(&p.mean)
        .map_collect(|&x, &m| -discretized_gaussian_log_likelihood(x, m, p.log_variance))
}

/// A [`LogVariance`] helper for callers: $\log\sigma^2$ from $\sigma^2$.
///
/// # Panics
/// If `variance` is not finite and positive.
pub fn ln_variance(variance: f64) -> LogVariance {
    log_variance(variance.ln())
}

/// The terms of the bound for a batch of data, in nats per dimension averaged over the batch
/// (Ho et al.'s `calc_bpd_loop`): $L_T$, $L_{t-1}$ for $t = 2..T$ and $L_0$, each
/// $L_{t-1}$ estimated with one draw $x_t \sim q(x_t \mid x_0)$ per data point.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundTerms {
    /// $L_T$.
    pub prior: f64,
    /// `kl[t - 2]` is $L_{t-1}$ for $t = 2..=T$.
    pub kl: Vec<f64>,
    /// $L_0 = -\log p_\theta(x_0 \mid x_1)$.
    pub decoder: f64,
}

impl BoundTerms {
    /// $L = L_T + \sum_t L_{t-1} + L_0$, nats per dimension.
    pub fn total(&self) -> f64 {
        self.prior + self.kl.iter().sum::<f64>() + self.decoder
    }
    /// The bound in bits per dimension.
    pub fn bits_per_dim(&self) -> f64 {
        nats_to_bits(self.total())
    }
}

// ANCHOR: bound_terms
/// Estimates every term of the variational bound (Ho et al. 2020, Eq. (5)) for the batch
/// `x_start` (shape `[n, d]`, values on the pixel grid in $[-1, 1]$) under the model given by
/// `denoiser` and `variance`, as Ho et al.'s `calc_bpd_loop` does: for each $t$, draw
/// $x_t \sim q(x_t \mid x_0)$ once per data point, evaluate $L_{t-1}$ (or $L_0$ at $t = 1$), and
/// average over points and dimensions.
pub fn bound_terms<M, R>(
    schedule: &NoiseSchedule,
    denoiser: &M,
    x_start: &ndarray::Array2<f64>,
    variance: VarianceKind,
    rng: &mut R,
) -> BoundTerms
where
    M: super::reverse::Denoiser<ndarray::Ix2> + ?Sized,
    R: rand::Rng + ?Sized,
{
    let mean = |a: Array<f64, ndarray::Ix2>| a.mean().unwrap_or(0.0);
    let mut kl = Vec::with_capacity(schedule.num_timesteps().saturating_sub(1));
    let mut decoder = 0.0;
    for t in 1..=schedule.num_timesteps() {
        let noise = super::forward::standard_normal(x_start.raw_dim(), rng);
        let x_t = super::forward::q_sample(schedule, x_start, t, &noise);
        let eps = denoiser.predict_noise(&x_t, t);
        if t == 1 {
            decoder = mean(decoder_nll(schedule, x_start, &x_t, &eps, variance));
        } else {
            kl.push(mean(posterior_kl(
                schedule, x_start, &x_t, t, &eps, variance,
            )));
        }
    }
    BoundTerms {
        prior: mean(prior_kl(schedule, x_start)),
        kl,
        decoder,
    }
}
// ANCHOR_END: bound_terms

/// $\log\mathcal N(x; m, v)$ of one coordinate, in nats.
fn gaussian_log_density(x: f64, mean: f64, variance: f64) -> f64 {
    -0.5 * ((2.0 * std::f64::consts::PI * variance).ln() + (x - mean).powi(2) / variance)
}

// ANCHOR: chain_bound
/// The bound in its original form (Ho et al. 2020, Eq. (3)), before the rewrite into KL terms:
/// one sample, per element of `x_start` (shape `[n, d]`, values on the pixel grid), of
///
/// $$-\log p(x_T) - \sum_{t=2}^{T}\log\frac{p_\theta(x_{t-1}\mid x_t)}{q(x_t\mid x_{t-1})}
///   - \log\frac{p_\theta(x_0\mid x_1)}{q(x_1\mid x_0)},$$
///
/// along one whole forward chain $x_0 \to x_1 \to \dots \to x_T$ drawn step by step with
/// [`q_step`](super::forward::q_step). Its mean over chains is $L$, the same number
/// [`bound_terms`] computes from Eq. (5), where each step's ratio is integrated in closed form
/// (the KL terms). Densities are in nats; the decoder
/// $p_\theta(x_0 \mid x_1)$ is the discretised one of [`decoder_nll`] (a probability).
pub fn chain_bound<M, R>(
    schedule: &NoiseSchedule,
    denoiser: &M,
    x_start: &ndarray::Array2<f64>,
    variance: VarianceKind,
    rng: &mut R,
) -> ndarray::Array2<f64>
where
    M: super::reverse::Denoiser<ndarray::Ix2> + ?Sized,
    R: rand::Rng + ?Sized,
{
    let mut total = ndarray::Array2::<f64>::zeros(x_start.raw_dim());
    let mut x_prev = x_start.clone();
    for t in 1..=schedule.num_timesteps() {
        let i = t - 1;
        let noise = super::forward::standard_normal(x_start.raw_dim(), rng);
        let x_t = super::forward::q_step(schedule, &x_prev, t, &noise);
        let (sqrt_alpha, beta) = (schedule.alpha()[i].sqrt(), schedule.beta()[i]);
        // + log q(x_t | x_{t-1}) = log N(x_t; sqrt(alpha_t) x_{t-1}, beta_t)
        Zip::from(&mut total)
            .and(&x_t)
            .and(&x_prev)
            .for_each(|l, &x, &xp| *l += gaussian_log_density(x, sqrt_alpha * xp, beta));
        let eps = denoiser.predict_noise(&x_t, t);
        if t == 1 {
            // - log p_theta(x_0 | x_1): the discretised decoder
            total += &decoder_nll(schedule, x_start, &x_t, &eps, variance);
        } else {
            // - log p_theta(x_{t-1} | x_t) = -log N(x_{t-1}; mu_theta(x_t, t), sigma_t^2)
            let p = p_mean_variance(schedule, &x_t, t, &eps, ReverseOptions::unclipped(variance));
            Zip::from(&mut total)
                .and(&x_prev)
                .and(&p.mean)
                .for_each(|l, &x, &m| *l -= gaussian_log_density(x, m, p.variance));
        }
        x_prev = x_t;
    }
    // - log p(x_T), p(x_T) = N(0, I)
    Zip::from(&mut total)
        .and(&x_prev)
        .for_each(|l, &x| *l -= gaussian_log_density(x, 0.0, 1.0));
    total
}
// ANCHOR_END: chain_bound
