//! Exercises for chapter 7 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 07` (or `cargo test --release --no-default-features --test exercises_ch07`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

/// Exercise 7.1: the product of two Gaussian densities in $x$ is proportional to a Gaussian
/// density, $\mathcal N(x; m_1, v_1)\,\mathcal N(x; m_2, v_2) \propto \mathcal N(x; m, v)$: return
/// $(m, v)$. Derive them by completing the square in the exponent (this is the step behind
/// Eq. (7)).
pub fn gaussian_product(m1: f64, v1: f64, m2: f64, v2: f64) -> (f64, f64) {
    let _ = (m1, v1, m2, v2);
    todo!("Exercise 7.1: implement gaussian_product (see chapter 7)")
}

/// Exercise 7.2: the posterior variance $\tilde\beta_t$ of $q(x_{t-1}\mid x_t, x_0)$ from
/// $\beta_t$, $\bar\alpha_t$ and $\bar\alpha_{t-1}$. Derive it with Exercise 7.1: as a function
/// of $x_{t-1}$, $q(x_t\mid x_{t-1})\,q(x_{t-1}\mid x_0)$ is a product of two Gaussians.
pub fn posterior_variance(beta: f64, alpha_bar: f64, alpha_bar_prev: f64) -> f64 {
    let _ = (beta, alpha_bar, alpha_bar_prev);
    todo!("Exercise 7.2: implement posterior_variance (see chapter 7)")
}

/// Exercise 7.3: the posterior mean $\tilde\mu_t(x_t, x_0)$ of $q(x_{t-1}\mid x_t, x_0)$, from
/// the same product of Gaussians as 7.2 ($\alpha_t = 1 - \beta_t$).
pub fn posterior_mean(beta: f64, alpha_bar: f64, alpha_bar_prev: f64, x0: f64, xt: f64) -> f64 {
    let _ = (beta, alpha_bar, alpha_bar_prev, x0, xt);
    todo!("Exercise 7.3: implement posterior_mean (see chapter 7)")
}
