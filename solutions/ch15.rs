//! Reference solutions of chapter 15's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch15`
//! grades them in place of `src/exercises/ch15.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 15.1: the bound of one image in **bits per dimension**. The parts are summed over
/// the image's $D$ = `num_dims` pixels, in nats: `prior` is $L_T$, `kl[t - 2]` is $L_{t-1}$
/// for $t = 2, \dots, T$, and `decoder` is $L_0$. Return
///
/// $$ \frac{L_T + \sum_{t=2}^{T} L_{t-1} + L_0}{D \ln 2} . $$
///
/// (A uniform guess over 256 grey levels, $D\ln 256$ nats, is exactly 8 bits/dim.)
pub fn bits_per_dim(prior: f64, kl: &[f64], decoder: f64, num_dims: usize) -> f64 {
    let total = prior + kl.iter().sum::<f64>() + decoder;
    total / (num_dims as f64 * std::f64::consts::LN_2)
}

/// Exercise 15.2: the **sampled** estimate of $\sum_{t=2}^{T} L_{t-1}$. `kl[t - 2]` is
/// $L_{t-1}$ for $t = 2, \dots, T$ (so $T$ = `kl.len() + 1`), and `sampled_t` holds $K \ge 1$
/// timesteps $t_1, \dots, t_K$ drawn from $\mathrm U\{2, \dots, T\}$. Return
///
/// $$ \frac{T - 1}{K}\sum_{k=1}^{K} L_{t_k - 1} , $$
///
/// which is unbiased: its expectation over the draws is the full sum.
pub fn sampled_sum_estimate(kl: &[f64], sampled_t: &[usize]) -> f64 {
    let big_t_minus_1 = kl.len() as f64;
    let sum: f64 = sampled_t.iter().map(|&t| kl[t - 2]).sum();
    big_t_minus_1 * sum / sampled_t.len() as f64
}

/// Exercise 15.3: the floor of the $\sigma_t^2 = \beta_t$ bound that no network can remove, in
/// bits per dimension. From the betas $\beta_1, \dots, \beta_T$ (element `i` is $\beta_{i+1}$)
/// compute $\bar\alpha_t = \prod_{s \le t}(1 - \beta_s)$, the posterior variance
/// $\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$, and return
///
/// $$ \frac{1}{\ln 2}\sum_{t=2}^{T} C_t,\qquad
///    C_t = \tfrac12\Big(\frac{\tilde\beta_t}{\beta_t} - 1 - \ln\frac{\tilde\beta_t}{\beta_t}\Big), $$
///
/// the KL from $\mathcal N(0, \tilde\beta_t)$ to $\mathcal N(0, \beta_t)$ per dimension.
pub fn variance_mismatch_bits(betas: &[f64]) -> f64 {
    let mut alpha_bar_prev = 1.0;
    let mut total = 0.0;
    for (i, &beta) in betas.iter().enumerate() {
        let alpha_bar = alpha_bar_prev * (1.0 - beta);
        if i > 0 {
            let ratio = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar); // tilde beta / beta
            total += 0.5 * (ratio - 1.0 - ratio.ln());
        }
        alpha_bar_prev = alpha_bar;
    }
    total / std::f64::consts::LN_2
}
