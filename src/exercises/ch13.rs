//! Exercises for chapter 13 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 13` (or `cargo test --release --test exercises_ch13`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.
//!
//! The last exercise is tensor code (burn); the others are plain `f64` arithmetic.

use burn::prelude::*;

/// Exercise 13.1: $L_\text{simple}$ of one batch (Ho et al. 2020, Eq. (14)), as the training
/// step computes it: the squared error between the true noise `eps` and the prediction
/// `eps_hat`, **averaged** over all elements:
///
/// $$ \frac1n \sum_{i=1}^{n} (\epsilon_i - \hat\epsilon_i)^2 . $$
///
/// `eps` and `eps_hat` have the same length $n \ge 1$.
pub fn l_simple(eps: &[f64], eps_hat: &[f64]) -> f64 {
    let _ = (eps, eps_hat);
    todo!("Exercise 13.1: implement l_simple (see chapter 13)")
}

/// Exercise 13.2: the learning rate at `step` (0-based: `step = 0` is the first update) with a
/// linear warmup over `warmup` steps, then constant (Ho et al. 2020, Appendix B):
///
/// $$ \eta_k = \eta \cdot \min\Big(1, \frac{k + 1}{W}\Big), $$
///
/// and simply $\eta$ when $W = 0$ (no warmup).
pub fn learning_rate(step: usize, lr: f64, warmup: usize) -> f64 {
    let _ = (step, lr, warmup);
    todo!("Exercise 13.2: implement learning_rate (see chapter 13)")
}

/// Exercise 13.3: the weight the EMA still gives to the **initial** (random) weights after
/// `steps` updates $\theta_\text{EMA} \leftarrow d_k\theta_\text{EMA} + (1 - d_k)\theta$:
///
/// $$ \prod_{k=0}^{\text{steps}-1} d_k, $$
///
/// with $d_k = d$ when `warmup` is false, and $d_k = \min(d, \frac{1+k}{10+k})$ (Exercise
/// 13.4) when it is true. (Without warm-up, $0.995^{200} \approx 0.37$: the grid after 200
/// steps in chapter 13 is still mostly the random network.)
pub fn ema_initial_share(steps: usize, decay: f64, warmup: bool) -> f64 {
    let _ = (steps, decay, warmup);
    todo!("Exercise 13.3: implement ema_initial_share (see chapter 13)")
}

/// Exercise 13.4: the EMA decay with warm-up used after `step` completed updates (0-based):
///
/// $$ d_k = \min\Big(d, \frac{1 + k}{10 + k}\Big), $$
///
/// so the first updates (0.1, 0.18, 0.25, ...) follow the fast early progress of training, and
/// the configured $d$ is reached after $(10d - 1)/(1 - d)$ steps.
pub fn ema_decay_at(step: usize, decay: f64) -> f64 {
    let _ = (step, decay);
    todo!("Exercise 13.4: implement ema_decay_at (see chapter 13)")
}

/// Exercise 13.5: global-norm gradient clipping (TensorFlow's `clip_by_global_norm`, as in
/// Ho et al.'s code). `grads` holds the gradient of each parameter tensor, flattened. With
/// $\lVert g\rVert = \sqrt{\sum_{\text{tensors}}\sum_j g_j^2}$ the norm of *all* gradients
/// together, return the factor every gradient is multiplied by:
///
/// $$ f = \min\Big(1, \frac{\text{max\_norm}}{\lVert g\rVert}\Big), $$
///
/// that is $\text{max\_norm}/\lVert g\rVert$ when the norm exceeds `max_norm`, and 1 (no
/// clipping) otherwise.
pub fn clip_factor(grads: &[Vec<f64>], max_norm: f64) -> f64 {
    let _ = (grads, max_norm);
    todo!("Exercise 13.5: implement clip_factor (see chapter 13)")
}

/// Exercise 13.6 (tensors): the loss of Algorithm 1 (Ho et al. 2020) on one batch, as the
/// training step computes it. Given clean images `x0` and standard normal `noise` (both
/// `[batch, c, h, w]`), one timestep per image in `t` (each in `1..=T`), and $\bar\alpha_t$ as
/// `alpha_bar` (element `i` is $\bar\alpha_{i+1}$): form $x_t$ by the forward process, ask the
/// network `eps_model(x_t, t)` for its noise prediction (`t` as a float tensor `[batch]`),
/// and return the mean squared error against the true noise, over every element, as a
/// tensor of shape `[1]`. Graded on the `tiny` U-Net against an independent `f64` computation.
///
/// # Shapes
/// - `x0`, `noise`: `[batch, c, h, w]`; `t.len() == batch`; returns `[1]`
pub fn algorithm1_loss(
    x0: Tensor<4>,
    t: &[usize],
    noise: Tensor<4>,
    alpha_bar: &[f64],
    eps_model: impl Fn(Tensor<4>, Tensor<1>) -> Tensor<4>,
) -> Tensor<1> {
    let _ = (x0, t, noise, alpha_bar, eps_model);
    todo!("Exercise 13.6: implement algorithm1_loss (see chapter 13)")
}
