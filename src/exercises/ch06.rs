//! Exercises for chapter 6 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 06` (or `cargo test --release --no-default-features --test exercises_ch06`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

/// Exercise 6.1: the linear schedule. Return $\beta_1, \dots, \beta_T$ linearly spaced from
/// `beta_start` to `beta_end` inclusive (`np.linspace`): $\beta_t = \beta_{\text{start}} +
/// (t-1)\frac{\beta_{\text{end}} - \beta_{\text{start}}}{T-1}$ for $T \ge 2$.
pub fn linear_betas(beta_start: f64, beta_end: f64, num_timesteps: usize) -> Vec<f64> {
    let _ = (beta_start, beta_end, num_timesteps);
    todo!("Exercise 6.1: implement linear_betas (see chapter 6)")
}

/// Exercise 6.2: $\bar\alpha_t = \prod_{s=1}^{t} (1 - \beta_s)$ for every $t$. Element `i`
/// of the result is $\bar\alpha_{i+1}$. (The product starts at $s = 1$: there is no $\beta_0$.)
pub fn alpha_bar_from_betas(betas: &[f64]) -> Vec<f64> {
    let _ = betas;
    todo!("Exercise 6.2: implement alpha_bar_from_betas (see chapter 6)")
}

/// Exercise 6.3: one draw of $x_t \sim q(x_t \mid x_0)$ by reparameterisation, given the
/// standard normal draw `eps`: $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$.
pub fn q_sample_scalar(alpha_bar: f64, x0: f64, eps: f64) -> f64 {
    let _ = (alpha_bar, x0, eps);
    todo!("Exercise 6.3: implement q_sample_scalar (see chapter 6)")
}

/// Exercise 6.4: the cosine schedule's $\bar\alpha_t = f(t)/f(0)$ with
/// $f(t) = \cos^2\!\big(\frac{t/T + s}{1+s}\cdot\frac\pi2\big)$ (Nichol & Dhariwal 2021).
pub fn cosine_alpha_bar(t: usize, num_timesteps: usize, s: f64) -> f64 {
    let _ = (t, num_timesteps, s);
    todo!("Exercise 6.4: implement cosine_alpha_bar (see chapter 6)")
}
