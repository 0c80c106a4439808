//! Exercises for chapter 2 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 02` (or `cargo test --release --no-default-features --test exercises_ch02`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

/// Exercise 2.1: the discrete KL divergence
/// $D_{\mathrm{KL}}(p\,\|\,q) = \sum_i p_i \log(p_i / q_i)$ in nats, for probability vectors of
/// equal length. Use the convention $0 \log(0/q_i) = 0$ (skip terms with $p_i = 0$); the
/// result is $+\infty$ if some $p_i > 0$ has $q_i = 0$. You may assume valid input.
pub fn discrete_kl(p: &[f64], q: &[f64]) -> f64 {
    let _ = (p, q);
    todo!("Exercise 2.1: implement discrete_kl (see chapter 2)")
}

/// Exercise 2.2: the KL divergence between two univariate Gaussians given by mean and
/// **variance** (not log-variance):
/// $$D_{\mathrm{KL}}\big(\mathcal N(\mu_1,\sigma_1^2)\,\|\,\mathcal N(\mu_2,\sigma_2^2)\big)
///   = \log\frac{\sigma_2}{\sigma_1} + \frac{\sigma_1^2 + (\mu_1-\mu_2)^2}{2\sigma_2^2} - \frac12.$$
pub fn gaussian_kl(mean1: f64, var1: f64, mean2: f64, var2: f64) -> f64 {
    let _ = (mean1, var1, mean2, var2);
    todo!("Exercise 2.2: implement gaussian_kl (see chapter 2)")
}

/// Exercise 2.3: fit a Gaussian $q = \mathcal N(m, s^2)$ to the 1-D mixture
/// $p = \sum_k \pi_k \mathcal N(\mu_k, \sigma_k^2)$ by **forward** KL: return the `(mean, variance)`
/// of the $q$ that minimises $D_{\mathrm{KL}}(p\,\|\,q)$. Derive it first: write
/// $D_{\mathrm{KL}}(p\,\|\,q)$ as a function of $m$ and $s^2$ (only $\mathbb E_p[\log q]$ depends
/// on them), set the derivatives to zero, and evaluate what you get for the mixture.
/// `weights`, `means`, `stds` have equal lengths.
pub fn forward_kl_fit(weights: &[f64], means: &[f64], stds: &[f64]) -> (f64, f64) {
    let _ = (weights, means, stds);
    todo!("Exercise 2.3: implement forward_kl_fit (see chapter 2)")
}

/// Exercise 2.4: the entropy of a probability vector **in bits**,
/// $H_2(p) = -\sum_i p_i \log_2 p_i$ (with $0 \log 0 = 0$). A fair coin has 1 bit.
pub fn entropy_bits(p: &[f64]) -> f64 {
    let _ = p;
    todo!("Exercise 2.4: implement entropy_bits (see chapter 2)")
}
