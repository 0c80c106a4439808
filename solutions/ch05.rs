//! Reference solutions of chapter 5's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch05`
//! grades them in place of `src/exercises/ch05.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 5.1: the exact evidence $\log p(x) = \log\mathcal N(x;\, b,\, w^2 + s^2)$.
pub fn log_evidence(w: f64, b: f64, s2: f64, x: f64) -> f64 {
    let v = w * w + s2;
    -0.5 * ((2.0 * std::f64::consts::PI * v).ln() + (x - b).powi(2) / v)
}

/// Exercise 5.2: the exact posterior $p(z\mid x)$; return `(mean, variance)`
/// $= \big(w(x-b)/(w^2+s^2),\ s^2/(w^2+s^2)\big)$.
pub fn posterior(w: f64, b: f64, s2: f64, x: f64) -> (f64, f64) {
    let d = w * w + s2;
    (w * (x - b) / d, s2 / d)
}

/// Exercise 5.3: the ELBO of $q(z) = \mathcal N(m, v)$ in closed form:
/// $-\tfrac12\log(2\pi s^2) - \frac{(x-wm-b)^2 + w^2 v}{2s^2} - \tfrac12(m^2 + v - 1 - \log v)$.
pub fn elbo(w: f64, b: f64, s2: f64, x: f64, m: f64, v: f64) -> f64 {
    let recon = -0.5 * (2.0 * std::f64::consts::PI * s2).ln()
        - ((x - w * m - b).powi(2) + w * w * v) / (2.0 * s2);
    recon - 0.5 * (m * m + v - 1.0 - v.ln())
}

/// Exercise 5.4: one EM step for the bias $b$ only (keep $w$ and $s^2$ fixed): E-step, the
/// posterior means $m_i$ of every $x_i$ under the current $b$; M-step,
/// $b' = \frac1n\sum_i (x_i - w m_i)$. Return $b'$.
pub fn em_step_bias(w: f64, b: f64, s2: f64, data: &[f64]) -> f64 {
    let d = w * w + s2;
    data.iter().map(|&x| x - w * (w * (x - b) / d)).sum::<f64>() / data.len() as f64
}
