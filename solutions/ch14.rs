//! Exercises for chapter 14 (see the chapter's "Exercises" section). Graded by
//! `cargo test --release --test exercises_ch14` against `ddpm::workflows::sample` and chapter
//! 8's reverse process; reference solutions with `--features solutions`.
//!
//! The functions are plain `f64` arithmetic: they need no burn, only the chapter.

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
