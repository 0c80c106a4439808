//! Exercises for chapter 3 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 03` (or `cargo test --release --no-default-features --test exercises_ch03`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

/// Exercise 3.1: the conjugate posterior of a Gaussian mean. Prior
/// $\theta\sim\mathcal N(\mu_0,\tau_0^2)$ (`prior_mean`, `prior_var`), data
/// $x_i\mid\theta \sim \mathcal N(\theta,\sigma^2)$ independently (`noise_var`, `data`). The
/// posterior is Gaussian; return `(posterior mean, posterior variance)`. Derive them: the log of
/// prior times likelihood is quadratic in $\theta$, so complete the square.
pub fn conjugate_posterior(
    prior_mean: f64,
    prior_var: f64,
    noise_var: f64,
    data: &[f64],
) -> (f64, f64) {
    let _ = (prior_mean, prior_var, noise_var, data);
    todo!("Exercise 3.1: implement conjugate_posterior (see chapter 3)")
}

/// Exercise 3.2: Bayes' rule on a discrete set of hypotheses. Given `prior[i]` $= p(\theta_i)$
/// and `likelihood[i]` $= p(x\mid\theta_i)$, return the posterior
/// $p(\theta_i\mid x) = p(x\mid\theta_i)p(\theta_i) / \sum_j p(x\mid\theta_j)p(\theta_j)$.
pub fn discrete_posterior(prior: &[f64], likelihood: &[f64]) -> Vec<f64> {
    let _ = (prior, likelihood);
    todo!("Exercise 3.2: implement discrete_posterior (see chapter 3)")
}

/// Exercise 3.3: the log-evidence $\log p(x) = \log\int p(\theta)\,p(x\mid\theta)\,d\theta$ of
/// **one** observation $x$ in the conjugate model of 3.1, in closed form. (Derive it: what is the
/// distribution of $x$ when $x = \theta + \text{noise}$?)
pub fn log_evidence_one(prior_mean: f64, prior_var: f64, noise_var: f64, x: f64) -> f64 {
    let _ = (prior_mean, prior_var, noise_var, x);
    todo!("Exercise 3.3: implement log_evidence_one (see chapter 3)")
}

/// Exercise 3.4: the posterior mean of a coin's heads-probability $\theta$ under a flat prior
/// on $[0, 1]$ after `heads` heads and `tails` tails, **by brute force**: evaluate
/// $\theta^{h}(1-\theta)^{t}$ on `n` equally spaced points of $[0, 1]$ and take the weighted
/// average of $\theta$. (The exact answer is $(h+1)/(h+t+2)$, Laplace's rule of succession.)
pub fn coin_posterior_mean_on_grid(heads: u32, tails: u32, n: usize) -> f64 {
    let _ = (heads, tails, n);
    todo!("Exercise 3.4: implement coin_posterior_mean_on_grid (see chapter 3)")
}
