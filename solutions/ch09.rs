//! Reference solutions of chapter 9's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch09`
//! grades them in place of `src/exercises/ch09.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 9.1: $L_T$ for one pixel in **bits**:
/// $D_{\mathrm{KL}}(\mathcal N(\sqrt{\bar\alpha_T}x_0, 1-\bar\alpha_T)\,\|\,\mathcal N(0,1)) / \ln 2$.
pub fn prior_bits(alpha_bar_last: f64, x0: f64) -> f64 {
    let a = alpha_bar_last;
    0.5 * (a * x0 * x0 - a - (1.0 - a).ln()) / std::f64::consts::LN_2
}

/// Exercise 9.2: the weight of $\|\epsilon - \epsilon_\theta\|^2$ in $L_{t-1}$:
/// $\frac{\beta_t^2}{2\sigma_t^2\alpha_t(1-\bar\alpha_t)}$ with $\alpha_t = 1 - \beta_t$.
pub fn loss_weight(beta: f64, alpha_bar: f64, sigma2: f64) -> f64 {
    beta * beta / (2.0 * sigma2 * (1.0 - beta) * (1.0 - alpha_bar))
}

/// Exercise 9.3: the decoder's probability of pixel level `k` in `0..=255` (value
/// $x = 2k/255 - 1$) under $\mathcal N(\mu, \sigma^2)$: the mass of
/// $[x - 1/255, x + 1/255]$, with the first bin extended to $-\infty$ and the last to $+\infty$.
/// The standard normal CDF $\Phi$ is passed in as `cdf` (Rust's standard library has no
/// `erf`; the grader passes an exact one).
pub fn bin_probability(k: u8, mean: f64, std_dev: f64, cdf: impl Fn(f64) -> f64) -> f64 {
    let x = 2.0 * f64::from(k) / 255.0 - 1.0;
    let hi = if k == 255 {
        1.0
    } else {
        cdf((x + 1.0 / 255.0 - mean) / std_dev)
    };
    let lo = if k == 0 {
        0.0
    } else {
        cdf((x - 1.0 / 255.0 - mean) / std_dev)
    };
    hi - lo
}
