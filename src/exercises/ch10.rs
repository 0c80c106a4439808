//! Exercises for chapter 10 (see the chapter's "Exercises" section): replace each `todo!`.
//! Grade with `scripts/grade.sh --chapters 10` (or `cargo test --release --no-default-features --test exercises_ch10`).
//! This file is compiled into its grader only, not into the library, and may not use the
//! `ddpm` crate: std, `ndarray`, `rand`, `rand_chacha`, `rand_distr` and `burn` only.

/// Exercise 10.1: the score $\nabla_x\log q_t(x)$ from the optimal noise prediction
/// $\epsilon = \mathbb E[\epsilon\mid x_t = x]$. Derive the relation (Tweedie's formula: write
/// $\nabla_x \log q_t(x)$ as an expectation over $x_0$ given $x_t = x$).
pub fn score_from_eps(eps: f64, alpha_bar: f64) -> f64 {
    let _ = (eps, alpha_bar);
    todo!("Exercise 10.1: implement score_from_eps (see chapter 10)")
}

/// Exercise 10.2: the exact score $\nabla_x \log q_t(x)$ of the noised single Gaussian: the data
/// is $x_0 \sim \mathcal N(\mu, v)$ and $q_t$ the distribution of
/// $\sqrt{\bar\alpha}\,x_0 + \sqrt{1-\bar\alpha}\,\epsilon$. (Derive $q_t$ first.)
pub fn gaussian_score(x: f64, alpha_bar: f64, mu: f64, v: f64) -> f64 {
    let _ = (x, alpha_bar, mu, v);
    todo!("Exercise 10.2: implement gaussian_score (see chapter 10)")
}

/// Exercise 10.3: one Euler-Maruyama step of the reverse-time VP-SDE, from $\tau$ to
/// $\tau - \Delta\tau$: $x \leftarrow x + \big(\tfrac12\beta x + \beta\,s\big)\Delta\tau +
/// \sqrt{\beta\,\Delta\tau}\,z$, given $\beta = \beta(\tau)$, the score $s$ at $(x, \tau)$ and
/// a standard normal draw $z$.
pub fn reverse_euler_maruyama_step(x: f64, score: f64, beta: f64, dt: f64, z: f64) -> f64 {
    let _ = (x, score, beta, dt, z);
    todo!("Exercise 10.3: implement reverse_euler_maruyama_step (see chapter 10)")
}

/// Exercise 10.4: one Euler step of the probability-flow ODE from $\tau$ to
/// $\tau - \Delta\tau$: $x \leftarrow x + \big(\tfrac12\beta x + \tfrac12\beta\,s\big)\Delta\tau$.
pub fn probability_flow_euler_step(x: f64, score: f64, beta: f64, dt: f64) -> f64 {
    let _ = (x, score, beta, dt);
    todo!("Exercise 10.4: implement probability_flow_euler_step (see chapter 10)")
}
