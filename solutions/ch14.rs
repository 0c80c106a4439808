//! Reference solutions of chapter 14's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch14`
//! grades them in place of `src/exercises/ch14.rs`; they obey the students' rule (no `ddpm`).
//!
//! The last exercise is tensor code (burn); the others are plain `f64` arithmetic.

use burn::prelude::*;

/// Exercise 14.1: the DDIM timesteps $\tau_1 < \dots < \tau_S$, evenly spaced from 1 to $T$
/// inclusive:
///
/// $$ \tau_{i+1} = 1 + \operatorname{round}\Big(i\,\frac{T - 1}{S - 1}\Big),\quad i = 0, \dots, S-1, $$
///
/// rounding halves away from zero (`f64::round`); for $S = 1$ the single timestep $T$.
/// (For $S = T$ this is every timestep $1, \dots, T$.) Exact halves occur, e.g.
/// $13 \cdot 999 / 26 = 499.5$ for $S = 27$, $T = 1000$: compute the product $i(T-1)$ first
/// and divide once, since `i as f64 * (999.0 / 26.0)` rounds to just below 499.5.
pub fn ddim_timesteps(steps: usize, num_timesteps: usize) -> Vec<usize> {
    if steps <= 1 {
        return vec![num_timesteps];
    }
    (0..steps)
        .map(|i| 1 + ((i * (num_timesteps - 1)) as f64 / (steps - 1) as f64).round() as usize)
        .collect()
}

/// Exercise 14.2: the standard deviation of the DDIM step from $t$ to $s < t$ (Song et al.
/// 2021, Eq. (16)), given $\bar\alpha_t$, $\bar\alpha_s$ ($\bar\alpha_0 = 1$) and $\eta \ge 0$:
///
/// $$ \sigma = \eta\,\sqrt{\frac{1-\bar\alpha_s}{1-\bar\alpha_t}}\,\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_s}} . $$
pub fn ddim_sigma(alpha_bar_t: f64, alpha_bar_s: f64, eta: f64) -> f64 {
    eta * ((1.0 - alpha_bar_s) / (1.0 - alpha_bar_t)).sqrt()
        * (1.0 - alpha_bar_t / alpha_bar_s).sqrt()
}

/// Exercise 14.3: one DDIM step for one pixel, without clipping (Song et al. 2021, Eq. (12)).
/// From $x_t$, the noise prediction $\hat\epsilon$ = `eps` and the standard normal draw $z$:
///
/// $$ \hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon}{\sqrt{\bar\alpha_t}},\qquad
///    x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s-\sigma^2}\;\hat\epsilon + \sigma z, $$
///
/// with $\sigma$ from Exercise 14.2 and $\bar\alpha_0 = 1$ (so $s = 0$ returns $\hat x_0$).
pub fn ddim_step(x_t: f64, eps: f64, alpha_bar_t: f64, alpha_bar_s: f64, eta: f64, z: f64) -> f64 {
    let x0 = (x_t - (1.0 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt();
    let sigma = eta
        * ((1.0 - alpha_bar_s) / (1.0 - alpha_bar_t)).sqrt()
        * (1.0 - alpha_bar_t / alpha_bar_s).sqrt();
    let direction = (1.0 - alpha_bar_s - sigma * sigma).max(0.0).sqrt();
    alpha_bar_s.sqrt() * x0 + direction * eps + sigma * z
}

/// Exercise 14.4 (tensors): one ancestral step $x_t \to x_{t-1}$ of Algorithm 2 (Ho et al.
/// 2020, line 4) with $\sigma_t^2 = \beta_t$, for a batch. The schedule is given by its
/// `betas` ($\beta_1, \dots, \beta_T$; compute $\alpha_t$ and $\bar\alpha_t$ from them),
/// `eps_model(x_t, t)` is the network (`t` as a float tensor `[batch]`, every element $t$),
/// and `noise` is the standard normal $z$ to use; at $t = 1$ add no noise. Graded on the
/// `tiny` U-Net against an independent `f64` computation of the step.
///
/// # Shapes
/// - `x_t`, `noise`: `[batch, c, h, w]`; returns `[batch, c, h, w]`
pub fn p_sample(
    x_t: Tensor<4>,
    t: usize,
    betas: &[f64],
    noise: Tensor<4>,
    eps_model: impl Fn(Tensor<4>, Tensor<1>) -> Tensor<4>,
) -> Tensor<4> {
    let [batch, _, _, _] = x_t.dims();
    let device = x_t.device();
    let beta = betas[t - 1];
    let alpha_bar: f64 = betas[..t].iter().map(|b| 1.0 - b).product();
    let t_in = Tensor::<1>::full([batch], t as f32, &device); // [batch]
    let eps = eps_model(x_t.clone(), t_in); // [batch, c, h, w]
    // Eq. (11): mu = (x_t - beta / sqrt(1 - abar) eps) / sqrt(alpha).
    let mean =
        (x_t - eps.mul_scalar(beta / (1.0 - alpha_bar).sqrt())).div_scalar((1.0 - beta).sqrt()); // [batch, c, h, w]
    if t == 1 {
        mean
    } else {
        mean + noise.mul_scalar(beta.sqrt())
    }
}
