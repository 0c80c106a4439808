//! Exercises for chapter 8 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 08` (or `cargo test --release --no-default-features --test exercises_ch08`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

/// Exercise 8.1: recover $\hat x_0$ from $x_t$ and a noise (prediction):
/// $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon)/\sqrt{\bar\alpha_t}$.
pub fn predict_x0(alpha_bar: f64, xt: f64, eps: f64) -> f64 {
    let _ = (alpha_bar, xt, eps);
    todo!("Exercise 8.1: implement predict_x0 (see chapter 8)")
}

/// Exercise 8.2: the $\epsilon$-parameterised mean $\mu_\theta(x_t, t)$ (Ho et al. 2020,
/// Eq. (11)): substitute $\hat x_0$ of Exercise 8.1 into the posterior mean of Exercise 7.3 and
/// simplify ($\alpha_t = 1 - \beta_t$). Pen-and-paper Exercise 7.4 is this derivation.
pub fn mean_from_eps(beta: f64, alpha_bar: f64, xt: f64, eps: f64) -> f64 {
    let _ = (beta, alpha_bar, xt, eps);
    todo!("Exercise 8.2: implement mean_from_eps (see chapter 8)")
}

/// Exercise 8.3: the optimal noise predictor $\mathbb E[\epsilon \mid x_t]$ when the data is a
/// single Gaussian $x_0 \sim \mathcal N(\mu, v)$ and $x_t = \sqrt{\bar\alpha}\,x_0 +
/// \sqrt{1-\bar\alpha}\,\epsilon$. Derive it: $(\epsilon, x_t)$ is jointly Gaussian; find its
/// means and covariances and condition.
pub fn optimal_noise_gaussian(alpha_bar: f64, mu: f64, v: f64, xt: f64) -> f64 {
    let _ = (alpha_bar, mu, v, xt);
    todo!("Exercise 8.3: implement optimal_noise_gaussian (see chapter 8)")
}
