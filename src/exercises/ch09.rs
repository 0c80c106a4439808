//! Exercises for chapter 09 (see the chapter's "Exercises" section). Graded by
//! `cargo test --release --test exercises_ch09`; reference solutions with `--features solutions`.

/// Exercise 9.1: $L_T$ for one pixel in **bits**:
/// $D_{\mathrm{KL}}(\mathcal N(\sqrt{\bar\alpha_T}x_0, 1-\bar\alpha_T)\,\|\,\mathcal N(0,1)) / \ln 2$.
pub fn prior_bits(alpha_bar_last: f64, x0: f64) -> f64 {
    #[cfg(feature = "solutions")]
    {
        let a = alpha_bar_last;
        0.5 * (a * x0 * x0 - a - (1.0 - a).ln()) / std::f64::consts::LN_2
    }
    #[cfg(not(feature = "solutions"))]
    {
        let _ = (alpha_bar_last, x0);
        todo!("Exercise 9.1: implement prior_bits (see chapter 9)")
    }
}

/// Exercise 9.2: the weight of $\|\epsilon - \epsilon_\theta\|^2$ in $L_{t-1}$:
/// $\frac{\beta_t^2}{2\sigma_t^2\alpha_t(1-\bar\alpha_t)}$ with $\alpha_t = 1 - \beta_t$.
pub fn loss_weight(beta: f64, alpha_bar: f64, sigma2: f64) -> f64 {
    #[cfg(feature = "solutions")]
    {
        beta * beta / (2.0 * sigma2 * (1.0 - beta) * (1.0 - alpha_bar))
    }
    #[cfg(not(feature = "solutions"))]
    {
        let _ = (beta, alpha_bar, sigma2);
        todo!("Exercise 9.2: implement loss_weight (see chapter 9)")
    }
}

/// Exercise 9.3: the decoder's probability of pixel level `k` in `0..=255` (value
/// $x = 2k/255 - 1$) under $\mathcal N(\mu, \sigma^2)$: the mass of
/// $[x - 1/255, x + 1/255]$, with the first bin extended to $-\infty$ and the last to $+\infty$.
/// Use `ddpm::diffusion::bound::standard_normal_cdf`.
pub fn bin_probability(k: u8, mean: f64, std_dev: f64) -> f64 {
    #[cfg(feature = "solutions")]
    {
        use crate::diffusion::bound::standard_normal_cdf as cdf;
        let x = 2.0 * f64::from(k) / 255.0 - 1.0;
        let hi = if k == 255 {
            1.0
        } else {
            cdf((x + 1.0 / 255.0 - mean) / std_dev)
        };
        let lo = if k == 0 {
            0.0
        } else {
            cdf((x - 1.0 / 255.0 - mean) / std_dev)
        };
        hi - lo
    }
    #[cfg(not(feature = "solutions"))]
    {
        let _ = (k, mean, std_dev);
        todo!("Exercise 9.3: implement bin_probability (see chapter 9)")
    }
}
