//! Reference solutions of chapter 7's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch07`
//! grades them in place of `src/exercises/ch07.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 7.1: the product of two Gaussian densities in $x$,
/// $\mathcal N(x; m_1, v_1)\,\mathcal N(x; m_2, v_2) \propto \mathcal N(x; m, v)$: return
/// $(m, v)$ with $1/v = 1/v_1 + 1/v_2$ and $m = v\,(m_1/v_1 + m_2/v_2)$ (complete the square).
pub fn gaussian_product(m1: f64, v1: f64, m2: f64, v2: f64) -> (f64, f64) {
    let v = 1.0 / (1.0 / v1 + 1.0 / v2);
    (v * (m1 / v1 + m2 / v2), v)
}

/// Exercise 7.2: the posterior variance
/// $\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$ from $\beta_t$,
/// $\bar\alpha_t$ and $\bar\alpha_{t-1}$.
pub fn posterior_variance(beta: f64, alpha_bar: f64, alpha_bar_prev: f64) -> f64 {
    beta * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
}

/// Exercise 7.3: the posterior mean
/// $\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}x_0 +
/// \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t$ with $\alpha_t = 1 - \beta_t$.
pub fn posterior_mean(beta: f64, alpha_bar: f64, alpha_bar_prev: f64, x0: f64, xt: f64) -> f64 {
    let alpha = 1.0 - beta;
    (alpha_bar_prev.sqrt() * beta * x0 + alpha.sqrt() * (1.0 - alpha_bar_prev) * xt)
        / (1.0 - alpha_bar)
}
