//! Reference solutions of chapter 4's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch04`
//! grades them in place of `src/exercises/ch04.rs`; they obey the students' rule (no `ddpm`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Exercise 4.1: the Monte Carlo estimate and its standard error from values
/// $f(x_1),\dots,f(x_K)$ ($K \ge 2$): return `(mean, standard error)` with
/// $\hat s^2 = \frac1{K-1}\sum_k (f_k - \bar f)^2$ and $\mathrm{SE} = \hat s/\sqrt K$.
pub fn mean_and_standard_error(values: &[f64]) -> (f64, f64) {
    let k = values.len() as f64;
    let mean = values.iter().sum::<f64>() / k;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (mean, (var / k).sqrt())
}

/// Exercise 4.2: estimate $\pi$ by Monte Carlo: draw `k` points uniformly in the unit square
/// from `ChaCha8Rng::seed_from_u64(seed)`, and return `(estimate, standard error)` of
/// $4 \cdot \mathbb 1[x^2 + y^2 \le 1]$.
pub fn estimate_pi(k: usize, seed: u64) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f64> = (0..k)
        .map(|_| {
            let (x, y): (f64, f64) = (rng.random(), rng.random());
            if x * x + y * y <= 1.0 { 4.0 } else { 0.0 }
        })
        .collect();
    mean_and_standard_error(&values)
}

/// Exercise 4.3: Monte Carlo KL between Gaussians. Draw `k` samples $x \sim p =
/// \mathcal N(\mu_p, \sigma_p^2)$ from `ChaCha8Rng::seed_from_u64(seed)` and return
/// `(estimate, standard error)` of $\log p(x) - \log q(x)$, $q = \mathcal N(\mu_q, \sigma_q^2)$.
pub fn monte_carlo_gaussian_kl(p: (f64, f64), q: (f64, f64), k: usize, seed: u64) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let log_density = |x: f64, (mean, std): (f64, f64)| {
        -0.5 * ((x - mean) / std).powi(2) - std.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
    };
    let draw = Normal::new(p.0, p.1).expect("valid p");
    let values: Vec<f64> = (0..k)
        .map(|_| {
            let x = draw.sample(&mut rng);
            log_density(x, p) - log_density(x, q)
        })
        .collect();
    mean_and_standard_error(&values)
}

/// Exercise 4.4: the slope of the least-squares line through $(\log K_i, \log e_i)$, i.e. the
/// convergence rate read off a log-log plot (about $-1/2$ for Monte Carlo).
pub fn log_log_slope(ks: &[f64], errors: &[f64]) -> f64 {
    let x: Vec<f64> = ks.iter().map(|k| k.ln()).collect();
    let y: Vec<f64> = errors.iter().map(|e| e.ln()).collect();
    // Least squares: slope = cov(x, y) / var(x).
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let var: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    cov / var
}
