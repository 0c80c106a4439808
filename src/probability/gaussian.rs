//! Gaussians: univariate [`Gaussian`] and diagonal [`DiagGaussian`] (chapters 2-5).
//!
//! Validated at construction (finite mean, positive variance), then log-density, entropy,
//! KL divergence and seeded sampling by reparameterisation $x = \mu + \sigma \epsilon$,
//! $\epsilon \sim \mathcal N(0, 1)$.

use ndarray::{Array1, ArrayView1, Zip};
use rand::Rng;
use rand_distr::StandardNormal;

use super::kl::normal_kl;
use super::{LogVariance, ProbabilityError, StdDev, Variance};

/// $\log(2\pi)$.
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// A univariate Gaussian $\mathcal N(\mu, \sigma^2)$.
///
/// ```
/// use ddpm::probability::{Gaussian, Variance};
/// let p = Gaussian::new(1.0, Variance::new(4.0).unwrap()).unwrap();
/// // The density integrates to one (trapezoid rule on a wide grid).
/// let mass: f64 = (0..=4000).map(|i| -19.0 + 0.01 * i as f64).map(|x| 0.01 * p.density(x)).sum();
/// assert!((mass - 1.0).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    mean: f64,
    variance: Variance,
}

impl Gaussian {
    /// $\mathcal N(\mu, \sigma^2)$ with a checked mean.
    ///
    /// # Errors
    /// [`ProbabilityError::NotFinite`] if `mean` is NaN or infinite. (The variance is already
    /// valid: [`Variance::new`] checked it.)
    pub fn new(mean: f64, variance: Variance) -> Result<Self, ProbabilityError> {
        if !mean.is_finite() {
            return Err(ProbabilityError::NotFinite {
                what: "Gaussian mean",
                value: mean,
            });
        }
        Ok(Self { mean, variance })
    }

    /// $\mathcal N(\mu, \sigma^2)$ from plain numbers: mean and standard deviation.
    ///
    /// # Errors
    /// [`ProbabilityError::NotFinite`] for the mean, [`ProbabilityError::Scalar`] if `std`
    /// is not finite and positive.
    ///
    /// ```
    /// use ddpm::probability::Gaussian;
    /// assert!(Gaussian::from_mean_std(0.0, -1.0).is_err());
    /// assert_eq!(Gaussian::from_mean_std(0.0, 2.0).unwrap().variance().get(), 4.0);
    /// ```
    pub fn from_mean_std(mean: f64, std: f64) -> Result<Self, ProbabilityError> {
        Self::new(mean, StdDev::new(std)?.variance())
    }

    /// The standard normal $\mathcal N(0, 1)$.
    pub fn standard() -> Self {
        Self {
            mean: 0.0,
            variance: Variance::new(1.0).expect("1 is a valid variance"),
        }
    }

    /// $\mu$.
    pub fn mean(&self) -> f64 {
        self.mean
    }
    /// $\sigma^2$.
    pub fn variance(&self) -> Variance {
        self.variance
    }
    /// $\log \sigma^2$.
    pub fn log_variance(&self) -> LogVariance {
        self.variance.ln()
    }
    /// $\sigma$.
    pub fn std_dev(&self) -> StdDev {
        self.variance.std_dev()
    }

    // ANCHOR: gaussian_log_density
    /// $\log \mathcal N(x; \mu, \sigma^2) = -\tfrac12\left(\log 2\pi + \log\sigma^2
    /// + \frac{(x-\mu)^2}{\sigma^2}\right)$.
    ///
    /// ```
    /// use ddpm::probability::Gaussian;
    /// let p = Gaussian::from_mean_std(1.0, 2.0).unwrap();
    /// // Symmetric about the mean, and one std away it is e^{-1/2} times the peak.
    /// assert!((p.log_density(0.0) - p.log_density(2.0)).abs() < 1e-15);
    /// assert!((p.log_density(3.0) - p.log_density(1.0) + 0.5).abs() < 1e-15);
    /// ```
    pub fn log_density(&self, x: f64) -> f64 {
        let v = self.variance.get();
        -0.5 * (LN_2PI + v.ln() + (x - self.mean).powi(2) / v)
    }
    // ANCHOR_END: gaussian_log_density

    /// $\mathcal N(x; \mu, \sigma^2)$.
    pub fn density(&self, x: f64) -> f64 {
        self.log_density(x).exp()
    }

    /// Differential entropy $H = \tfrac12 \log(2\pi e \sigma^2)$ (nats).
    ///
    /// ```
    /// use ddpm::probability::Gaussian;
    /// // Doubling sigma adds log 2 to the entropy.
    /// let h1 = Gaussian::from_mean_std(0.0, 1.0).unwrap().entropy();
    /// let h2 = Gaussian::from_mean_std(5.0, 2.0).unwrap().entropy();
    /// assert!((h2 - h1 - 2f64.ln()).abs() < 1e-14);
    /// ```
    pub fn entropy(&self) -> f64 {
        0.5 * (LN_2PI + 1.0 + self.variance.get().ln())
    }

    /// $D_{\mathrm{KL}}(\text{self}\,\|\,\text{other})$ in closed form (see [`normal_kl`]).
    ///
    /// ```
    /// use ddpm::probability::Gaussian;
    /// let p = Gaussian::from_mean_std(0.0, 1.0).unwrap();
    /// let q = Gaussian::from_mean_std(1.0, 2.0).unwrap();
    /// assert_eq!(p.kl(&p), 0.0);
    /// assert!(p.kl(&q) > 0.0 && p.kl(&q) != q.kl(&p));
    /// ```
    pub fn kl(&self, other: &Gaussian) -> f64 {
        normal_kl(
            self.mean,
            self.log_variance(),
            other.mean,
            other.log_variance(),
        )
    }

    /// One sample $x = \mu + \sigma\epsilon$, $\epsilon \sim \mathcal N(0,1)$.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let eps: f64 = rng.sample(StandardNormal);
        self.mean + self.std_dev().get() * eps
    }

    /// `n` independent samples.
    ///
    /// ```
    /// use ddpm::probability::Gaussian;
    /// use ddpm::rand_chacha::ChaCha8Rng;
    /// use ddpm::rand::SeedableRng;
    /// let p = Gaussian::from_mean_std(3.0, 0.5).unwrap();
    /// let xs = p.sample_n(&mut ChaCha8Rng::seed_from_u64(0), 10_000);
    /// let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    /// assert!((mean - 3.0).abs() < 4.0 * 0.5 / 100.0); // within 4 standard errors
    /// // Seeded: the same seed gives the same samples.
    /// assert_eq!(xs, p.sample_n(&mut ChaCha8Rng::seed_from_u64(0), 10_000));
    /// ```
    pub fn sample_n<R: Rng + ?Sized>(&self, rng: &mut R, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.sample(rng)).collect()
    }
}

/// A Gaussian in $d$ dimensions with diagonal covariance, $\mathcal N(\mu, \mathrm{diag}(\sigma^2))$:
/// $d$ independent univariate Gaussians, so log-densities, entropies and KLs are sums over
/// coordinates.
///
/// ```
/// use ddpm::probability::DiagGaussian;
/// use ddpm::ndarray::array;
/// let p = DiagGaussian::new(array![0.0, 1.0], array![1.0, 4.0]).unwrap();
/// assert_eq!(p.dim(), 2);
/// assert_eq!(p.kl(&p).unwrap(), 0.0);
/// assert!(DiagGaussian::new(array![0.0], array![-1.0]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DiagGaussian {
    mean: Array1<f64>,
    variance: Array1<f64>,
}

impl DiagGaussian {
    /// A diagonal Gaussian, checked.
    ///
    /// # Errors
    /// [`ProbabilityError::Empty`] for zero dimensions, [`ProbabilityError::LengthMismatch`]
    /// if mean and variance differ in length, [`ProbabilityError::NotFinite`] for a bad mean
    /// entry, [`ProbabilityError::Scalar`] for a variance entry that is not finite and > 0.
    pub fn new(mean: Array1<f64>, variance: Array1<f64>) -> Result<Self, ProbabilityError> {
        if mean.is_empty() {
            return Err(ProbabilityError::Empty {
                what: "DiagGaussian mean",
            });
        }
        if mean.len() != variance.len() {
            return Err(ProbabilityError::LengthMismatch {
                what: "DiagGaussian variance (compared with the mean)",
                left: variance.len(),
                right: mean.len(),
            });
        }
        if let Some(&value) = mean.iter().find(|m| !m.is_finite()) {
            return Err(ProbabilityError::NotFinite {
                what: "DiagGaussian mean entry",
                value,
            });
        }
        for &v in &variance {
            Variance::new(v)?;
        }
        Ok(Self { mean, variance })
    }

    /// The standard normal in `dim` dimensions.
    ///
    /// # Errors
    /// [`ProbabilityError::Empty`] if `dim == 0`.
    pub fn standard(dim: usize) -> Result<Self, ProbabilityError> {
        Self::new(Array1::zeros(dim), Array1::ones(dim))
    }

    /// Number of dimensions $d$.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }
    /// $\mu$.
    pub fn mean(&self) -> ArrayView1<'_, f64> {
        self.mean.view()
    }
    /// $\sigma^2$ per coordinate.
    pub fn variance(&self) -> ArrayView1<'_, f64> {
        self.variance.view()
    }

    fn check_dim(&self, len: usize) -> Result<(), ProbabilityError> {
        if len == self.dim() {
            Ok(())
        } else {
            Err(ProbabilityError::LengthMismatch {
                what: "point or distribution (compared with this DiagGaussian)",
                left: len,
                right: self.dim(),
            })
        }
    }

    /// $\log \mathcal N(x; \mu, \mathrm{diag}\,\sigma^2) = \sum_j \log\mathcal N(x_j; \mu_j, \sigma_j^2)$.
    ///
    /// # Errors
    /// [`ProbabilityError::LengthMismatch`] if `x` has the wrong length.
    pub fn log_density(&self, x: ArrayView1<'_, f64>) -> Result<f64, ProbabilityError> {
        self.check_dim(x.len())?;
        let mut total = 0.0;
        Zip::from(&x)
            .and(&self.mean)
            .and(&self.variance)
            .for_each(|&x, &m, &v| total += -0.5 * (LN_2PI + v.ln() + (x - m).powi(2) / v));
        Ok(total)
    }

    /// $H = \sum_j \tfrac12 \log(2\pi e\sigma_j^2)$.
    pub fn entropy(&self) -> f64 {
        self.variance
            .iter()
            .map(|v| 0.5 * (LN_2PI + 1.0 + v.ln()))
            .sum()
    }

    /// $D_{\mathrm{KL}}(\text{self}\,\|\,\text{other}) = \sum_j$ [`normal_kl`] per coordinate.
    ///
    /// # Errors
    /// [`ProbabilityError::LengthMismatch`] if the dimensions differ.
    pub fn kl(&self, other: &DiagGaussian) -> Result<f64, ProbabilityError> {
        self.check_dim(other.dim())?;
        let mut total = 0.0;
        for j in 0..self.dim() {
            // Entries were validated at construction, so the log-variances are finite.
            let lv1 = LogVariance::new(self.variance[j].ln())?;
            let lv2 = LogVariance::new(other.variance[j].ln())?;
            total += normal_kl(self.mean[j], lv1, other.mean[j], lv2);
        }
        Ok(total)
    }

    /// One sample $x = \mu + \sigma \odot \epsilon$.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Array1<f64> {
        Zip::from(&self.mean)
            .and(&self.variance)
            .map_collect(|&m, &v| {
                let eps: f64 = rng.sample(StandardNormal);
                m + v.sqrt() * eps
            })
    }
}
