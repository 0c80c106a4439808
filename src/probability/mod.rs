//! Part I: probability foundations (f64, ndarray; no burn). Chapters 2-5.
//!
//! | chapter | module |
//! |---|---|
//! | 2. KL divergence | [`entropy`](mod@entropy), [`kl`], [`gaussian`], [`mixture`] |
//! | 3. Bayes' rule | [`bayes`], [`grid`] |
//! | 4. Monte Carlo | [`monte_carlo`](mod@monte_carlo) |
//! | 5. The ELBO | [`elbo`] |
//!
//! Every constructor validates its input and returns [`ProbabilityError`] with a message that
//! says what was wrong; after that the math can assume valid input.

pub mod bayes;
pub mod elbo;
pub mod entropy;
pub mod gaussian;
pub mod grid;
pub mod kl;
pub mod mixture;
pub mod monte_carlo;
pub mod scalars;

pub use bayes::{GridPosterior, gaussian_posterior, grid_posterior};
pub use elbo::{ElboTerms, LinearGaussianModel};
pub use entropy::{cross_entropy, entropy};
pub use gaussian::{DiagGaussian, Gaussian};
pub use grid::Grid;
pub use kl::{discrete_kl, normal_kl};
pub use mixture::GaussianMixture;
pub use monte_carlo::{McEstimate, monte_carlo};
pub use scalars::{LogVariance, ScalarError, StdDev, Variance};

use thiserror::Error;

/// Why a probability computation rejected its input.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ProbabilityError {
    /// A scale parameter (variance, log-variance, std) was invalid.
    #[error(transparent)]
    Scalar(#[from] ScalarError),
    /// A value that must be finite was NaN or infinite.
    #[error("{what} must be finite, got {value}")]
    NotFinite {
        /// Which value.
        what: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A probability vector had a negative (or NaN) entry.
    #[error("probability vector {name} has entry {index} = {value}; probabilities must be >= 0")]
    NegativeProbability {
        /// `"p"` or `"q"`.
        name: &'static str,
        /// Where.
        index: usize,
        /// The entry.
        value: f64,
    },
    /// A probability vector did not sum to one.
    #[error(
        "probability vector {name} sums to {sum}, not 1 (tolerance 1e-9); normalise it by dividing by its sum"
    )]
    NotNormalised {
        /// `"p"` or `"q"`.
        name: &'static str,
        /// Its sum.
        sum: f64,
    },
    /// Two inputs that must have the same length did not.
    #[error(
        "length mismatch: {what} has {left} entries but {right} were expected; both must describe the same outcomes"
    )]
    LengthMismatch {
        /// What mismatched.
        what: &'static str,
        /// One length.
        left: usize,
        /// The other.
        right: usize,
    },
    /// An input had no entries.
    #[error("{what} is empty; it needs at least one entry")]
    Empty {
        /// Which input.
        what: &'static str,
    },
    /// A Monte Carlo estimate was asked for with zero samples.
    #[error(
        "a Monte Carlo estimate needs at least one sample, got 0; pass k >= 1 (k >= 2 for a finite standard error)"
    )]
    NoSamples,
    /// A grid was malformed.
    #[error("invalid grid [{lo}, {hi}] with {n} points: need finite lo < hi and n >= 2")]
    BadGrid {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
        /// Number of points.
        n: usize,
    },
    /// The unnormalised posterior was zero (or NaN) at every grid point.
    #[error(
        "the posterior is zero or undefined at every grid point; widen the grid to cover where prior and likelihood overlap"
    )]
    DegeneratePosterior,
}
