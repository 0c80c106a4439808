//! The sinusoidal timestep embedding and the small MLP that lifts it (chapter 12).
//!
//! The network is told *which* noise level it is denoising by the integer timestep
//! $t \in \{1, \dots, T\}$. Ho et al. (2020, Appendix B) feed $t$ through the Transformer's
//! sinusoidal position embedding (Vaswani et al. 2017, Sec. 3.5) and then a two-layer MLP.
//!
//! A check to run (chapter 12; `cargo test --release --doc network::embedding`): at $t = 0$
//! every sine is 0 and every cosine 1, and the fastest component is $\sin t$
//! ($\omega_0 = 1$).
//!
//! ```
//! use ddpm::burn::prelude::*;
//! use ddpm::network::timestep_embedding;
//! let device = Device::flex();
//! let t = Tensor::<1>::from_floats([0.0, 3.0], &device); // [2]
//! let emb = timestep_embedding(t, 8); // [2, 8]
//! assert_eq!(emb.dims(), [2, 8]);
//! let v: Vec<f32> = emb.into_data().convert::<f32>().to_vec().unwrap();
//! assert_eq!(v[..8], [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
//! assert!((v[8] - 3f32.sin()).abs() < 1e-6);
//! ```

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;

// ANCHOR: timestep_embedding
/// Sinusoidal embedding of timesteps, as in Ho et al.'s `get_timestep_embedding`:
///
/// $$ \mathrm{emb}(t)_i = \sin(t\,\omega_i),\quad \mathrm{emb}(t)_{h+i} = \cos(t\,\omega_i),\quad
///    \omega_i = 10000^{-i/(h-1)},\quad i = 0, \dots, h-1,\ h = \mathrm{dim}/2. $$
///
/// Low indices oscillate fast (they tell neighbouring $t$ apart), high indices slowly
/// (they say roughly where in $[1, T]$ we are).
///
/// # Shapes
/// - `t`: `[batch]` (timesteps as floats)
/// - returns `[batch, dim]`
///
/// # Panics
/// If `dim` is odd or smaller than 4 ([`UNetConfig::validate`](super::UNetConfig::validate)
/// rejects such configurations before a network is built).
pub fn timestep_embedding(t: Tensor<1>, dim: usize) -> Tensor<2> {
    assert!(
        dim >= 4 && dim.is_multiple_of(2),
        "timestep embedding dim must be even and >= 4"
    );
    let half = dim / 2;
    let device = t.device();
    let [batch] = t.dims();
    let scale = -(10000f64.ln()) / (half as f64 - 1.0);
    let omega = Tensor::<1, Int>::arange(0..half as i64, &device)
        .float()
        .mul_scalar(scale)
        .exp(); // [half]
    let angles = t.reshape([batch, 1]) * omega.reshape([1, half]); // [batch, half]
    Tensor::cat(vec![angles.clone().sin(), angles.cos()], 1) // [batch, dim]
}
// ANCHOR_END: timestep_embedding

/// Sinusoidal embedding followed by `Linear(dim, 4 dim) -> SiLU -> Linear(4 dim, 4 dim)`.
#[derive(Module, Debug)]
pub struct TimeEmbedding {
    pub(crate) linear_1: Linear,
    pub(crate) linear_2: Linear,
    pub(crate) dim: usize,
}

impl TimeEmbedding {
    /// A new embedding MLP for sinusoidal dimension `dim` (output `4 dim`).
    pub fn new(dim: usize, device: &Device) -> Self {
        Self {
            linear_1: LinearConfig::new(dim, 4 * dim).init(device),
            linear_2: LinearConfig::new(4 * dim, 4 * dim).init(device),
            dim,
        }
    }

    /// # Shapes
    /// - `t`: `[batch]`, returns `[batch, 4 dim]`
    pub fn forward(&self, t: Tensor<1>) -> Tensor<2> {
        let emb = timestep_embedding(t, self.dim); // [batch, dim]
        let emb = silu(self.linear_1.forward(emb)); // [batch, 4 dim]
        self.linear_2.forward(emb) // [batch, 4 dim]
    }
}
