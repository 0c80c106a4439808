//! Exercises for chapter 9 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 09` (or `cargo test --release --no-default-features --test exercises_ch09`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

/// Exercise 9.1: $L_T$ for one pixel in **bits**:
/// $D_{\mathrm{KL}}(\mathcal N(\sqrt{\bar\alpha_T}x_0, 1-\bar\alpha_T)\,\|\,\mathcal N(0,1)) / \ln 2$.
pub fn prior_bits(alpha_bar_last: f64, x0: f64) -> f64 {
    let _ = (alpha_bar_last, x0);
    todo!("Exercise 9.1: implement prior_bits (see chapter 9)")
}

/// Exercise 9.2: the weight of $\|\epsilon - \epsilon_\theta\|^2$ in $L_{t-1}$:
/// $\frac{\beta_t^2}{2\sigma_t^2\alpha_t(1-\bar\alpha_t)}$ with $\alpha_t = 1 - \beta_t$.
pub fn loss_weight(beta: f64, alpha_bar: f64, sigma2: f64) -> f64 {
    let _ = (beta, alpha_bar, sigma2);
    todo!("Exercise 9.2: implement loss_weight (see chapter 9)")
}

/// Exercise 9.3: the decoder's probability of pixel level `k` in `0..=255` (value
/// $x = 2k/255 - 1$) under $\mathcal N(\mu, \sigma^2)$: the mass of
/// $[x - 1/255, x + 1/255]$, with the first bin extended to $-\infty$ and the last to $+\infty$.
/// The standard normal CDF $\Phi$ is passed in as `cdf` (Rust's standard library has no
/// `erf`; the grader passes an exact one).
pub fn bin_probability(k: u8, mean: f64, std_dev: f64, cdf: impl Fn(f64) -> f64) -> f64 {
    let _ = (k, mean, std_dev, cdf);
    todo!("Exercise 9.3: implement bin_probability (see chapter 9)")
}
