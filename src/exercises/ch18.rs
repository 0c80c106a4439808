//! Exercises for chapter 18 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 18` (or `cargo test --release --test exercises_ch18`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.
//!
//! The functions are plain `f64` arithmetic: they need no burn, only the chapter.

/// Exercise 18.1: classifier-free guidance (Ho & Salimans 2022), element by element: the
/// guided noise prediction for guidance weight `w`, from the conditional prediction
/// `conditional` and the unconditional one `unconditional` (of equal length). Derive it from
/// Bayes' rule for scores, as chapter 18 does, before writing it: `w = 0` must give the
/// conditional prediction and `w = -1` the unconditional one.
pub fn guided_noise(conditional: &[f64], unconditional: &[f64], w: f64) -> Vec<f64> {
    let _ = (conditional, unconditional, w);
    todo!("Exercise 18.1: implement guided_noise (see chapter 18)")
}

/// Exercise 18.2: the guided score of a two-class toy model. The classes $y \in \{0, 1\}$ are
/// equally likely and $p(x \mid y) = \mathcal N(x; \mu_y, \sigma^2)$ on the real line, so
/// $p(x) = \tfrac12 \sum_y \mathcal N(x; \mu_y, \sigma^2)$. Return the guided score
/// $$ (1 + w)\,\frac{d}{dx}\log p(x \mid y) - w\,\frac{d}{dx}\log p(x), $$
/// the score form of Exercise 18.1 (the noise prediction is $-\sqrt{1-\bar\alpha_t}$ times the
/// score). `means` holds $(\mu_0, \mu_1)$; `y` is 0 or 1.
pub fn guided_score(x: f64, y: usize, w: f64, means: [f64; 2], sigma: f64) -> f64 {
    let _ = (x, y, w, means, sigma);
    todo!("Exercise 18.2: implement guided_score (see chapter 18)")
}
