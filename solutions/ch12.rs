//! Reference solutions of chapter 12's exercises (instructors only: `scripts/student_copy.sh`
//! leaves this folder out). `cargo test --release --features solutions --test exercises_ch12`
//! grades them in place of `src/exercises/ch12.rs`; they obey the students' rule (no `ddpm`).

/// Exercise 12.1: the sinusoidal timestep embedding of one timestep $t$, in f64. With
/// $h = \mathrm{dim}/2$ frequencies $\omega_i = 10000^{-i/(h-1)}$, $i = 0, \dots, h-1$, return
///
/// $$ \big(\sin(t\omega_0), \dots, \sin(t\omega_{h-1}),\ \cos(t\omega_0), \dots,
///    \cos(t\omega_{h-1})\big) \in \mathbb R^{\mathrm{dim}} $$
///
/// (sines first, then cosines, as Ho et al.'s `get_timestep_embedding`). `dim` is even and at
/// least 4.
pub fn timestep_embedding(t: f64, dim: usize) -> Vec<f64> {
    let half = dim / 2;
    let omega: Vec<f64> = (0..half)
        .map(|i| 10000f64.powf(-(i as f64) / (half as f64 - 1.0)))
        .collect();
    let sines = omega.iter().map(|w| (t * w).sin());
    let cosines = omega.iter().map(|w| (t * w).cos());
    sines.chain(cosines).collect()
}

/// Exercise 12.2: the side of a convolution's output. A $k\times k$ convolution with stride
/// $s$ and $p$ pixels of zero padding on every side maps an $n\times n$ image to
/// $n'\times n'$ with
///
/// $$ n' = \Big\lfloor \frac{n + 2p - k}{s} \Big\rfloor + 1. $$
///
/// (The U-Net's downsampling conv, $k = 3$, $s = 2$, $p = 1$, takes 28 to 14 and 14 to 7.)
/// Assume $n + 2p \ge k$ and $s \ge 1$.
pub fn conv_output_size(input: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (input + 2 * padding - kernel) / stride + 1
}

/// Exercise 12.3: the number of parameters of the U-Net's self-attention block on $c$
/// channels: a GroupNorm (a scale and a shift per channel, $2c$) and four 1x1 convolutions
/// $c \to c$ with bias ($Q$, $K$, $V$ and the output projection), each $c^2 + c$:
/// $2c + 4(c^2 + c)$.
pub fn attention_block_params(channels: usize) -> usize {
    let c = channels;
    2 * c + 4 * (c * c + c)
}

/// Exercise 12.4: the number of parameters of a residual block from $c_i$ to $c_o$ channels
/// with timestep-embedding width $t_d$ (chapter 12, "Counting the parameters"):
///
/// $$ 2c_i + (9c_ic_o + c_o) + (t_dc_o + c_o) + 2c_o + (9c_o^2 + c_o), $$
///
/// GroupNorm on $c_i$, conv3x3 $c_i \to c_o$, the linear timestep projection $t_d \to c_o$,
/// GroupNorm on $c_o$, conv3x3 $c_o \to c_o$ (every conv and linear map with a bias), plus
/// $c_ic_o + c_o$ for the 1x1 skip convolution when $c_i \ne c_o$.
pub fn residual_block_params(c_in: usize, c_out: usize, temb_dim: usize) -> usize {
    let (ci, co, td) = (c_in, c_out, temb_dim);
    let skip = if ci == co { 0 } else { ci * co + co };
    2 * ci + (9 * ci * co + co) + (td * co + co) + 2 * co + (9 * co * co + co) + skip
}
