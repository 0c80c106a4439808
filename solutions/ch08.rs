//! Reference solutions of chapter 8's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch08`
//! grades them in place of `src/exercises/ch08.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 8.1: recover $\hat x_0$ from $x_t$ and a noise (prediction):
/// $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon)/\sqrt{\bar\alpha_t}$.
pub fn predict_x0(alpha_bar: f64, xt: f64, eps: f64) -> f64 {
    (xt - (1.0 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
}

/// Exercise 8.2: the $\epsilon$-parameterised mean (Ho et al. 2020, Eq. (11)):
/// $\mu_\theta = \frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\epsilon\big)$,
/// $\alpha_t = 1 - \beta_t$.
pub fn mean_from_eps(beta: f64, alpha_bar: f64, xt: f64, eps: f64) -> f64 {
    (xt - beta / (1.0 - alpha_bar).sqrt() * eps) / (1.0 - beta).sqrt()
}

/// Exercise 8.3: the optimal noise predictor when the data is a single Gaussian
/// $x_0 \sim \mathcal N(\mu, v)$: $\mathbb E[\epsilon \mid x_t]$. (Hint: $(\epsilon, x_t)$ is
/// jointly Gaussian with $\operatorname{Cov}(\epsilon, x_t) = \sqrt{1-\bar\alpha}$ and
/// $\operatorname{Var}(x_t) = \bar\alpha v + 1 - \bar\alpha$.)
pub fn optimal_noise_gaussian(alpha_bar: f64, mu: f64, v: f64, xt: f64) -> f64 {
    (1.0 - alpha_bar).sqrt() * (xt - alpha_bar.sqrt() * mu) / (alpha_bar * v + 1.0 - alpha_bar)
}
