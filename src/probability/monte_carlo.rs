//! Chapter 4: Monte Carlo estimation. See `chapters/04-monte-carlo.md`.
//!
//! $$\mathbb E_{p}[f(x)] \approx \hat\mu_K = \frac1K\sum_{k=1}^K f(x_k),\quad x_k \sim p,
//! \qquad \mathrm{SE}(\hat\mu_K) = \frac{\hat s}{\sqrt K},$$
//!
//! with $\hat s$ the sample standard deviation of the $f(x_k)$. The error falls as
//! $1/\sqrt K$: a hundred times more samples buy one more correct digit.

use rand::Rng;

use super::{Gaussian, ProbabilityError};

/// A Monte Carlo estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McEstimate {
    /// $\hat\mu_K = \frac1K\sum_k f(x_k)$.
    pub estimate: f64,
    /// $\hat s/\sqrt K$, with $\hat s^2 = \frac{1}{K-1}\sum_k (f(x_k)-\hat\mu_K)^2$;
    /// infinite for $K = 1$ (one value says nothing about its spread).
    pub std_error: f64,
    /// $K$.
    pub samples: usize,
}

impl McEstimate {
    /// Whether `value` lies within `n_se` standard errors of the estimate.
    pub fn within(&self, value: f64, n_se: f64) -> bool {
        (self.estimate - value).abs() <= n_se * self.std_error
    }
}

// ANCHOR: from_values
/// The estimate and standard error from already computed values $f(x_1), \dots, f(x_K)$.
///
/// # Errors
/// [`ProbabilityError::NoSamples`] if `values` is empty.
///
/// ```
/// use ddpm::probability::monte_carlo::from_values;
/// let e = from_values(&[1.0, 2.0, 3.0]).unwrap();
/// assert_eq!(e.estimate, 2.0);
/// assert!((e.std_error - (1.0f64 / 3.0).sqrt()).abs() < 1e-15); // s = 1, K = 3
/// assert!(from_values(&[]).is_err());
/// ```
pub fn from_values(values: &[f64]) -> Result<McEstimate, ProbabilityError> {
    let k = values.len();
    if k == 0 {
        return Err(ProbabilityError::NoSamples);
    }
    let mean = values.iter().sum::<f64>() / k as f64;
    let std_error = if k == 1 {
        f64::INFINITY
    } else {
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
        (var / k as f64).sqrt()
    };
    Ok(McEstimate {
        estimate: mean,
        std_error,
        samples: k,
    })
}
// ANCHOR_END: from_values

// ANCHOR: monte_carlo
/// Estimates an expectation from `k` draws: `draw(rng)` must return $f(x)$ for a fresh
/// $x \sim p$.
///
/// # Errors
/// [`ProbabilityError::NoSamples`] if `k == 0`.
///
/// ```
/// use ddpm::probability::{monte_carlo, Gaussian};
/// use ddpm::rand::SeedableRng;
/// let p = Gaussian::standard();
/// let mut rng = ddpm::rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// // E[x^2] = 1 under N(0, 1).
/// let e = monte_carlo(10_000, &mut rng, |rng| p.sample(rng).powi(2)).unwrap();
/// assert!(e.within(1.0, 4.0));
/// ```
pub fn monte_carlo<R: Rng + ?Sized>(
    k: usize,
    rng: &mut R,
    mut draw: impl FnMut(&mut R) -> f64,
) -> Result<McEstimate, ProbabilityError> {
    if k == 0 {
        return Err(ProbabilityError::NoSamples);
    }
    let values: Vec<f64> = (0..k).map(|_| draw(rng)).collect();
    from_values(&values)
}
// ANCHOR_END: monte_carlo

// ANCHOR: monte_carlo_kl
/// Monte Carlo KL: $D_{\mathrm{KL}}(p\,\|\,q) = \mathbb E_{x\sim p}\big[\log p(x) - \log q(x)\big]$
/// estimated from `k` samples of $p$. Each term can be negative; only the average is $\ge 0$.
///
/// # Errors
/// [`ProbabilityError::NoSamples`] if `k == 0`.
pub fn monte_carlo_kl<R: Rng + ?Sized>(
    p: &Gaussian,
    q: &Gaussian,
    k: usize,
    rng: &mut R,
) -> Result<McEstimate, ProbabilityError> {
    monte_carlo(k, rng, |rng| {
        let x = p.sample(rng);
        p.log_density(x) - q.log_density(x)
    })
}
// ANCHOR_END: monte_carlo_kl

/// Root-mean-square error of `repetitions` independent estimates made by `estimate`
/// against the true value `truth`: $\sqrt{\frac1R \sum_r (\hat\mu^{(r)} - \text{truth})^2}$.
///
/// # Errors
/// [`ProbabilityError::NoSamples`] if `repetitions == 0`, or any error of `estimate`.
pub fn rmse<R: Rng + ?Sized>(
    truth: f64,
    repetitions: usize,
    rng: &mut R,
    mut estimate: impl FnMut(&mut R) -> Result<McEstimate, ProbabilityError>,
) -> Result<f64, ProbabilityError> {
    if repetitions == 0 {
        return Err(ProbabilityError::NoSamples);
    }
    let mut sum = 0.0;
    for _ in 0..repetitions {
        sum += (estimate(rng)?.estimate - truth).powi(2);
    }
    Ok((sum / repetitions as f64).sqrt())
}

/// Least-squares line $y = a + b x$ through the points, returned as `(slope b, intercept a)`.
/// Used on $(\log K, \log \mathrm{RMSE})$ to read off the convergence rate ($b \approx -\tfrac12$).
///
/// # Errors
/// [`ProbabilityError::LengthMismatch`] if the slices differ in length,
/// [`ProbabilityError::Empty`] with fewer than 2 points or all `xs` equal.
///
/// ```
/// use ddpm::probability::monte_carlo::fit_line;
/// let (b, a) = fit_line(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]).unwrap();
/// assert!((b - 2.0).abs() < 1e-12 && (a - 1.0).abs() < 1e-12);
/// ```
pub fn fit_line(xs: &[f64], ys: &[f64]) -> Result<(f64, f64), ProbabilityError> {
    if xs.len() != ys.len() {
        return Err(ProbabilityError::LengthMismatch {
            what: "ys (compared with xs)",
            left: ys.len(),
            right: xs.len(),
        });
    }
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if xs.len() < 2 || sxx == 0.0 {
        return Err(ProbabilityError::Empty {
            what: "line fit (needs 2 or more distinct x values)",
        });
    }
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let b = sxy / sxx;
    Ok((b, my - b * mx))
}
