//! Reference solutions of chapter 13's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch13`
//! grades them in place of `src/exercises/ch13.rs`; they obey the students' rule (no `ddpm`).
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
    let sum: f64 = eps
        .iter()
        .zip(eps_hat)
        .map(|(e, h)| (e - h) * (e - h))
        .sum();
    sum / eps.len() as f64
}

/// Exercise 13.2: the learning rate at `step` (0-based: `step = 0` is the first update) with a
/// linear warmup over `warmup` steps, then constant (Ho et al. 2020, Appendix B):
///
/// $$ \eta_k = \eta \cdot \min\Big(1, \frac{k + 1}{W}\Big), $$
///
/// and simply $\eta$ when $W = 0$ (no warmup).
pub fn learning_rate(step: usize, lr: f64, warmup: usize) -> f64 {
    if warmup == 0 {
        lr
    } else {
        lr * ((step as f64 + 1.0) / warmup as f64).min(1.0)
    }
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
    (0..steps)
        .map(|k| {
            if warmup {
                let k = k as f64;
                decay.min((1.0 + k) / (10.0 + k))
            } else {
                decay
            }
        })
        .product()
}

/// Exercise 13.4: the EMA decay with warm-up used after `step` completed updates (0-based):
///
/// $$ d_k = \min\Big(d, \frac{1 + k}{10 + k}\Big), $$
///
/// so the first updates (0.1, 0.18, 0.25, ...) follow the fast early progress of training, and
/// the configured $d$ is reached after $(10d - 1)/(1 - d)$ steps.
pub fn ema_decay_at(step: usize, decay: f64) -> f64 {
    let k = step as f64;
    decay.min((1.0 + k) / (10.0 + k))
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
    let norm = grads.iter().flatten().map(|g| g * g).sum::<f64>().sqrt();
    if norm > max_norm {
        max_norm / norm
    } else {
        1.0
    }
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
    let [batch, _, _, _] = x0.dims();
    let device = x0.device();
    let per_image = |f: &dyn Fn(f64) -> f64| -> Tensor<4> {
        let v: Vec<f32> = t.iter().map(|&t| f(alpha_bar[t - 1]) as f32).collect();
        Tensor::<1>::from_data(TensorData::new(v, [batch]), &device).reshape([batch, 1, 1, 1])
    };
    let a = per_image(&|ab| ab.sqrt()); // [batch, 1, 1, 1]
    let s = per_image(&|ab| (1.0 - ab).sqrt()); // [batch, 1, 1, 1]
    let x_t = x0 * a + noise.clone() * s; // [batch, c, h, w]
    let t_in: Vec<f32> = t.iter().map(|&t| t as f32).collect();
    let t_in = Tensor::<1>::from_data(TensorData::new(t_in, [batch]), &device); // [batch]
    let eps = eps_model(x_t, t_in); // [batch, c, h, w]
    (noise - eps).square().mean() // [1]
}
