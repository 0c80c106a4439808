//! Chapter 8 (and 10): Gaussian-mixture data, whose noised distributions, optimal noise
//! predictor $\mathbb E[\epsilon \mid x_t]$ and score are known exactly. See
//! `chapters/08-reverse-process.md`.
//!
//! If $x_0 \sim \sum_k \pi_k \mathcal N(\mu_k, \Sigma_k)$ and
//! $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$, then $x_t$ is again a
//! mixture with the same weights, means $\sqrt{\bar\alpha_t}\,\mu_k$ and covariances
//! $\bar\alpha_t\Sigma_k + (1-\bar\alpha_t)I$. So everything a perfectly trained network
//! would output can be computed in closed form, and the reverse process can be tested
//! without any training.
//!
//! Dimensions are small (1 and 2 in the book); covariances are full, factorised by a small
//! Cholesky routine.
//!
//! This is not the same type as Part I's [`crate::probability::GaussianMixture`], which is
//! scalar and exists for chapter 2's KL fits (density, moments, forward/reverse-KL fit of one
//! Gaussian). This one is $d$-dimensional, works on `[n, d]` batches, and knows how a mixture
//! behaves under the forward process (`noised`, `score`, `optimal_noise`). The probability
//! layer cannot depend on this one (it sits below the diffusion layer), and this one would
//! gain nothing from wrapping the scalar type, so the two stay separate.

use ndarray::{Array1, Array2, ArrayView1, Axis};
use rand::Rng;
use rand_distr::StandardNormal;
use thiserror::Error;

use super::forward::slot;
use super::schedule::NoiseSchedule;

/// Why a mixture could not be built.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MixtureError {
    /// No components.
    #[error("a mixture needs at least one component")]
    Empty,
    /// Lengths of weights, means and covariances disagree.
    #[error(
        "component {component}: {what}; every mean must have the dimension of the first and every covariance must be dim x dim"
    )]
    Shape {
        /// The component index.
        component: usize,
        /// What is wrong.
        what: String,
    },
    /// Weights must be positive and sum to one.
    #[error(
        "weights must be finite, > 0 and sum to 1 (within 1e-9), got {weights:?}; normalise them first"
    )]
    Weights {
        /// The rejected weights.
        weights: Vec<f64>,
    },
    /// A covariance is not symmetric positive definite.
    #[error(
        "covariance of component {component} is not symmetric positive definite; use a matrix like [[s1^2, r s1 s2], [r s1 s2, s2^2]] with |r| < 1"
    )]
    NotPositiveDefinite {
        /// The component index.
        component: usize,
    },
}

/// Lower-triangular Cholesky factor of a small symmetric matrix, or `None` if it is not
/// positive definite.
fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum();
            if i == j {
                let d = a[[i, i]] - s;
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[[i, j]] = d.sqrt();
            } else {
                l[[i, j]] = (a[[i, j]] - s) / l[[j, j]];
            }
        }
    }
    Some(l)
}

/// One Gaussian component prepared for evaluation: mean, Cholesky factor (row-major, flat),
/// log-normaliser. Flat `Vec`s and caller-provided buffers keep the inner loop allocation-free
/// (it runs once per point, component and timestep when sampling).
#[derive(Debug, Clone)]
struct Prepared {
    mean: Vec<f64>,
    chol: Vec<f64>,
    log_norm: f64, // log w_k - 1/2 log det(2 pi C)
}

impl Prepared {
    fn new(weight: f64, mean: Vec<f64>, cov: &Array2<f64>) -> Option<Self> {
        let chol = cholesky(cov)?;
        let d = mean.len() as f64;
        let half_log_det: f64 = chol.diag().iter().map(|v| v.ln()).sum();
        Some(Self {
            mean,
            log_norm: weight.ln() - half_log_det - 0.5 * d * (2.0 * std::f64::consts::PI).ln(),
            chol: chol.iter().copied().collect(),
        })
    }
    /// Returns log w_k N(x; m, C) and writes C^{-1}(x - m) into `z`.
    fn eval(&self, x: ArrayView1<f64>, z: &mut [f64]) -> f64 {
        let n = self.mean.len();
        let l = &self.chol;
        // forward solve L y = x - m (y stored in z)
        let mut quad = 0.0;
        for i in 0..n {
            let mut s = x[i] - self.mean[i];
            for k in 0..i {
                s -= l[i * n + k] * z[k];
            }
            z[i] = s / l[i * n + i];
            quad += z[i] * z[i];
        }
        // back solve L^T z = y in place
        for i in (0..n).rev() {
            let mut s = z[i];
            for k in i + 1..n {
                s -= l[k * n + i] * z[k];
            }
            z[i] = s / l[i * n + i];
        }
        self.log_norm - 0.5 * quad
    }
}

/// Evaluates every component at `x`: fills `logs[k]` with log w_k N(x; m_k, C_k) and
/// `zs[k*d..(k+1)*d]` with C_k^{-1}(x - m_k); returns log p(x).
fn eval_all(prepared: &[Prepared], x: ArrayView1<f64>, logs: &mut [f64], zs: &mut [f64]) -> f64 {
    let d = x.len();
    for (k, p) in prepared.iter().enumerate() {
        logs[k] = p.eval(x, &mut zs[k * d..(k + 1) * d]);
    }
    log_sum_exp(logs)
}

/// A Gaussian mixture $p(x) = \sum_k \pi_k\,\mathcal N(x; \mu_k, \Sigma_k)$ in $d$ dimensions.
#[derive(Debug, Clone)]
pub struct GaussianMixture {
    weights: Vec<f64>,
    means: Vec<Array1<f64>>,
    covariances: Vec<Array2<f64>>,
    prepared: Vec<Prepared>,
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

impl GaussianMixture {
    /// A mixture from weights $\pi_k$, means $\mu_k$ and covariances $\Sigma_k$.
    ///
    /// # Errors
    /// [`MixtureError`] if there are no components, the shapes disagree, the weights are not
    /// positive or do not sum to 1, or a covariance is not symmetric positive definite.
    ///
    /// ```
    /// use ddpm::diffusion::mixture::GaussianMixture;
    /// use ndarray::{arr1, arr2};
    /// let m = GaussianMixture::new(vec![1.0], vec![arr1(&[0.0, 0.0])], vec![arr2(&[[1.0, 0.0], [0.0, 1.0]])])?;
    /// // the standard normal density at its mode is 1 / (2 pi)
    /// assert!((m.density(arr1(&[0.0, 0.0]).view()) - 1.0 / (2.0 * std::f64::consts::PI)).abs() < 1e-15);
    /// # Ok::<(), ddpm::diffusion::mixture::MixtureError>(())
    /// ```
    pub fn new(
        weights: Vec<f64>,
        means: Vec<Array1<f64>>,
        covariances: Vec<Array2<f64>>,
    ) -> Result<Self, MixtureError> {
        if weights.is_empty() {
            return Err(MixtureError::Empty);
        }
        let k = weights.len();
        if means.len() != k || covariances.len() != k {
            return Err(MixtureError::Shape {
                component: means.len().min(covariances.len()),
                what: format!(
                    "{k} weights but {} means and {} covariances",
                    means.len(),
                    covariances.len()
                ),
            });
        }
        let sum: f64 = weights.iter().sum();
        if weights.iter().any(|w| !(w.is_finite() && *w > 0.0)) || (sum - 1.0).abs() > 1e-9 {
            return Err(MixtureError::Weights { weights });
        }
        let d = means[0].len();
        let mut prepared = Vec::with_capacity(k);
        for c in 0..k {
            if means[c].len() != d || d == 0 {
                return Err(MixtureError::Shape {
                    component: c,
                    what: format!("mean has dimension {}, expected {d} (> 0)", means[c].len()),
                });
            }
            let cov = &covariances[c];
            if cov.shape() != [d, d] {
                return Err(MixtureError::Shape {
                    component: c,
                    what: format!(
                        "covariance has shape {:?}, expected [{d}, {d}]",
                        cov.shape()
                    ),
                });
            }
            let symmetric = (0..d).all(|i| (0..d).all(|j| cov[[i, j]] == cov[[j, i]]));
            let p = Prepared::new(weights[c], means[c].to_vec(), cov)
                .filter(|_| symmetric)
                .ok_or(MixtureError::NotPositiveDefinite { component: c })?;
            prepared.push(p);
        }
        Ok(Self {
            weights,
            means,
            covariances,
            prepared,
        })
    }

    /// A 1-D mixture from weights, means and standard deviations.
    ///
    /// # Errors
    /// As [`GaussianMixture::new`].
    pub fn one_d(weights: &[f64], means: &[f64], std_devs: &[f64]) -> Result<Self, MixtureError> {
        Self::new(
            weights.to_vec(),
            means.iter().map(|&m| Array1::from_elem(1, m)).collect(),
            std_devs
                .iter()
                .map(|&s| Array2::from_elem((1, 1), s * s))
                .collect(),
        )
    }

    /// The 1-D mixture used throughout Part II: weights 0.3, 0.5, 0.2 at -1.5, 0.3, 1.6 with
    /// standard deviations 0.25, 0.35, 0.15.
    pub fn book_1d() -> Self {
        match Self::one_d(&[0.3, 0.5, 0.2], &[-1.5, 0.3, 1.6], &[0.25, 0.35, 0.15]) {
            Ok(m) => m,
            Err(e) => unreachable!("book_1d is valid: {e}"),
        }
    }

    /// The 2-D mixture used throughout Part II: three well-separated correlated components
    /// (weights 0.25, 0.45, 0.30), so that each sample can be attributed to its component.
    pub fn book_2d() -> Self {
        use ndarray::{arr1, arr2};
        match Self::new(
            vec![0.25, 0.45, 0.30],
            vec![arr1(&[-1.2, -0.8]), arr1(&[1.1, -0.6]), arr1(&[0.0, 1.3])],
            vec![
                arr2(&[[0.04, 0.02], [0.02, 0.05]]),
                arr2(&[[0.06, -0.03], [-0.03, 0.03]]),
                arr2(&[[0.09, 0.0], [0.0, 0.02]]),
            ],
        ) {
            Ok(m) => m,
            Err(e) => unreachable!("book_2d is valid: {e}"),
        }
    }

    /// The dimension $d$.
    pub fn dim(&self) -> usize {
        self.means[0].len()
    }
    /// The weights $\pi_k$.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// The means $\mu_k$.
    pub fn means(&self) -> &[Array1<f64>] {
        &self.means
    }
    /// The covariances $\Sigma_k$.
    pub fn covariances(&self) -> &[Array2<f64>] {
        &self.covariances
    }

    /// $\log p(x)$.
    ///
    /// # Panics
    /// If `x` does not have dimension [`Self::dim`].
    pub fn log_density(&self, x: ArrayView1<f64>) -> f64 {
        assert_eq!(x.len(), self.dim(), "point has the wrong dimension");
        let k = self.prepared.len();
        let (mut logs, mut zs) = (vec![0.0; k], vec![0.0; k * self.dim()]);
        eval_all(&self.prepared, x, &mut logs, &mut zs)
    }

    /// $p(x)$.
    ///
    /// # Panics
    /// If `x` does not have dimension [`Self::dim`].
    pub fn density(&self, x: ArrayView1<f64>) -> f64 {
        self.log_density(x).exp()
    }

    /// The responsibilities $r_k(x) = \pi_k \mathcal N(x;\mu_k,\Sigma_k) / p(x)$: the posterior
    /// probability that $x$ came from component $k$.
    ///
    /// # Panics
    /// If `x` does not have dimension [`Self::dim`].
    pub fn responsibilities(&self, x: ArrayView1<f64>) -> Vec<f64> {
        assert_eq!(x.len(), self.dim(), "point has the wrong dimension");
        let k = self.prepared.len();
        let (mut logs, mut zs) = (vec![0.0; k], vec![0.0; k * self.dim()]);
        let lse = eval_all(&self.prepared, x, &mut logs, &mut zs);
        logs.iter().map(|l| (l - lse).exp()).collect()
    }

    /// `n` samples, one per row, with the index of the component each came from.
    pub fn sample_with_labels<R: Rng + ?Sized>(
        &self,
        n: usize,
        rng: &mut R,
    ) -> (Array2<f64>, Vec<usize>) {
        let d = self.dim();
        let mut out = Array2::zeros((n, d));
        let mut labels = Vec::with_capacity(n);
        for mut row in out.rows_mut() {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut k = self.weights.len() - 1;
            for (j, w) in self.weights.iter().enumerate() {
                acc += w;
                if u < acc {
                    k = j;
                    break;
                }
            }
            let z: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
            let l = &self.prepared[k].chol;
            for i in 0..d {
                row[i] = self.means[k][i] + (0..=i).map(|j| l[i * d + j] * z[j]).sum::<f64>();
            }
            labels.push(k);
        }
        (out, labels)
    }

    /// `n` samples, one per row. Shape `[n, d]`.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Array2<f64> {
        self.sample_with_labels(n, rng).0
    }

    // ANCHOR: noised
    /// The exact marginal $q(x_t) = \int q(x_t \mid x_0)\,p(x_0)\,dx_0$ when
    /// $x_t = \sqrt{\bar\alpha}\,x_0 + \sqrt{1-\bar\alpha}\,\epsilon$: a mixture with the same
    /// weights, means $\sqrt{\bar\alpha}\,\mu_k$ and covariances
    /// $\bar\alpha\,\Sigma_k + (1-\bar\alpha)\,I$.
    ///
    /// # Panics
    /// If `alpha_bar` is not in $(0, 1]$.
    ///
    /// ```
    /// use ddpm::diffusion::mixture::GaussianMixture;
    /// let m = GaussianMixture::book_1d();
    /// let q = m.noised(1e-12); // almost pure noise: N(0, 1)
    /// assert!((q.density(ndarray::arr1(&[0.0]).view()) - 0.3989422804).abs() < 1e-6);
    /// ```
    pub fn noised(&self, alpha_bar: f64) -> GaussianMixture {
        assert!(
            alpha_bar > 0.0 && alpha_bar <= 1.0,
            "alpha_bar = {alpha_bar} must be in (0, 1]"
        );
        let d = self.dim();
        let eye = Array2::<f64>::eye(d);
        let means = self.means.iter().map(|m| m * alpha_bar.sqrt()).collect();
        let covs = self
            .covariances
            .iter()
            .map(|c| c * alpha_bar + &eye * (1.0 - alpha_bar))
            .collect();
        match Self::new(self.weights.clone(), means, covs) {
            Ok(m) => m,
            Err(e) => unreachable!("a noised valid mixture is valid: {e}"),
        }
    }
    // ANCHOR_END: noised

    /// The score $\nabla_x \log p(x) = -\sum_k r_k(x)\,\Sigma_k^{-1}(x - \mu_k)$ at each row of
    /// `x` (shape `[n, d]`; result `[n, d]`).
    ///
    /// # Panics
    /// If `x` does not have `d` columns.
    pub fn score(&self, x: &Array2<f64>) -> Array2<f64> {
        assert_eq!(x.ncols(), self.dim(), "points have the wrong dimension");
        let (k, d) = (self.prepared.len(), self.dim());
        let (mut logs, mut zs) = (vec![0.0; k], vec![0.0; k * d]);
        let mut out = Array2::zeros(x.raw_dim());
        for (row, mut o) in x.rows().into_iter().zip(out.rows_mut()) {
            let lse = eval_all(&self.prepared, row, &mut logs, &mut zs);
            for c in 0..k {
                let r = (logs[c] - lse).exp();
                for i in 0..d {
                    o[i] -= r * zs[c * d + i];
                }
            }
        }
        out
    }

    // ANCHOR: posterior_mean_x0
    /// $\mathbb E[x_0 \mid x_t]$ for $x_t = \sqrt{\bar\alpha}\,x_0 + \sqrt{1-\bar\alpha}\,\epsilon$,
    /// row by row (shape `[n, d]`). Given component $k$, $(x_0, x_t)$ is jointly Gaussian, so
    ///
    /// $$\mathbb E[x_0 \mid x_t, k] = \mu_k + \sqrt{\bar\alpha}\,\Sigma_k C_k^{-1}(x_t - \sqrt{\bar\alpha}\,\mu_k),
    ///   \quad C_k = \bar\alpha\Sigma_k + (1-\bar\alpha)I,$$
    ///
    /// and $\mathbb E[x_0 \mid x_t] = \sum_k r_k(x_t)\,\mathbb E[x_0 \mid x_t, k]$ with the
    /// responsibilities of the noised mixture.
    ///
    /// # Panics
    /// If `alpha_bar` is not in $(0, 1]$ or `x_t` does not have `d` columns.
    pub fn posterior_mean_x0(&self, alpha_bar: f64, x_t: &Array2<f64>) -> Array2<f64> {
        let noised = self.noised(alpha_bar);
        let d = self.dim();
        assert_eq!(x_t.ncols(), d, "points have the wrong dimension");
        let sa = alpha_bar.sqrt();
        let k = self.prepared.len();
        let (mut logs, mut zs) = (vec![0.0; k], vec![0.0; k * d]);
        let sigmas: Vec<Vec<f64>> = self
            .covariances
            .iter()
            .map(|c| c.iter().copied().collect())
            .collect();
        let mut out = Array2::zeros(x_t.raw_dim());
        for (row, mut o) in x_t.rows().into_iter().zip(out.rows_mut()) {
            let lse = eval_all(&noised.prepared, row, &mut logs, &mut zs);
            for c in 0..k {
                let r = (logs[c] - lse).exp();
                // zs[c] = C_c^{-1} (x_t - sqrt(abar) mu_c)
                let z = &zs[c * d..(c + 1) * d];
                for i in 0..d {
                    let corr: f64 = (0..d).map(|j| sigmas[c][i * d + j] * z[j]).sum();
                    o[i] += r * (self.means[c][i] + sa * corr);
                }
            }
        }
        out
    }
    // ANCHOR_END: posterior_mean_x0

    // ANCHOR: optimal_noise
    /// The optimal noise predictor $\mathbb E[\epsilon \mid x_t]$, the minimiser of
    /// $\mathbb E\|\epsilon - \epsilon_\theta(x_t)\|^2$ over all functions:
    ///
    /// $$\mathbb E[\epsilon \mid x_t] = \frac{x_t - \sqrt{\bar\alpha}\;\mathbb E[x_0 \mid x_t]}{\sqrt{1-\bar\alpha}}.$$
    ///
    /// (It also equals $-\sqrt{1-\bar\alpha}\,\nabla\log q(x_t)$, Tweedie's formula; the tests
    /// check the two routes agree.)
    ///
    /// # Panics
    /// If `alpha_bar` is not in $(0, 1)$ or `x_t` does not have `d` columns.
    pub fn optimal_noise(&self, alpha_bar: f64, x_t: &Array2<f64>) -> Array2<f64> {
        assert!(alpha_bar < 1.0, "alpha_bar = 1 means no noise to predict");
        let x0 = self.posterior_mean_x0(alpha_bar, x_t);
        (x_t - &(x0 * alpha_bar.sqrt())) / (1.0 - alpha_bar).sqrt()
    }
    // ANCHOR_END: optimal_noise

    // ANCHOR: posterior_variance_x0
    /// $\operatorname{Var}[x_0 \mid x_t]$ of a **1-D** mixture, for
    /// $x_t = \sqrt{\bar\alpha}\,x_0 + \sqrt{1-\bar\alpha}\,\epsilon$, row by row (`x_t` of shape
    /// `[n, 1]`). Given component $k$ (variance $v_k$), $x_0$ has variance
    /// $v_k(1-\bar\alpha)/c_k$ and mean $m_k$ ([`Self::posterior_mean_x0`]'s per-component
    /// mean), $c_k = \bar\alpha v_k + 1 - \bar\alpha$; by the law of total variance
    ///
    /// $$\operatorname{Var}[x_0 \mid x_t] = \sum_k r_k\Big(\frac{v_k(1-\bar\alpha)}{c_k} + m_k^2\Big)
    ///   - \Big(\sum_k r_k m_k\Big)^2 .$$
    ///
    /// # Panics
    /// If the mixture is not 1-D, `alpha_bar` is not in $(0, 1]$ or `x_t` has other than one
    /// column.
    pub fn posterior_variance_x0(&self, alpha_bar: f64, x_t: &Array2<f64>) -> Array1<f64> {
        assert_eq!(self.dim(), 1, "posterior_variance_x0 is for 1-D mixtures");
        assert_eq!(x_t.ncols(), 1, "points have the wrong dimension");
        let noised = self.noised(alpha_bar);
        let sa = alpha_bar.sqrt();
        x_t.column(0)
            .iter()
            .map(|&x| {
                let r = noised.responsibilities(ndarray::arr1(&[x]).view());
                let (mut first, mut second) = (0.0, 0.0);
                for (k, rk) in r.iter().enumerate() {
                    let (mu, v) = (self.means[k][0], self.covariances[k][[0, 0]]);
                    let c = alpha_bar * v + 1.0 - alpha_bar;
                    let m = mu + sa * v / c * (x - sa * mu);
                    first += rk * m;
                    second += rk * (v * (1.0 - alpha_bar) / c + m * m);
                }
                (second - first * first).max(0.0)
            })
            .collect()
    }
    // ANCHOR_END: posterior_variance_x0

    // ANCHOR: reverse_step_variance
    /// The variance of the true reverse step $q(x_{t-1} \mid x_t)$ of a **1-D** mixture under
    /// `schedule`, row by row: averaging the posterior of chapter 7 over $x_0 \mid x_t$ (law of
    /// total variance),
    ///
    /// $$\operatorname{Var}[x_{t-1} \mid x_t] = \tilde\beta_t
    ///   + \Big(\frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\Big)^2\operatorname{Var}[x_0 \mid x_t],$$
    ///
    /// the first coefficient being `posterior_mean_coef1`. It is more than $\tilde\beta_t$, the
    /// variance of $p_\theta$ with $\sigma_t^2 = \tilde\beta_t$ (chapter 8).
    ///
    /// # Panics
    /// As [`Self::posterior_variance_x0`], or if `t` is not in `1..=T`.
    pub fn reverse_step_variance(
        &self,
        schedule: &NoiseSchedule,
        t: usize,
        x_t: &Array2<f64>,
    ) -> Array1<f64> {
        let i = slot(schedule, t);
        let coef1 = schedule.posterior_mean_coef1()[i];
        self.posterior_variance_x0(schedule.alpha_bar()[i], x_t)
            .mapv(|v| schedule.posterior_variance()[i] + coef1 * coef1 * v)
    }
    // ANCHOR_END: reverse_step_variance

    /// The exact denoiser $\epsilon^*(x_t, t) = \mathbb E[\epsilon \mid x_t]$ for this data under
    /// `schedule`, usable wherever a [`super::reverse::Denoiser`] is expected.
    pub fn denoiser<'a>(
        &'a self,
        schedule: &'a NoiseSchedule,
    ) -> impl Fn(&Array2<f64>, usize) -> Array2<f64> + 'a {
        move |x_t: &Array2<f64>, t: usize| {
            self.optimal_noise(schedule.alpha_bar()[slot(schedule, t)], x_t)
        }
    }

    /// Component labels by maximum responsibility (for the tests' moment checks on
    /// well-separated mixtures).
    pub fn classify(&self, x: &Array2<f64>) -> Vec<usize> {
        x.axis_iter(Axis(0))
            .map(|row| {
                let r = self.responsibilities(row);
                (0..r.len())
                    .max_by(|&a, &b| r[a].total_cmp(&r[b]))
                    .unwrap_or(0)
            })
            .collect()
    }
}
