//! A 1-D Gaussian mixture, and fitting one Gaussian to it by forward or reverse KL
//! (chapter 2: mass-covering vs mode-seeking). See `chapters/02-kl-divergence.md`.
//!
//! $$p(x) = \sum_k \pi_k\, \mathcal N(x; \mu_k, \sigma_k^2), \qquad \pi_k \ge 0,\ \sum_k \pi_k = 1.$$
//!
//! **Two mixture types.** This one is scalar ($x \in \mathbb R$), built from the validated
//! [`Gaussian`] of this layer, and answers Part I's questions: its density on a [`Grid`], its
//! moments, and the forward/reverse KL fits of one Gaussian. Part II's
//! [`crate::diffusion::mixture::GaussianMixture`] is $d$-dimensional with full covariances
//! on `ndarray` batches, and answers diffusion's questions: the noised mixture $q_t$, its
//! score, and the optimal denoiser $\mathbb E[\epsilon \mid x_t]$. They are kept apart because
//! the probability layer sits below the diffusion layer (see `ARCHITECTURE.md`) and because
//! each API is shaped by the chapter that uses it (scalars and `f64` vs `[n, d]` arrays); the
//! 1-D case of the diffusion type is `diffusion::mixture::GaussianMixture::one_d`.

use rand::Rng;

use super::entropy::check_probability_vector;
use super::gaussian::LN_2PI;
use super::{Gaussian, Grid, ProbabilityError};

/// A mixture of univariate Gaussians.
///
/// ```
/// use ddpm::probability::{Gaussian, GaussianMixture};
/// let p = GaussianMixture::new(
///     vec![0.7, 0.3],
///     vec![Gaussian::from_mean_std(-2.0, 0.6).unwrap(), Gaussian::from_mean_std(2.0, 0.6).unwrap()],
/// ).unwrap();
/// assert!((p.mean() - (-0.8)).abs() < 1e-12); // 0.7 * (-2) + 0.3 * 2
/// assert!(GaussianMixture::new(vec![0.7, 0.7], vec![Gaussian::standard(); 2]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    weights: Vec<f64>,
    components: Vec<Gaussian>,
}

impl GaussianMixture {
    /// A mixture with weights $\pi_k$ and components $\mathcal N(\mu_k,\sigma_k^2)$.
    ///
    /// # Errors
    /// If `weights` is not a probability vector (negative entry, sum not 1 within 1e-9,
    /// empty), or its length differs from the number of components.
    pub fn new(weights: Vec<f64>, components: Vec<Gaussian>) -> Result<Self, ProbabilityError> {
        check_probability_vector(&weights, "mixture weights")?;
        if weights.len() != components.len() {
            return Err(ProbabilityError::LengthMismatch {
                what: "mixture components (compared with the weights)",
                left: components.len(),
                right: weights.len(),
            });
        }
        Ok(Self {
            weights,
            components,
        })
    }

    /// The bimodal mixture chapter 2 uses: $0.7\,\mathcal N(-2, 0.6^2) + 0.3\,\mathcal N(2, 0.6^2)$.
    pub fn chapter2_example() -> Self {
        let c = |m| Gaussian::from_mean_std(m, 0.6).expect("valid constants");
        Self::new(vec![0.7, 0.3], vec![c(-2.0), c(2.0)]).expect("valid constants")
    }

    /// The weights $\pi_k$.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// The components.
    pub fn components(&self) -> &[Gaussian] {
        &self.components
    }

    /// $\log p(x)$, computed stably as a log-sum-exp over components.
    pub fn log_density(&self, x: f64) -> f64 {
        let terms: Vec<f64> = self
            .weights
            .iter()
            .zip(&self.components)
            .filter(|&(&w, _)| w > 0.0)
            .map(|(&w, c)| w.ln() + c.log_density(x))
            .collect();
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    }

    /// $p(x)$.
    pub fn density(&self, x: f64) -> f64 {
        self.log_density(x).exp()
    }

    /// $\frac{d}{dx}\log p(x) = \sum_k r_k(x)\,\frac{\mu_k - x}{\sigma_k^2}$, with
    /// responsibilities $r_k(x) = \pi_k \mathcal N(x;\mu_k,\sigma_k^2)/p(x)$ (the *score*).
    pub fn score(&self, x: f64) -> f64 {
        let log_p = self.log_density(x);
        self.weights
            .iter()
            .zip(&self.components)
            .filter(|&(&w, _)| w > 0.0)
            .map(|(&w, c)| {
                let r = (w.ln() + c.log_density(x) - log_p).exp();
                r * (c.mean() - x) / c.variance().get()
            })
            .sum()
    }

    /// $\mathbb E[\,x\,] = \sum_k \pi_k \mu_k$.
    pub fn mean(&self) -> f64 {
        self.weights
            .iter()
            .zip(&self.components)
            .map(|(w, c)| w * c.mean())
            .sum()
    }

    /// $\mathrm{Var}[\,x\,] = \sum_k \pi_k(\sigma_k^2 + \mu_k^2) - \mathbb E[\,x\,]^2$ (law of total
    /// variance).
    pub fn variance(&self) -> f64 {
        let second: f64 = self
            .weights
            .iter()
            .zip(&self.components)
            .map(|(w, c)| w * (c.variance().get() + c.mean().powi(2)))
            .sum();
        second - self.mean().powi(2)
    }

    /// One sample: pick component $k$ with probability $\pi_k$, then draw from it.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u: f64 = rng.random();
        let mut acc = 0.0;
        for (w, c) in self.weights.iter().zip(&self.components) {
            acc += w;
            if u < acc {
                return c.sample(rng);
            }
        }
        // Rounding can leave the cumulative sum a hair below 1.
        self.components[self.components.len() - 1].sample(rng)
    }

    /// `n` independent samples.
    pub fn sample_n<R: Rng + ?Sized>(&self, rng: &mut R, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.sample(rng)).collect()
    }

    // ANCHOR: fit_forward_kl
    /// The Gaussian minimising the **forward** KL $D_{\mathrm{KL}}(p\,\|\,q)$: moment matching,
    /// $q = \mathcal N(\mathbb E_p[\,x\,], \mathrm{Var}_p[\,x\,])$. Setting the derivatives of
    /// $-\mathbb E_p[\log q(x)]$ with respect to $\mu$ and $\sigma^2$ to zero gives exactly
    /// these moments; the fit is *mass-covering*: it spreads over every mode.
    ///
    /// # Errors
    /// Cannot fail for a valid mixture; returns `Result` because it builds a [`Gaussian`].
    pub fn fit_forward_kl(&self) -> Result<Gaussian, ProbabilityError> {
        Gaussian::new(self.mean(), super::Variance::new(self.variance())?)
    }
    // ANCHOR_END: fit_forward_kl

    /// $D_{\mathrm{KL}}(p\,\|\,q) = \int p \log(p/q)\,dx$ by the trapezoid rule on `grid`
    /// (choose it wide enough to hold all of $p$'s mass).
    pub fn forward_kl(&self, q: &Gaussian, grid: &Grid) -> f64 {
        grid.integrate(|x| {
            let lp = self.log_density(x);
            lp.exp() * (lp - q.log_density(x))
        })
    }

    /// The two terms of the **reverse** KL,
    ///
    /// $$D_{\mathrm{KL}}(q\,\|\,p) = \underbrace{-H(q)}_{\text{wants } q \text{ wide}}
    ///   + \underbrace{H(q, p)}_{\text{wants } q \text{ on } p\text{'s mass}},$$
    ///
    /// with $H(q,p) = -\mathbb E_q[\log p(x)]$ computed by quadrature in
    /// $x = \mu + \sigma z$, $z$ on a grid over $[-8, 8]$ with 801 points.
    ///
    /// ```
    /// use ddpm::probability::{Gaussian, GaussianMixture};
    /// let p = GaussianMixture::chapter2_example();
    /// let q = Gaussian::from_mean_std(-2.0, 0.6).unwrap();
    /// let terms = p.reverse_kl_terms(&q);
    /// assert!(terms.kl() > 0.0);
    /// ```
    pub fn reverse_kl_terms(&self, q: &Gaussian) -> ReverseKlTerms {
        let sigma = q.std_dev().get();
        let cross_entropy =
            -standard_normal_expectation(|z| self.log_density(q.mean() + sigma * z));
        ReverseKlTerms {
            neg_entropy: -q.entropy(),
            cross_entropy,
        }
    }

    /// $D_{\mathrm{KL}}(q\,\|\,p)$, numerically (see [`GaussianMixture::reverse_kl_terms`]).
    pub fn reverse_kl(&self, q: &Gaussian) -> f64 {
        self.reverse_kl_terms(q).kl()
    }

    // ANCHOR: fit_reverse_kl
    /// The Gaussian minimising the **reverse** KL $D_{\mathrm{KL}}(q\,\|\,p)$, found by
    /// gradient descent from `init` over $(\mu, s = \log\sigma)$, with the gradients
    ///
    /// $$\frac{\partial}{\partial\mu} = -\mathbb E_z\big[\nabla_x \log p(\mu+\sigma z)\big],\qquad
    ///   \frac{\partial}{\partial s} = -1 - \mathbb E_z\big[\nabla_x\log p(\mu+\sigma z)\,\sigma z\big]$$
    ///
    /// (quadrature in $z$, as in [`GaussianMixture::reverse_kl_terms`]) and a backtracking line
    /// search. Deterministic. Reverse KL has one local minimum per well-separated mode, so
    /// the answer depends on `init`: the fit is *mode-seeking*.
    ///
    /// # Errors
    /// Cannot fail in practice; returns `Result` because it builds a [`Gaussian`].
    ///
    /// ```
    /// use ddpm::probability::{Gaussian, GaussianMixture};
    /// let p = GaussianMixture::chapter2_example();
    /// let q = p.fit_reverse_kl(&Gaussian::from_mean_std(-1.0, 1.0).unwrap()).unwrap();
    /// assert!((q.mean() - (-2.0)).abs() < 0.05); // sits on the big mode
    /// ```
    pub fn fit_reverse_kl(&self, init: &Gaussian) -> Result<Gaussian, ProbabilityError> {
        let objective = |mu: f64, s: f64| {
            let sigma = s.exp();
            -(0.5 * (LN_2PI + 1.0) + s)
                - standard_normal_expectation(|z| self.log_density(mu + sigma * z))
        };
        let (mut mu, mut s) = (init.mean(), init.std_dev().get().ln());
        let mut value = objective(mu, s);
        let mut step: f64 = 1.0;
        for _ in 0..1000 {
            let sigma = s.exp();
            let g_mu = -standard_normal_expectation(|z| self.score(mu + sigma * z));
            let g_s =
                -1.0 - standard_normal_expectation(|z| self.score(mu + sigma * z) * sigma * z);
            let norm2 = g_mu * g_mu + g_s * g_s;
            if norm2 < 1e-18 {
                break;
            }
            // Armijo backtracking: try twice the last step, halve until the objective falls
            // by at least 1e-4 * step * |gradient|^2.
            step = (2.0 * step).min(4.0);
            let mut moved = false;
            while step > 1e-12 {
                let (m2, s2) = (mu - step * g_mu, s - step * g_s);
                let v2 = objective(m2, s2);
                if v2 <= value - 1e-4 * step * norm2 {
                    (mu, s, value) = (m2, s2, v2);
                    moved = true;
                    break;
                }
                step *= 0.5;
            }
            if !moved {
                break;
            }
        }
        Gaussian::from_mean_std(mu, s.exp())
    }
    // ANCHOR_END: fit_reverse_kl
}

/// The two terms of $D_{\mathrm{KL}}(q\,\|\,p) = -H(q) + H(q, p)$.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverseKlTerms {
    /// $-H(q)$: lower when $q$ is wider.
    pub neg_entropy: f64,
    /// $H(q, p) = -\mathbb E_q[\log p]$: lower when $q$ sits where $p$ is large.
    pub cross_entropy: f64,
}

impl ReverseKlTerms {
    /// Their sum, $D_{\mathrm{KL}}(q\,\|\,p)$.
    pub fn kl(&self) -> f64 {
        self.neg_entropy + self.cross_entropy
    }
}

/// $\mathbb E_{z\sim\mathcal N(0,1)}[f(z)]$ by the trapezoid rule on $[-8, 8]$, 801 points.
/// The tails beyond 8 hold about $10^{-15}$ of the mass, and for smooth integrands against a
/// Gaussian weight the trapezoid rule's error falls like $e^{-\pi^2/h^2}$ ($h = 0.02$ here).
fn standard_normal_expectation(f: impl Fn(f64) -> f64) -> f64 {
    let grid = Grid::new(-8.0, 8.0, 801).expect("valid constants");
    grid.integrate(|z| (-0.5 * (LN_2PI + z * z)).exp() * f(z))
}
