//! Chapter 5: the evidence lower bound, on a latent model where everything is exact.
//! See `chapters/05-elbo.md`.
//!
//! The **linear-Gaussian** model: $z \sim \mathcal N(0, 1)$, $x \mid z \sim \mathcal N(wz + b, s^2)$.
//! Its evidence, posterior and ELBO all have closed forms, so the identity
//!
//! $$\log p(x) = \underbrace{\mathbb E_{q(z)}\big[\log p(x\mid z)\big]
//!   - D_{\mathrm{KL}}\big(q(z)\,\|\,p(z)\big)}_{\mathrm{ELBO}(q)}
//!   + D_{\mathrm{KL}}\big(q(z)\,\|\,p(z\mid x)\big)$$
//!
//! can be checked to rounding error for any Gaussian $q$.

use rand::Rng;

use super::gaussian::LN_2PI;
use super::monte_carlo::{McEstimate, monte_carlo};
use super::{Gaussian, ProbabilityError, Variance};

/// $z \sim \mathcal N(0,1)$, $x\mid z \sim \mathcal N(wz+b, s^2)$.
///
/// ```
/// use ddpm::probability::{LinearGaussianModel, Variance};
/// let model = LinearGaussianModel::new(2.0, 0.5, Variance::new(0.25).unwrap()).unwrap();
/// let x = 1.3;
/// let post = model.posterior(x).unwrap();
/// // With q equal to the exact posterior, the bound is tight: ELBO = log p(x).
/// assert!((model.elbo(x, &post).elbo() - model.log_evidence(x)).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearGaussianModel {
    w: f64,
    b: f64,
    noise: Variance,
}

/// The two terms of the ELBO for one $x$ and one $q(z)$.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElboTerms {
    /// Reconstruction $\mathbb E_{q(z)}[\log p(x\mid z)]$.
    pub reconstruction: f64,
    /// Regularisation $D_{\mathrm{KL}}(q(z)\,\|\,p(z))$.
    pub kl_to_prior: f64,
}

impl ElboTerms {
    /// $\mathrm{ELBO} = $ reconstruction $-$ KL to the prior.
    pub fn elbo(&self) -> f64 {
        self.reconstruction - self.kl_to_prior
    }
}

impl LinearGaussianModel {
    /// The model with weight $w$, bias $b$ and observation noise variance $s^2$.
    ///
    /// # Errors
    /// [`ProbabilityError::NotFinite`] if `w` or `b` is NaN or infinite.
    pub fn new(w: f64, b: f64, noise: Variance) -> Result<Self, ProbabilityError> {
        for (what, value) in [("weight w", w), ("bias b", b)] {
            if !value.is_finite() {
                return Err(ProbabilityError::NotFinite { what, value });
            }
        }
        Ok(Self { w, b, noise })
    }
    /// $w$.
    pub fn w(&self) -> f64 {
        self.w
    }
    /// $b$.
    pub fn b(&self) -> f64 {
        self.b
    }
    /// $s^2$.
    pub fn noise(&self) -> Variance {
        self.noise
    }

    /// The prior $p(z) = \mathcal N(0, 1)$.
    pub fn prior(&self) -> Gaussian {
        Gaussian::standard()
    }

    /// The decoder $p(x \mid z) = \mathcal N(wz+b, s^2)$.
    ///
    /// # Errors
    /// [`ProbabilityError::NotFinite`] if `z` is NaN or infinite.
    pub fn likelihood(&self, z: f64) -> Result<Gaussian, ProbabilityError> {
        Gaussian::new(self.w * z + self.b, self.noise)
    }

    /// $\log p(x, z) = \log p(z) + \log p(x \mid z)$.
    pub fn log_joint(&self, x: f64, z: f64) -> f64 {
        let s2 = self.noise.get();
        -0.5 * (LN_2PI + z * z) - 0.5 * (LN_2PI + s2.ln() + (x - self.w * z - self.b).powi(2) / s2)
    }

    // ANCHOR: log_evidence
    /// The exact evidence: $x = wz + b + s\epsilon$ is a sum of Gaussians, so
    /// $p(x) = \mathcal N(x;\, b,\, w^2 + s^2)$.
    pub fn log_evidence(&self, x: f64) -> f64 {
        let v = self.w * self.w + self.noise.get();
        -0.5 * (LN_2PI + v.ln() + (x - self.b).powi(2) / v)
    }
    // ANCHOR_END: log_evidence

    // ANCHOR: posterior
    /// The exact posterior (Bayes' rule with a Gaussian prior and a linear-Gaussian
    /// likelihood, chapter 3):
    /// $$p(z\mid x) = \mathcal N\!\left(\frac{w(x-b)}{w^2+s^2},\ \frac{s^2}{w^2+s^2}\right).$$
    ///
    /// # Errors
    /// [`ProbabilityError::NotFinite`] if `x` is NaN or infinite.
    pub fn posterior(&self, x: f64) -> Result<Gaussian, ProbabilityError> {
        let (w, s2) = (self.w, self.noise.get());
        let denom = w * w + s2;
        Gaussian::new(w * (x - self.b) / denom, Variance::new(s2 / denom)?)
    }
    // ANCHOR_END: posterior

    // ANCHOR: elbo
    /// The ELBO of $q(z) = \mathcal N(m, v)$ in closed form:
    ///
    /// $$\mathbb E_q[\log p(x\mid z)] = -\tfrac12\log(2\pi s^2) - \frac{(x - wm - b)^2 + w^2 v}{2s^2},
    ///   \qquad D_{\mathrm{KL}}(q\,\|\,p(z)) = \tfrac12\left(m^2 + v - 1 - \log v\right).$$
    pub fn elbo(&self, x: f64, q: &Gaussian) -> ElboTerms {
        let (m, v) = (q.mean(), q.variance().get());
        let s2 = self.noise.get();
        let reconstruction = -0.5 * (LN_2PI + s2.ln())
            - ((x - self.w * m - self.b).powi(2) + self.w * self.w * v) / (2.0 * s2);
        ElboTerms {
            reconstruction,
            kl_to_prior: q.kl(&self.prior()),
        }
    }
    // ANCHOR_END: elbo

    /// The gap $\log p(x) - \mathrm{ELBO}(q)$, which equals $D_{\mathrm{KL}}(q\,\|\,p(z\mid x))$.
    pub fn gap(&self, x: f64, q: &Gaussian) -> f64 {
        self.log_evidence(x) - self.elbo(x, q).elbo()
    }

    // ANCHOR: monte_carlo_elbo
    /// A Monte Carlo ELBO from `k` samples of $q$:
    /// $\mathrm{ELBO}(q) = \mathbb E_{z\sim q}\big[\log p(x,z) - \log q(z)\big]$.
    /// This is how a VAE (or a diffusion model) estimates it when no closed form exists.
    ///
    /// # Errors
    /// [`ProbabilityError::NoSamples`] if `k == 0`.
    pub fn monte_carlo_elbo<R: Rng + ?Sized>(
        &self,
        x: f64,
        q: &Gaussian,
        k: usize,
        rng: &mut R,
    ) -> Result<McEstimate, ProbabilityError> {
        monte_carlo(k, rng, |rng| {
            let z = q.sample(rng);
            self.log_joint(x, z) - q.log_density(z)
        })
    }
    // ANCHOR_END: monte_carlo_elbo

    // ANCHOR: em_step
    /// One EM step for $(w, b, s^2)$ on data $x_{1:n}$.
    ///
    /// **E-step**: $q_i(z) = p(z \mid x_i)$ under the current parameters, which makes each
    /// ELBO tight. **M-step**: maximise $\sum_i \mathbb E_{q_i}[\log p(x_i \mid z)]$ over
    /// $(w, b, s^2)$, a least-squares regression of $x$ on $z$ with $\mathbb E[\,z\,] = m_i$,
    /// $\mathbb E[z^2] = m_i^2 + v$:
    ///
    /// $$\begin{pmatrix}\sum_i (m_i^2+v) & \sum_i m_i\\ \sum_i m_i & n\end{pmatrix}
    ///   \begin{pmatrix}w\\ b\end{pmatrix} = \begin{pmatrix}\sum_i x_i m_i\\ \sum_i x_i\end{pmatrix},
    ///   \qquad s^2 = \frac1n\sum_i\big[(x_i - w m_i - b)^2 + w^2 v\big].$$
    ///
    /// The log-likelihood $\sum_i \log p(x_i)$ never decreases.
    ///
    /// # Errors
    /// [`ProbabilityError::Empty`] for no data, [`ProbabilityError::NotFinite`] for a bad
    /// observation, [`ProbabilityError::Scalar`] if the new noise variance collapses to 0
    /// (all data on a line: the maximum likelihood does not exist).
    pub fn em_step(&self, data: &[f64]) -> Result<Self, ProbabilityError> {
        if data.is_empty() {
            return Err(ProbabilityError::Empty { what: "EM data" });
        }
        if let Some(&value) = data.iter().find(|x| !x.is_finite()) {
            return Err(ProbabilityError::NotFinite {
                what: "observation",
                value,
            });
        }
        let n = data.len() as f64;
        let v = self.posterior(0.0)?.variance().get(); // the same for every x
        let m = data
            .iter()
            .map(|&x| self.posterior(x).map(|q| q.mean()))
            .collect::<Result<Vec<f64>, _>>()?;
        let (szz, sz) = (
            m.iter().map(|mi| mi * mi + v).sum::<f64>(),
            m.iter().sum::<f64>(),
        );
        let (sxz, sx) = (
            data.iter().zip(&m).map(|(x, mi)| x * mi).sum::<f64>(),
            data.iter().sum::<f64>(),
        );
        let det = szz * n - sz * sz;
        let w = (sxz * n - sz * sx) / det;
        let b = (szz * sx - sz * sxz) / det;
        let s2 = data
            .iter()
            .zip(&m)
            .map(|(x, mi)| (x - w * mi - b).powi(2) + w * w * v)
            .sum::<f64>()
            / n;
        Self::new(w, b, Variance::new(s2)?)
    }
    // ANCHOR_END: em_step

    /// $\sum_i \log p(x_i)$.
    pub fn log_likelihood(&self, data: &[f64]) -> f64 {
        data.iter().map(|&x| self.log_evidence(x)).sum()
    }
}
