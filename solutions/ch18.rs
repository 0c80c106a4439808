//! Reference solutions of chapter 18's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch18`
//! grades them in place of `src/exercises/ch18.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 18.1: classifier-free guidance (Ho & Salimans 2022, Eq. (6)), element by element:
/// $$ \tilde\epsilon_i = (1 + w)\,c_i - w\,u_i $$
/// for the conditional prediction `conditional` ($c$) and the unconditional one
/// `unconditional` ($u$), of equal length.
pub fn guided_noise(conditional: &[f64], unconditional: &[f64], w: f64) -> Vec<f64> {
    conditional
        .iter()
        .zip(unconditional)
        .map(|(c, u)| (1.0 + w) * c - w * u)
        .collect()
}

/// Exercise 18.2: the guided score of a two-class toy model. The classes $y \in \{0, 1\}$ are
/// equally likely and $p(x \mid y) = \mathcal N(x; \mu_y, \sigma^2)$ on the real line, so
/// $p(x) = \tfrac12 \sum_y \mathcal N(x; \mu_y, \sigma^2)$. Return the guided score
/// $$ (1 + w)\,\frac{d}{dx}\log p(x \mid y) - w\,\frac{d}{dx}\log p(x), $$
/// the score form of Exercise 18.1 (the noise prediction is $-\sqrt{1-\bar\alpha_t}$ times the
/// score). `means` holds $(\mu_0, \mu_1)$; `y` is 0 or 1.
pub fn guided_score(x: f64, y: usize, w: f64, means: [f64; 2], sigma: f64) -> f64 {
    let var = sigma * sigma;
    let conditional = -(x - means[y]) / var;
    // d/dx log p(x) = sum_k r_k(x) (-(x - mu_k) / var), r_k the posterior p(k | x).
    let log_w: Vec<f64> = means
        .iter()
        .map(|m| -(x - m) * (x - m) / (2.0 * var))
        .collect();
    let top = log_w[0].max(log_w[1]);
    let e: Vec<f64> = log_w.iter().map(|l| (l - top).exp()).collect();
    let z = e[0] + e[1];
    let marginal: f64 = (0..2).map(|k| e[k] / z * (-(x - means[k]) / var)).sum();
    (1.0 + w) * conditional - w * marginal
}
