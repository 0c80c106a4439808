//! Reference solutions of chapter 6's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch06`
//! grades them in place of `src/exercises/ch06.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 6.1: the linear schedule. Return $\beta_1, \dots, \beta_T$ linearly spaced from
/// `beta_start` to `beta_end` inclusive (`np.linspace`): $\beta_t = \beta_{\text{start}} +
/// (t-1)\frac{\beta_{\text{end}} - \beta_{\text{start}}}{T-1}$ for $T \ge 2$.
pub fn linear_betas(beta_start: f64, beta_end: f64, num_timesteps: usize) -> Vec<f64> {
    let step = (beta_end - beta_start) / (num_timesteps as f64 - 1.0);
    (0..num_timesteps)
        .map(|i| beta_start + i as f64 * step)
        .collect()
}

/// Exercise 6.2: $\bar\alpha_t = \prod_{s=1}^{t} (1 - \beta_s)$ for every $t$. Element `i`
/// of the result is $\bar\alpha_{i+1}$. (The product starts at $s = 1$: there is no $\beta_0$.)
pub fn alpha_bar_from_betas(betas: &[f64]) -> Vec<f64> {
    let mut acc = 1.0;
    betas
        .iter()
        .map(|b| {
            acc *= 1.0 - b;
            acc
        })
        .collect()
}

/// Exercise 6.3: one draw of $x_t \sim q(x_t \mid x_0)$ by reparameterisation, given the
/// standard normal draw `eps`: $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$.
pub fn q_sample_scalar(alpha_bar: f64, x0: f64, eps: f64) -> f64 {
    alpha_bar.sqrt() * x0 + (1.0 - alpha_bar).sqrt() * eps
}

/// Exercise 6.4: the cosine schedule's $\bar\alpha_t = f(t)/f(0)$ with
/// $f(t) = \cos^2\!\big(\frac{t/T + s}{1+s}\cdot\frac\pi2\big)$ (Nichol & Dhariwal 2021).
pub fn cosine_alpha_bar(t: usize, num_timesteps: usize, s: f64) -> f64 {
    let f = |t: f64| {
        ((t / num_timesteps as f64 + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2)
            .cos()
            .powi(2)
    };
    f(t as f64) / f(0.0)
}
