//! Exercises for chapter 5 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 05` (or `cargo test --release --no-default-features --test exercises_ch05`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

/// Exercise 5.1: the exact evidence $\log p(x)$ of the model, in closed form (derive the
/// marginal distribution of $x$).
pub fn log_evidence(w: f64, b: f64, s2: f64, x: f64) -> f64 {
    let _ = (w, b, s2, x);
    todo!("Exercise 5.1: implement log_evidence (see chapter 5)")
}

/// Exercise 5.2: the exact posterior $p(z\mid x)$, which is Gaussian; return `(mean, variance)`.
/// Derive them from Bayes' rule (complete the square in $z$).
pub fn posterior(w: f64, b: f64, s2: f64, x: f64) -> (f64, f64) {
    let _ = (w, b, s2, x);
    todo!("Exercise 5.2: implement posterior (see chapter 5)")
}

/// Exercise 5.3: the ELBO $\mathbb E_q[\log p(x\mid z)] - D_{\mathrm{KL}}(q(z)\,\|\,p(z))$ of
/// $q(z) = \mathcal N(m, v)$, in closed form (derive both terms; no sampling). It must equal
/// `log_evidence` when $q$ is the exact posterior.
pub fn elbo(w: f64, b: f64, s2: f64, x: f64, m: f64, v: f64) -> f64 {
    let _ = (w, b, s2, x, m, v);
    todo!("Exercise 5.3: implement elbo (see chapter 5)")
}

/// Exercise 5.4: one EM step for the bias $b$ only (keep $w$ and $s^2$ fixed). E-step: the exact
/// posterior of every $z_i$ given $x_i$ under the current $b$ (Exercise 5.2). M-step: the $b'$ that
/// maximises $\sum_i \mathbb E_{q_i}[\log p(x_i\mid z_i)]$; derive it (set the derivative in $b$
/// to zero). Return $b'$.
pub fn em_step_bias(w: f64, b: f64, s2: f64, data: &[f64]) -> f64 {
    let _ = (w, b, s2, data);
    todo!("Exercise 5.4: implement em_step_bias (see chapter 5)")
}
