//! Reference solutions of chapter 17's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch17`
//! grades them in place of `src/exercises/ch17.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 17.1: how many network evaluations one batch of samples costs. Ancestral
/// sampling (`ddim_steps = None`) evaluates $\epsilon_\theta$ once per timestep
/// $t = T, \dots, 1$; DDIM with $S$ steps (`Some(S)`, $1 \le S \le T$) once per timestep of its
/// sub-sequence $\tau_S > \dots > \tau_1$.
pub fn network_evaluations(num_timesteps: usize, ddim_steps: Option<usize>) -> usize {
    ddim_steps.unwrap_or(num_timesteps)
}

/// Exercise 17.2: the cost model. Sampling `count` images in batches of `batch` runs
/// $\lceil \text{count} / \text{batch} \rceil$ batches (the last one may be partly empty but
/// costs a full forward pass), each needing `evaluations` forward passes of `forward_ms`
/// milliseconds (the time `ddpm bench` reports for one forward pass at that batch size).
/// Return the predicted wall time in **seconds**:
///
/// $$ \Big\lceil \frac{\text{count}}{\text{batch}} \Big\rceil \cdot \text{evaluations} \cdot
///    \frac{\text{forward\_ms}}{1000} . $$
pub fn sampling_seconds(count: usize, batch: usize, evaluations: usize, forward_ms: f64) -> f64 {
    let batches = count.div_ceil(batch);
    (batches * evaluations) as f64 * forward_ms / 1000.0
}

/// Exercise 17.3: how much fresh noise a DDIM run injects. For DDIM with stochasticity $\eta$
/// on the schedule whose $\bar\alpha_t$ are `alpha_bar` (element `i` is $\bar\alpha_{i+1}$,
/// $T$ = `alpha_bar.len()`), visiting `timesteps` (increasing, as Exercise 14.1 returns them)
/// from the largest down, each step going from $t$ to the next smaller timestep $s$ (and from
/// the smallest to $s = 0$, with $\bar\alpha_0 = 1$), return the total variance
/// $\sum \sigma^2$ of the noise added, with $\sigma$ from Exercise 14.2:
///
/// $$ \sigma^2 = \eta^2\,\frac{1-\bar\alpha_s}{1-\bar\alpha_t}\Big(1-\frac{\bar\alpha_t}{\bar\alpha_s}\Big). $$
///
/// (With $\eta = 1$ and all $T$ steps this is $\sum_t \tilde\beta_t$, exactly the noise of
/// ancestral sampling with $\sigma_t^2 = \tilde\beta_t$; with $\eta = 0$ it is 0.) The
/// exercise files are graded one by one, so copy your `ddim_sigma` of chapter 14 here if you
/// want it.
pub fn ddim_noise_variance_total(alpha_bar: &[f64], timesteps: &[usize], eta: f64) -> f64 {
    let ab = |t: usize| if t == 0 { 1.0 } else { alpha_bar[t - 1] };
    let mut total = 0.0;
    for (k, &t) in timesteps.iter().enumerate() {
        let s = if k == 0 { 0 } else { timesteps[k - 1] };
        let (ab_t, ab_s) = (ab(t), ab(s));
        total += eta * eta * (1.0 - ab_s) / (1.0 - ab_t) * (1.0 - ab_t / ab_s);
    }
    total
}
