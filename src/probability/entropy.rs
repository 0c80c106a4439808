//! Chapter 2: entropy and cross-entropy of discrete distributions, in nats.
//! See `chapters/02-kl-divergence.md`.
//!
//! A probability vector is a slice `p` with $p_i \ge 0$ and $\sum_i p_i = 1$ (checked to
//! within `1e-9`). The convention $0 \log 0 = 0$ holds throughout: an outcome of probability 0
//! contributes nothing.

use super::ProbabilityError;

/// Tolerance on $\left|\sum_i p_i - 1\right|$ accepted by [`check_probability_vector`].
pub const NORMALISATION_TOLERANCE: f64 = 1e-9;

/// Checks that `p` is a probability vector: non-empty, entries finite and $\ge 0$, summing to
/// 1 within [`NORMALISATION_TOLERANCE`]. `name` is used in the error message.
///
/// # Errors
/// [`ProbabilityError::Empty`], [`ProbabilityError::NegativeProbability`] (also for NaN or
/// infinite entries), [`ProbabilityError::NotNormalised`].
///
/// ```
/// use ddpm::probability::entropy::check_probability_vector;
/// assert!(check_probability_vector(&[0.25, 0.75], "p").is_ok());
/// assert!(check_probability_vector(&[0.5, 0.6], "p").is_err());
/// assert!(check_probability_vector(&[-0.5, 1.5], "p").is_err());
/// ```
pub fn check_probability_vector(p: &[f64], name: &'static str) -> Result<(), ProbabilityError> {
    if p.is_empty() {
        return Err(ProbabilityError::Empty {
            what: "probability vector",
        });
    }
    for (index, &value) in p.iter().enumerate() {
        if !(value.is_finite() && value >= 0.0) {
            return Err(ProbabilityError::NegativeProbability { name, index, value });
        }
    }
    let sum: f64 = p.iter().sum();
    if (sum - 1.0).abs() > NORMALISATION_TOLERANCE {
        return Err(ProbabilityError::NotNormalised { name, sum });
    }
    Ok(())
}

/// Checks two probability vectors over the same outcomes.
pub(crate) fn check_pair(p: &[f64], q: &[f64]) -> Result<(), ProbabilityError> {
    check_probability_vector(p, "p")?;
    check_probability_vector(q, "q")?;
    if p.len() != q.len() {
        return Err(ProbabilityError::LengthMismatch {
            what: "q (compared with p)",
            left: q.len(),
            right: p.len(),
        });
    }
    Ok(())
}

// ANCHOR: entropy
/// Shannon entropy $H(p) = -\sum_i p_i \log p_i$ (nats), with $0 \log 0 = 0$.
///
/// # Errors
/// If `p` is not a probability vector (see [`check_probability_vector`]).
///
/// ```
/// use ddpm::probability::entropy;
/// // A fair coin has entropy log 2; a certain outcome has entropy 0.
/// assert!((entropy(&[0.5, 0.5]).unwrap() - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(entropy(&[1.0, 0.0]).unwrap(), 0.0);
/// ```
pub fn entropy(p: &[f64]) -> Result<f64, ProbabilityError> {
    check_probability_vector(p, "p")?;
    Ok(-p
        .iter()
        .filter(|&&pi| pi > 0.0)
        .map(|&pi| pi * pi.ln())
        .sum::<f64>())
}

/// Cross-entropy $H(p, q) = -\sum_i p_i \log q_i$ (nats): the average code length when
/// outcomes come from $p$ but the code was built for $q$. It is $+\infty$ when some
/// $p_i > 0$ has $q_i = 0$.
///
/// # Errors
/// If `p` or `q` is not a probability vector, or their lengths differ.
///
/// ```
/// use ddpm::probability::{cross_entropy, entropy};
/// let (p, q) = ([0.2, 0.8], [0.6, 0.4]);
/// // Gibbs' inequality: H(p, q) >= H(p), equality when q = p.
/// assert!(cross_entropy(&p, &q).unwrap() >= entropy(&p).unwrap());
/// assert_eq!(cross_entropy(&p, &p).unwrap(), entropy(&p).unwrap());
/// ```
pub fn cross_entropy(p: &[f64], q: &[f64]) -> Result<f64, ProbabilityError> {
    check_pair(p, q)?;
    Ok(-p
        .iter()
        .zip(q)
        .filter(|&(&pi, _)| pi > 0.0)
        .map(|(&pi, &qi)| pi * qi.ln())
        .sum::<f64>())
}
// ANCHOR_END: entropy
