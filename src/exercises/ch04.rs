//! Exercises for chapter 4 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 04` (or `cargo test --release --no-default-features --test exercises_ch04`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Exercise 4.1: the Monte Carlo estimate and its standard error from values
/// $f(x_1),\dots,f(x_K)$ ($K \ge 2$): return `(mean, standard error)` with
/// $\hat s^2 = \frac1{K-1}\sum_k (f_k - \bar f)^2$ and $\mathrm{SE} = \hat s/\sqrt K$.
pub fn mean_and_standard_error(values: &[f64]) -> (f64, f64) {
    let _ = values;
    todo!("Exercise 4.1: implement mean_and_standard_error (see chapter 4)")
}

/// Exercise 4.2: estimate $\pi$ by Monte Carlo: draw `k` points uniformly in the unit square
/// from `ChaCha8Rng::seed_from_u64(seed)`, and return `(estimate, standard error)` of
/// $4 \cdot \mathbb 1[x^2 + y^2 \le 1]$.
pub fn estimate_pi(k: usize, seed: u64) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let _ = (k, &mut rng);
    todo!("Exercise 4.2: implement estimate_pi (see chapter 4)")
}

/// Exercise 4.3: Monte Carlo KL between Gaussians. Draw `k` samples $x \sim p =
/// \mathcal N(\mu_p, \sigma_p^2)$ from `ChaCha8Rng::seed_from_u64(seed)` and return
/// `(estimate, standard error)` of $\log p(x) - \log q(x)$, $q = \mathcal N(\mu_q, \sigma_q^2)$.
pub fn monte_carlo_gaussian_kl(p: (f64, f64), q: (f64, f64), k: usize, seed: u64) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let _ = (p, q, k, &mut rng);
    todo!("Exercise 4.3: implement monte_carlo_gaussian_kl (see chapter 4)")
}

/// Exercise 4.4: the slope of the least-squares line through $(\log K_i, \log e_i)$, i.e. the
/// convergence rate read off a log-log plot (about $-1/2$ for Monte Carlo).
pub fn log_log_slope(ks: &[f64], errors: &[f64]) -> f64 {
    let _ = (ks, errors);
    todo!("Exercise 4.4: implement log_log_slope (see chapter 4)")
}
