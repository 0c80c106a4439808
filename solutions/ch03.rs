//! Reference solutions of chapter 3's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch03`
//! grades them in place of `src/exercises/ch03.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 3.1: the conjugate posterior of a Gaussian mean. Prior
/// $\theta\sim\mathcal N(\mu_0,\tau_0^2)$, data $x_i\mid\theta \sim \mathcal N(\theta,\sigma^2)$.
/// Return `(posterior mean, posterior variance)`:
/// $\tau_n^{-2} = \tau_0^{-2} + n\sigma^{-2}$, $\mu_n = \tau_n^2(\mu_0\tau_0^{-2} + \sigma^{-2}\sum_i x_i)$.
pub fn conjugate_posterior(
    prior_mean: f64,
    prior_var: f64,
    noise_var: f64,
    data: &[f64],
) -> (f64, f64) {
    let precision = 1.0 / prior_var + data.len() as f64 / noise_var;
    let var = 1.0 / precision;
    let mean = var * (prior_mean / prior_var + data.iter().sum::<f64>() / noise_var);
    (mean, var)
}

/// Exercise 3.2: Bayes' rule on a discrete set of hypotheses. Given `prior[i]` $= p(\theta_i)$
/// and `likelihood[i]` $= p(x\mid\theta_i)$, return the posterior
/// $p(\theta_i\mid x) = p(x\mid\theta_i)p(\theta_i) / \sum_j p(x\mid\theta_j)p(\theta_j)$.
pub fn discrete_posterior(prior: &[f64], likelihood: &[f64]) -> Vec<f64> {
    let joint: Vec<f64> = prior.iter().zip(likelihood).map(|(p, l)| p * l).collect();
    let evidence: f64 = joint.iter().sum();
    joint.iter().map(|j| j / evidence).collect()
}

/// Exercise 3.3: the log-evidence of **one** observation in the conjugate model of 3.1:
/// $x = \theta + \text{noise}$ is a sum of independent Gaussians, so
/// $\log p(x) = \log\mathcal N(x;\, \mu_0,\, \tau_0^2 + \sigma^2)$.
pub fn log_evidence_one(prior_mean: f64, prior_var: f64, noise_var: f64, x: f64) -> f64 {
    let v = prior_var + noise_var;
    -0.5 * ((2.0 * std::f64::consts::PI * v).ln() + (x - prior_mean).powi(2) / v)
}

/// Exercise 3.4: the posterior mean of a coin's heads-probability $\theta$ under a flat prior
/// on $[0, 1]$ after `heads` heads and `tails` tails, **by brute force**: evaluate
/// $\theta^{h}(1-\theta)^{t}$ on `n` equally spaced points of $[0, 1]$ and take the weighted
/// average of $\theta$. (The exact answer is $(h+1)/(h+t+2)$, Laplace's rule of succession.)
pub fn coin_posterior_mean_on_grid(heads: u32, tails: u32, n: usize) -> f64 {
    // Unnormalised posterior weights theta^h (1 - theta)^t (flat prior); the normaliser
    // cancels in the weighted average. At the end points 0^0 = 1 (powi gives it).
    let (mut total, mut weighted) = (0.0, 0.0);
    for i in 0..n {
        let theta = i as f64 / (n - 1) as f64;
        let w = theta.powi(heads as i32) * (1.0 - theta).powi(tails as i32);
        total += w;
        weighted += w * theta;
    }
    weighted / total
}
