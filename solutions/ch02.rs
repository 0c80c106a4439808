//! Reference solutions of chapter 2's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch02`
//! grades them in place of `src/exercises/ch02.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 2.1: the discrete KL divergence
/// $D_{\mathrm{KL}}(p\,\|\,q) = \sum_i p_i \log(p_i / q_i)$ in nats, for probability vectors of
/// equal length. Use the convention $0 \log(0/q_i) = 0$ (skip terms with $p_i = 0$); the
/// result is $+\infty$ if some $p_i > 0$ has $q_i = 0$. You may assume valid input.
pub fn discrete_kl(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|&(&pi, _)| pi > 0.0)
        .map(|(&pi, &qi)| pi * (pi / qi).ln())
        .sum()
}

/// Exercise 2.2: the KL divergence between two univariate Gaussians given by mean and
/// **variance** (not log-variance):
/// $$D_{\mathrm{KL}}\big(\mathcal N(\mu_1,\sigma_1^2)\,\|\,\mathcal N(\mu_2,\sigma_2^2)\big)
///   = \log\frac{\sigma_2}{\sigma_1} + \frac{\sigma_1^2 + (\mu_1-\mu_2)^2}{2\sigma_2^2} - \frac12.$$
pub fn gaussian_kl(mean1: f64, var1: f64, mean2: f64, var2: f64) -> f64 {
    0.5 * (var2 / var1).ln() + (var1 + (mean1 - mean2).powi(2)) / (2.0 * var2) - 0.5
}

/// Exercise 2.3: fit a Gaussian to a 1-D mixture by **forward** KL. Return `(mean, variance)`
/// of the mixture $\sum_k \pi_k \mathcal N(\mu_k, \sigma_k^2)$ (moment matching):
/// $\mathbb E[\,x\,] = \sum_k \pi_k\mu_k$, $\mathrm{Var}[\,x\,] = \sum_k \pi_k(\sigma_k^2 + \mu_k^2) - \mathbb E[\,x\,]^2$.
/// `weights`, `means`, `stds` have equal lengths.
pub fn forward_kl_fit(weights: &[f64], means: &[f64], stds: &[f64]) -> (f64, f64) {
    let mean: f64 = weights.iter().zip(means).map(|(w, m)| w * m).sum();
    let second: f64 = weights
        .iter()
        .zip(means)
        .zip(stds)
        .map(|((w, m), s)| w * (s * s + m * m))
        .sum();
    (mean, second - mean * mean)
}

/// Exercise 2.4: the entropy of a probability vector **in bits**,
/// $H_2(p) = -\sum_i p_i \log_2 p_i$ (with $0 \log 0 = 0$). A fair coin has 1 bit.
pub fn entropy_bits(p: &[f64]) -> f64 {
    -p.iter()
        .filter(|&&pi| pi > 0.0)
        .map(|&pi| pi * pi.log2())
        .sum::<f64>()
}
