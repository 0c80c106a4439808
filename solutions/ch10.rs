//! Reference solutions of chapter 10's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch10`
//! grades them in place of `src/exercises/ch10.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 10.1: the score from the optimal noise prediction:
/// $\nabla\log q_t(x) = -\epsilon / \sqrt{1-\bar\alpha_t}$.
pub fn score_from_eps(eps: f64, alpha_bar: f64) -> f64 {
    -eps / (1.0 - alpha_bar).sqrt()
}

/// Exercise 10.2: the exact score of the noised single Gaussian: if $x_0 \sim \mathcal N(\mu, v)$
/// then $q_t = \mathcal N(\sqrt{\bar\alpha}\mu, \bar\alpha v + 1 - \bar\alpha)$; return
/// $\nabla_x \log q_t(x)$.
pub fn gaussian_score(x: f64, alpha_bar: f64, mu: f64, v: f64) -> f64 {
    -(x - alpha_bar.sqrt() * mu) / (alpha_bar * v + 1.0 - alpha_bar)
}

/// Exercise 10.3: one Euler-Maruyama step of the reverse-time VP-SDE, from $\tau$ to
/// $\tau - \Delta\tau$: $x \leftarrow x + \big(\tfrac12\beta x + \beta\,s\big)\Delta\tau +
/// \sqrt{\beta\,\Delta\tau}\,z$, given $\beta = \beta(\tau)$, the score $s$ at $(x, \tau)$ and
/// a standard normal draw $z$.
pub fn reverse_euler_maruyama_step(x: f64, score: f64, beta: f64, dt: f64, z: f64) -> f64 {
    x + (0.5 * beta * x + beta * score) * dt + (beta * dt).sqrt() * z
}

/// Exercise 10.4: one Euler step of the probability-flow ODE from $\tau$ to
/// $\tau - \Delta\tau$: $x \leftarrow x + \big(\tfrac12\beta x + \tfrac12\beta\,s\big)\Delta\tau$.
pub fn probability_flow_euler_step(x: f64, score: f64, beta: f64, dt: f64) -> f64 {
    x + 0.5 * beta * (x + score) * dt
}
