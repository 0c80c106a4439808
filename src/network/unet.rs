//! The DDPM U-Net (Ho et al. 2020, Appendix B), scaled to 28x28 MNIST. Chapter 12.
//!
//! Layout (the `paper` preset, 1,623,169 parameters):
//!
//! ```text
//! t ─ sinusoidal(32) ─ Linear(32,128) ─ SiLU ─ Linear(128,128) ─► temb (to every ResBlock)
//! x [b,1,28,28] ─ conv_in 3x3 ─► [b,32,28,28]
//!   down 28: Res(32) Res(32) ─ conv s2 ─► 14
//!   down 14: Res(64) Res(64) ─ conv s2 ─► 7
//!   down  7: Res+Attn(64) Res+Attn(64)                 (last level: no downsampling)
//!   middle:  Res(64) Attn(64) Res(64)
//!   up    7: 3 x [concat skip, Res+Attn(64)] ─ nearest x2, conv 3x3 ─► 14
//!   up   14: 3 x [concat skip, Res(64)]      ─ nearest x2, conv 3x3 ─► 28
//!   up   28: 3 x [concat skip, Res(32)]
//!   out: GroupNorm ─ SiLU ─ conv 3x3 ─► [b,1,28,28]   (predicted noise epsilon)
//! ```
//!
//! Every output of the down path (conv_in, each block, each downsampling) is pushed on a stack;
//! each up block pops one and concatenates it on the channel axis, so the up path has one more
//! block per level than the down path.

use burn::nn::{
    Dropout, DropoutConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d,
    conv::{Conv2d, Conv2dConfig},
};
use burn::prelude::*;
use burn::tensor::activation::{silu, softmax};

use super::fast::{conv2d, dropout, group_norm};

use super::conditional::LabelEmbedding;
use super::embedding::TimeEmbedding;

/// What is wrong with a [`UNetConfig`]; each message says how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UNetConfigError {
    /// A channel count is not a multiple of the GroupNorm group count.
    #[error(
        "{what} has {channels} channels, which GroupNorm cannot split into {groups} groups; \
         choose base_channels * channel_mults divisible by norm_groups"
    )]
    GroupsDoNotDivide {
        /// Which layer.
        what: String,
        /// Its channel count.
        channels: usize,
        /// `norm_groups`.
        groups: usize,
    },
    /// The image side cannot be cut into patches and then halved once per extra level.
    #[error(
        "image_size {image_size} cannot be cut into {patch_size}x{patch_size} patches and then \
         halved {halvings} times exactly (one per level after the first); use fewer \
         channel_mults, a smaller patch_size or an image size divisible by {divisor}"
    )]
    ImageSizeNotDivisible {
        /// The image side.
        image_size: usize,
        /// The patch side.
        patch_size: usize,
        /// Number of downsamplings.
        halvings: usize,
        /// `patch_size * 2^halvings`.
        divisor: usize,
    },
    /// Something that must be positive is zero or empty.
    #[error("{0} must be at least 1")]
    Empty(&'static str),
    /// The timestep embedding dimension must be even and at least 4.
    #[error(
        "base_channels = {0} gives a timestep embedding of that size; it must be even and >= 4"
    )]
    EmbeddingDim(usize),
    /// Dropout outside `[0, 1)`.
    #[error("dropout must lie in [0, 1), got {0}")]
    Dropout(f64),
    /// An attention resolution the network never reaches.
    #[error("attention resolution {resolution} is not one of the levels' resolutions {levels:?}")]
    AttentionResolution {
        /// The requested resolution.
        resolution: usize,
        /// The resolutions the levels have.
        levels: Vec<usize>,
    },
}

// ANCHOR: unet_config
/// Hyper-parameters of the U-Net. Named presets: [`UNetConfig::tiny`] (tests, CI),
/// [`UNetConfig::small`] (the default 20-minute CPU run), [`UNetConfig::paper`] (Ho et al.'s
/// architecture scaled to 28x28; the benchmark reference).
#[derive(Config, Debug, PartialEq)]
pub struct UNetConfig {
    /// Channels of the images (1 for MNIST).
    #[config(default = 1)]
    pub image_channels: usize,
    /// Side of the square images (28 for MNIST).
    #[config(default = 28)]
    pub image_size: usize,
    /// Channels after `conv_in`; also the sinusoidal embedding size (the MLP lifts it to 4x).
    pub base_channels: usize,
    /// Channel multiplier per level; each level after the first halves the resolution.
    pub channel_mults: Vec<usize>,
    /// Residual blocks per level on the way down (the way up has one more).
    pub num_res_blocks: usize,
    /// Resolutions (image sides) at which self-attention follows each residual block.
    pub attention_resolutions: Vec<usize>,
    /// Dropout inside residual blocks (Ho et al. use 0.1 on CIFAR-10).
    #[config(default = 0.1)]
    pub dropout: f64,
    /// GroupNorm groups (Ho et al. use 32 on 128+ channels; 8 suits 32 channels).
    #[config(default = 8)]
    pub norm_groups: usize,
    /// Side of the square patches the image is cut into before `conv_in` (1: none). With 2, a
    /// `[b, 1, 28, 28]` image enters as `[b, 4, 14, 14]` ([`space_to_depth`]) and the output
    /// is put back together at the end ([`depth_to_space`]): the network's first level runs
    /// at 14x14, a quarter of the pixels. Optional so that a config.json written before it
    /// existed still reads: `None` is 1.
    pub patch_size: Option<usize>,
    /// Number of classes of a class-conditional network (chapter 18): a learned vector per
    /// class is added to the timestep embedding ([`super::conditional::LabelEmbedding`]), and
    /// index `num_classes` is the null class. `None` (the default, and what a config.json
    /// written before it existed means) is the unconditional network.
    pub num_classes: Option<usize>,
}
// ANCHOR_END: unet_config

impl UNetConfig {
    /// Ho et al.'s CIFAR-10 recipe (2 residual blocks per level, attention at one resolution
    /// and in the middle, dropout 0.1) at a quarter of its width and one level fewer: base 32
    /// (theirs 128), multipliers (1, 2, 2) over 28, 14, 7 (theirs (1, 2, 2, 2) over 32 to 4),
    /// attention at 7x7 (theirs 16x16). 1,623,169 parameters against their 35.7M.
    pub fn paper() -> Self {
        Self::new(32, vec![1, 2, 2], 2, vec![7])
    }

    /// The default for the 20-minute CPU run: base 16, multipliers (1, 2, 2), one residual
    /// block per level, attention only at 7x7 and in the middle (attention at 14x14 doubles
    /// the cost of a step on CPU), no dropout. 280,177 parameters.
    pub fn small() -> Self {
        Self::new(16, vec![1, 2, 2], 1, vec![7]).with_dropout(0.0)
    }

    /// `small` without its 28x28 level: the image enters as 2x2 patches (4 channels at 14x14),
    /// base 32, multipliers (1, 1), so the levels are `small`'s 14x14 and 7x7 ones; attention at
    /// 7x7 and in the middle, no dropout. A training step costs less than half of `small`'s
    /// on CPU (chapter 17). 286,244 parameters.
    pub fn patched() -> Self {
        Self::new(32, vec![1, 1], 1, vec![7])
            .with_dropout(0.0)
            .with_patch_size(Some(2))
    }

    /// A few thousand parameters, for tests and CI: base 8, multipliers (1, 2), one residual
    /// block per level, attention at 14x14, GroupNorm with 4 groups.
    pub fn tiny() -> Self {
        Self::new(8, vec![1, 2], 1, vec![14])
            .with_norm_groups(4)
            .with_dropout(0.0)
    }

    /// A preset by name (`tiny`, `small`, `paper`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "tiny" => Some(Self::tiny()),
            "small" => Some(Self::small()),
            "paper" => Some(Self::paper()),
            "patched" => Some(Self::patched()),
            _ => None,
        }
    }

    /// Names accepted by [`UNetConfig::preset`].
    pub const PRESETS: [&'static str; 4] = ["tiny", "small", "paper", "patched"];

    /// [`UNetConfig::patch_size`], with `None` read as 1 (no patches).
    pub fn patch(&self) -> usize {
        self.patch_size.unwrap_or(1)
    }

    /// Channels of level `level`.
    fn level_channels(&self, level: usize) -> usize {
        self.base_channels * self.channel_mults[level]
    }

    /// Image side at each level (`image_size / patch_size`, halved once per level).
    pub fn resolutions(&self) -> Vec<usize> {
        (0..self.channel_mults.len())
            .map(|l| (self.image_size / self.patch().max(1)) >> l)
            .collect()
    }

    /// Checks the configuration; every [`UNet`] is built from a validated one.
    ///
    /// # Errors
    /// [`UNetConfigError`] when a channel count is not divisible by `norm_groups`, the image
    /// cannot be halved once per level, a size is zero, dropout is outside `[0, 1)` or an
    /// attention resolution is never reached.
    pub fn validate(&self) -> Result<(), UNetConfigError> {
        if self.image_channels == 0 {
            return Err(UNetConfigError::Empty("image_channels"));
        }
        if self.base_channels == 0 {
            return Err(UNetConfigError::Empty("base_channels"));
        }
        if self.channel_mults.is_empty() {
            return Err(UNetConfigError::Empty("the number of channel_mults"));
        }
        if self.channel_mults.contains(&0) {
            return Err(UNetConfigError::Empty("every channel multiplier"));
        }
        if self.num_res_blocks == 0 {
            return Err(UNetConfigError::Empty("num_res_blocks"));
        }
        if self.norm_groups == 0 {
            return Err(UNetConfigError::Empty("norm_groups"));
        }
        if self.patch() == 0 {
            return Err(UNetConfigError::Empty("patch_size"));
        }
        if self.num_classes == Some(0) {
            return Err(UNetConfigError::Empty("num_classes"));
        }
        if self.base_channels < 4 || !self.base_channels.is_multiple_of(2) {
            return Err(UNetConfigError::EmbeddingDim(self.base_channels));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(UNetConfigError::Dropout(self.dropout));
        }
        let halvings = self.channel_mults.len() - 1;
        let divisor = 1usize << halvings;
        let patch = self.patch();
        if self.image_size == 0 || !self.image_size.is_multiple_of(patch * divisor) {
            return Err(UNetConfigError::ImageSizeNotDivisible {
                image_size: self.image_size,
                patch_size: patch,
                halvings,
                divisor: patch * divisor,
            });
        }
        for level in 0..self.channel_mults.len() {
            let channels = self.level_channels(level);
            if !channels.is_multiple_of(self.norm_groups) {
                return Err(UNetConfigError::GroupsDoNotDivide {
                    what: format!("level {level}"),
                    channels,
                    groups: self.norm_groups,
                });
            }
        }
        if !self.base_channels.is_multiple_of(self.norm_groups) {
            return Err(UNetConfigError::GroupsDoNotDivide {
                what: "conv_in".into(),
                channels: self.base_channels,
                groups: self.norm_groups,
            });
        }
        let levels = self.resolutions();
        for &resolution in &self.attention_resolutions {
            if !levels.contains(&resolution) {
                return Err(UNetConfigError::AttentionResolution { resolution, levels });
            }
        }
        Ok(())
    }

    /// Validates, then builds a freshly initialised network on `device`.
    ///
    /// # Errors
    /// See [`UNetConfig::validate`].
    pub fn init(&self, device: &Device) -> Result<UNet, UNetConfigError> {
        self.validate()?;
        let temb_dim = 4 * self.base_channels;
        let groups = self.norm_groups;
        let levels = self.channel_mults.len();
        let resolutions = self.resolutions();
        let res_block =
            |c_in, c_out| ResidualBlock::new(c_in, c_out, temb_dim, groups, self.dropout, device);

        let mut skips = vec![self.base_channels];
        let mut channels = self.base_channels;
        let mut down = Vec::with_capacity(levels);
        for (level, &resolution) in resolutions.iter().enumerate() {
            let c_out = self.level_channels(level);
            let with_attention = self.attention_resolutions.contains(&resolution);
            let mut blocks = Vec::new();
            let mut attentions = Vec::new();
            for _ in 0..self.num_res_blocks {
                blocks.push(res_block(channels, c_out));
                channels = c_out;
                if with_attention {
                    attentions.push(AttentionBlock::new(channels, groups, device));
                }
                skips.push(channels);
            }
            let downsample = (level + 1 < levels).then(|| {
                skips.push(channels);
                conv3x3(channels, channels, 2, device)
            });
            down.push(DownLevel {
                blocks,
                attentions,
                downsample,
            });
        }

        let mid_block_1 = res_block(channels, channels);
        let mid_attention = AttentionBlock::new(channels, groups, device);
        let mid_block_2 = res_block(channels, channels);

        let mut up = Vec::with_capacity(levels);
        for (level, &resolution) in resolutions.iter().enumerate().rev() {
            let c_out = self.level_channels(level);
            let with_attention = self.attention_resolutions.contains(&resolution);
            let mut blocks = Vec::new();
            let mut attentions = Vec::new();
            for _ in 0..=self.num_res_blocks {
                let skip = skips.pop().expect("one skip per up block");
                blocks.push(res_block(channels + skip, c_out));
                channels = c_out;
                if with_attention {
                    attentions.push(AttentionBlock::new(channels, groups, device));
                }
            }
            let upsample = (level > 0).then(|| conv3x3(channels, channels, 1, device));
            up.push(UpLevel {
                blocks,
                attentions,
                upsample,
            });
        }
        debug_assert!(skips.is_empty());

        let patch_channels = self.image_channels * self.patch() * self.patch();
        Ok(UNet {
            time_embedding: TimeEmbedding::new(self.base_channels, device),
            label_embedding: self
                .num_classes
                .map(|n| LabelEmbedding::new(n, temb_dim, device)),
            patch_size: self.patch(),
            conv_in: conv3x3(patch_channels, self.base_channels, 1, device),
            down,
            mid_block_1,
            mid_attention,
            mid_block_2,
            up,
            norm_out: GroupNormConfig::new(groups, channels).init(device),
            conv_out: conv3x3(channels, patch_channels, 1, device),
        })
    }
}

/// A 3x3 convolution with padding 1 (same size at stride 1, half size at stride 2).
fn conv3x3(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// A 1x1 convolution ("network in network" in Ho et al.'s code).
fn conv1x1(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [1, 1]).init(device)
}

// ANCHOR: residual_block
/// GroupNorm -> SiLU -> conv3x3 -> + Linear(SiLU(temb)) -> GroupNorm -> SiLU -> Dropout ->
/// conv3x3, plus the input (through a 1x1 conv when the channel count changes).
#[derive(Module, Debug)]
pub struct ResidualBlock {
    norm_1: GroupNorm,
    conv_1: Conv2d,
    time_projection: Linear,
    norm_2: GroupNorm,
    dropout: Dropout,
    conv_2: Conv2d,
    skip: Option<Conv2d>,
}

impl ResidualBlock {
    fn new(
        c_in: usize,
        c_out: usize,
        temb: usize,
        groups: usize,
        dropout: f64,
        device: &Device,
    ) -> Self {
        Self {
            norm_1: GroupNormConfig::new(groups, c_in).init(device),
            conv_1: conv3x3(c_in, c_out, 1, device),
            time_projection: LinearConfig::new(temb, c_out).init(device),
            norm_2: GroupNormConfig::new(groups, c_out).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            conv_2: conv3x3(c_out, c_out, 1, device),
            skip: (c_in != c_out).then(|| conv1x1(c_in, c_out, device)),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, c_in, h, w]`, `temb`: `[batch, temb]`; returns `[batch, c_out, h, w]`
    pub fn forward(&self, x: Tensor<4>, temb: Tensor<2>) -> Tensor<4> {
        let h = conv2d(&self.conv_1, group_norm(&self.norm_1, x.clone(), true)); // [b, c_out, h, w]
        let [batch, channels, _, _] = h.dims();
        let t = self.time_projection.forward(silu(temb)); // [b, c_out]
        let h = h + t.reshape([batch, channels, 1, 1]); // broadcast over h, w
        let h = group_norm(&self.norm_2, h, true);
        let h = conv2d(&self.conv_2, dropout(&self.dropout, h)); // [b, c_out, h, w]
        let x = match &self.skip {
            Some(skip) => conv2d(skip, x), // [b, c_out, h, w]
            None => x,
        };
        x + h
    }
}
// ANCHOR_END: residual_block

// ANCHOR: attention_block
/// Single-head self-attention over the `h * w` positions, with a residual connection:
/// $x + W_o\,V\,\mathrm{softmax}(Q^\top K / \sqrt{c})^\top$, where $Q, K, V$ are 1x1 convs of
/// `GroupNorm(x)`.
#[derive(Module, Debug)]
pub struct AttentionBlock {
    norm: GroupNorm,
    query: Conv2d,
    key: Conv2d,
    value: Conv2d,
    out: Conv2d,
}

impl AttentionBlock {
    /// A freshly initialised block, for `ddpm bench --ops` (the U-Net builds its own).
    pub fn new_for_bench(channels: usize, groups: usize, device: &Device) -> Self {
        Self::new(channels, groups, device)
    }

    fn new(channels: usize, groups: usize, device: &Device) -> Self {
        Self {
            norm: GroupNormConfig::new(groups, channels).init(device),
            query: conv1x1(channels, channels, device),
            key: conv1x1(channels, channels, device),
            value: conv1x1(channels, channels, device),
            out: conv1x1(channels, channels, device),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, c, h, w]`; returns the same shape.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, c, height, width] = x.dims();
        let n = height * width;
        let h = group_norm(&self.norm, x.clone(), false);
        let q = conv2d(&self.query, h.clone()).reshape([batch, c, n]); // [b, c, n]
        let k = conv2d(&self.key, h.clone()).reshape([batch, c, n]); // [b, c, n]
        let v = conv2d(&self.value, h).reshape([batch, c, n]); // [b, c, n]
        let scores = q
            .swap_dims(1, 2)
            .matmul(k)
            .mul_scalar((c as f64).powf(-0.5)); // [b, n(q), n(k)]
        let weights = softmax(scores, 2); // each query's weights over keys sum to 1
        let h = v.matmul(weights.swap_dims(1, 2)); // [b, c, n(q)]
        x + conv2d(&self.out, h.reshape([batch, c, height, width]))
    }
}
// ANCHOR_END: attention_block

/// One resolution level of the down path.
#[derive(Module, Debug)]
pub struct DownLevel {
    blocks: Vec<ResidualBlock>,
    /// One per block at attention resolutions, empty elsewhere.
    attentions: Vec<AttentionBlock>,
    /// Stride-2 conv; `None` on the last level.
    downsample: Option<Conv2d>,
}

/// One resolution level of the up path.
#[derive(Module, Debug)]
pub struct UpLevel {
    blocks: Vec<ResidualBlock>,
    attentions: Vec<AttentionBlock>,
    /// Conv after nearest x2 upsampling; `None` on the top level.
    upsample: Option<Conv2d>,
}

/// Nearest-neighbour x2 upsampling written with reshape + expand (every backend has them).
///
/// # Shapes
/// - `x`: `[batch, c, h, w]`; returns `[batch, c, 2h, 2w]`
pub fn upsample_nearest_2x(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, 2, w, 2]) // each pixel copied into a 2x2 patch
        .reshape([b, c, 2 * h, 2 * w])
}

// ANCHOR: patches
/// Cuts each `p` x `p` patch of the image into `p * p` channels: pixel `(y p + i, x p + j)` of
/// channel `c` becomes pixel `(y, x)` of channel `c p^2 + i p + j`. Undone by [`depth_to_space`].
///
/// # Shapes
/// - `x`: `[batch, c, h, w]` with `h`, `w` multiples of `p`; returns `[batch, c p^2, h/p, w/p]`
///
/// # Panics
/// When `p` is 0 or does not divide `h` and `w` (a shape error, like a tensor op's; the U-Net
/// only calls it with sizes [`UNetConfig::validate`] has checked).
pub fn space_to_depth(x: Tensor<4>, p: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    assert!(
        p > 0 && h % p == 0 && w % p == 0,
        "space_to_depth: a {h}x{w} image cannot be cut into {p}x{p} patches; \
         use a patch side that divides both"
    );
    x.reshape([b, c, h / p, p, w / p, p]) // [b, c, y, i, x, j]
        .permute([0, 1, 3, 5, 2, 4]) // [b, c, i, j, y, x]
        .reshape([b, c * p * p, h / p, w / p])
}

/// The inverse of [`space_to_depth`]: `p * p` channels back into `p` x `p` patches.
///
/// # Shapes
/// - `x`: `[batch, c p^2, h, w]`; returns `[batch, c, h p, w p]`
///
/// # Panics
/// When `p` is 0 or the channel count is not a multiple of `p * p`.
pub fn depth_to_space(x: Tensor<4>, p: usize) -> Tensor<4> {
    let [b, cpp, h, w] = x.dims();
    assert!(
        p > 0 && cpp % (p * p) == 0,
        "depth_to_space: {cpp} channels cannot be {p}x{p} patches; \
         give a multiple of {} channels",
        p * p
    );
    let c = cpp / (p * p);
    x.reshape([b, c, p, p, h, w]) // [b, c, i, j, y, x]
        .permute([0, 1, 4, 2, 5, 3]) // [b, c, y, i, x, j]
        .reshape([b, c, h * p, w * p])
}
// ANCHOR_END: patches

/// The noise-prediction network $\epsilon_\theta(x_t, t)$.
#[derive(Module, Debug)]
pub struct UNet {
    pub(super) time_embedding: TimeEmbedding,
    /// A class-conditional network's label embedding (chapter 18); `None` when unconditional.
    pub(super) label_embedding: Option<LabelEmbedding>,
    /// [`UNetConfig::patch_size`] (1: the image enters as it is).
    patch_size: usize,
    conv_in: Conv2d,
    down: Vec<DownLevel>,
    mid_block_1: ResidualBlock,
    mid_attention: AttentionBlock,
    mid_block_2: ResidualBlock,
    /// Deepest level first (the order they run in).
    up: Vec<UpLevel>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl UNet {
    // ANCHOR: unet_forward
    /// Predicts the noise in `x_t` at timestep `t` (Ho et al. 2020, Eq. (14), $\epsilon_\theta$).
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, size, size]`
    /// - `t`: `[batch]`, timesteps $1..=T$ as floats
    /// - returns `[batch, channels, size, size]`
    pub fn forward(&self, x: Tensor<4>, t: Tensor<1>) -> Tensor<4> {
        self.forward_traced(x, t, None)
    }

    /// [`UNet::forward`], recording `(stage, shape)` after each stage when `trace` is given.
    pub fn forward_traced(
        &self,
        x: Tensor<4>,
        t: Tensor<1>,
        trace: Option<&mut Vec<(String, [usize; 4])>>,
    ) -> Tensor<4> {
        self.forward_embedded(x, self.time_embedding.forward(t), trace)
    }

    /// The network after the timestep embedding: `temb` (`[batch, 4 base]`) is what every
    /// residual block receives ([`UNet::forward`] passes the timestep embedding,
    /// [`UNet::forward_conditional`] adds the label embedding to it).
    pub fn forward_embedded(
        &self,
        x: Tensor<4>,
        temb: Tensor<2>,
        mut trace: Option<&mut Vec<(String, [usize; 4])>>,
    ) -> Tensor<4> {
        let mut record = |stage: &dyn Fn() -> String, h: &Tensor<4>| {
            if let Some(trace) = trace.as_deref_mut() {
                trace.push((stage(), h.dims()));
            }
        };
        let p = self.patch_size;
        let x = if p > 1 { space_to_depth(x, p) } else { x }; // [b, p^2, 28/p, 28/p]
        let mut h = conv2d(&self.conv_in, x); // [b, base, 28, 28] without patches
        record(&|| "conv_in".into(), &h);
        let mut skips = vec![h.clone()];
        for (l, level) in self.down.iter().enumerate() {
            for (i, block) in level.blocks.iter().enumerate() {
                h = block.forward(h, temb.clone()); // [b, c_level, s, s]
                if let Some(attention) = level.attentions.get(i) {
                    h = attention.forward(h);
                }
                record(&|| format!("down{l}.block{i}"), &h);
                skips.push(h.clone());
            }
            if let Some(downsample) = &level.downsample {
                h = conv2d(downsample, h); // [b, c_level, s/2, s/2]
                record(&|| format!("down{l}.downsample"), &h);
                skips.push(h.clone());
            }
        }
        h = self.mid_block_1.forward(h, temb.clone()); // [b, c_last, 7, 7] in `paper`
        h = self.mid_attention.forward(h);
        h = self.mid_block_2.forward(h, temb.clone());
        record(&|| "middle".into(), &h);
        let levels = self.up.len();
        for (k, level) in self.up.iter().enumerate() {
            let l = levels - 1 - k;
            for (i, block) in level.blocks.iter().enumerate() {
                let skip = skips.pop().expect("one skip per up block");
                h = block.forward(Tensor::cat(vec![h, skip], 1), temb.clone()); // [b, c_level, s, s]
                if let Some(attention) = level.attentions.get(i) {
                    h = attention.forward(h);
                }
                record(&|| format!("up{l}.block{i}"), &h);
            }
            if let Some(upsample) = &level.upsample {
                h = conv2d(upsample, upsample_nearest_2x(h)); // [b, c_level, 2s, 2s]
                record(&|| format!("up{l}.upsample"), &h);
            }
        }
        let h = group_norm(&self.norm_out, h, true); // [b, base, 28, 28]
        let out = conv2d(&self.conv_out, h); // [b, 1, 28, 28] without patches
        let out = if p > 1 { depth_to_space(out, p) } else { out };
        record(&|| "conv_out".into(), &out);
        out
    }
    // ANCHOR_END: unet_forward
}
