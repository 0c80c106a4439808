//! The CPU fast path's arithmetic (chapter 14, "A faster CPU step"): 2-D convolution and
//! GroupNorm (with an optional SiLU) forward and backward, on `f32` slices in NCHW layout.
//! No burn types here: [`super::fast`] moves burn's `flex` tensors in and out and records the
//! backward pass for autodiff; `tests/fast_ops.rs` checks every function against burn's own
//! operations and against finite differences.
//!
//! A convolution is one matrix product per image (im2col): the `c_in k k` input values under
//! each output pixel's window become a column of `cols` `[c_in k k, h_out w_out]`, and
//! `out = W cols + b` with `W` the weights as a `[c_out, c_in k k]` matrix. Its gradients are
//! two more products: `dW = sum_images dout cols^T` and `dcols = W^T dout`, which col2im adds
//! back onto the input pixels they came from. All three products go to the `gemm` crate (the
//! kernels burn's `flex` backend uses for its matmul); burn's own backward pass computes the
//! input gradient with a direct transposed-convolution loop instead.

use rayon::prelude::*;

/// Defines `fn $name(args) -> ret` that runs `$body` compiled for the best instruction set the
/// CPU has: AVX-512 or AVX2 with FMA, chosen at run time, else the baseline the crate is built
/// for (x86-64's SSE2, 4 lanes wide). The element loops below are written so the compiler
/// vectorises them; the instruction set decides how wide.
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v4($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v3($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU has every feature `v4` is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has every feature `v3` is compiled for.
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// The shapes of one 2-D convolution: square kernel, same stride and padding on both axes,
/// one group, no dilation (every convolution of the U-Net and the classifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Stride on both axes.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
}

impl ConvGeometry {
    /// Output height, `(h + 2p - k) / s + 1`.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Output width, `(w + 2p - k) / s + 1`.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Whether the shapes make sense: every size positive and the kernel fits the padded image.
    pub fn is_valid(&self) -> bool {
        self.batch > 0
            && self.c_in > 0
            && self.c_out > 0
            && self.kernel > 0
            && self.stride > 0
            && self.height + 2 * self.padding >= self.kernel
            && self.width + 2 * self.padding >= self.kernel
    }

    /// Rows of `cols`: `c_in k k`.
    fn window(&self) -> usize {
        self.c_in * self.kernel * self.kernel
    }

    /// Output pixels per image.
    fn pixels_out(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Values of one input image.
    pub fn input_len(&self) -> usize {
        self.c_in * self.height * self.width
    }

    /// Values of one output image.
    pub fn output_len(&self) -> usize {
        self.c_out * self.pixels_out()
    }

    /// Values of the weight tensor `[c_out, c_in, k, k]`.
    pub fn weight_len(&self) -> usize {
        self.c_out * self.window()
    }

    /// A 1x1 convolution with stride 1 and no padding: the image itself is `cols`.
    fn is_pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == 0
    }

    /// Output pixel range `[first, end)` along an axis of `size` input pixels whose window
    /// offset is `offset` (`ky` or `kx`): the outputs that read a real pixel, not padding.
    fn valid_range(&self, size: usize, out: usize, offset: usize) -> (usize, usize) {
        // input index = o s + offset - p must lie in [0, size)
        let (s, p) = (self.stride, self.padding);
        let first = if offset >= p {
            0
        } else {
            (p - offset).div_ceil(s)
        };
        let end = if size + p > offset {
            ((size + p - offset - 1) / s + 1).min(out)
        } else {
            0
        };
        (first.min(end), end)
    }
}

/// `cols[(c k + ky) k + kx, oy w_out + ox] = x[c, oy s + ky - p, ox s + kx - p]` (0 in the
/// padding) for one image.
pub fn im2col(g: &ConvGeometry, x: &[f32], cols: &mut [f32]) {
    let (h, w, k, s, p) = (g.height, g.width, g.kernel, g.stride, g.padding);
    let (ho, wo) = (g.out_height(), g.out_width());
    let n = ho * wo;
    assert_eq!(x.len(), g.input_len(), "im2col: input length");
    assert_eq!(cols.len(), g.window() * n, "im2col: cols length");
    for c in 0..g.c_in {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for ky in 0..k {
            let (oy0, oy1) = g.valid_range(h, ho, ky);
            for kx in 0..k {
                let (ox0, ox1) = g.valid_range(w, wo, kx);
                let row = &mut cols[((c * k + ky) * k + kx) * n..][..n];
                row[..oy0 * wo].fill(0.0);
                row[oy1 * wo..].fill(0.0);
                for oy in oy0..oy1 {
                    let src = &plane[(oy * s + ky - p) * w..][..w];
                    let dst = &mut row[oy * wo..(oy + 1) * wo];
                    dst[..ox0].fill(0.0);
                    dst[ox1..].fill(0.0);
                    if ox1 > ox0 {
                        let ix0 = ox0 * s + kx - p;
                        if s == 1 {
                            dst[ox0..ox1].copy_from_slice(&src[ix0..ix0 + (ox1 - ox0)]);
                        } else {
                            for (o, d) in dst[ox0..ox1].iter_mut().enumerate() {
                                *d = src[ix0 + o * s];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every entry of `cols` onto the input pixel it was copied
/// from (`dx` must hold the values to add onto, usually zeros).
pub fn col2im(g: &ConvGeometry, cols: &[f32], dx: &mut [f32]) {
    let (h, w, k, s, p) = (g.height, g.width, g.kernel, g.stride, g.padding);
    let (ho, wo) = (g.out_height(), g.out_width());
    let n = ho * wo;
    assert_eq!(dx.len(), g.input_len(), "col2im: input length");
    assert_eq!(cols.len(), g.window() * n, "col2im: cols length");
    for c in 0..g.c_in {
        let plane = &mut dx[c * h * w..(c + 1) * h * w];
        for ky in 0..k {
            let (oy0, oy1) = g.valid_range(h, ho, ky);
            for kx in 0..k {
                let (ox0, ox1) = g.valid_range(w, wo, kx);
                if ox1 <= ox0 {
                    continue;
                }
                let row = &cols[((c * k + ky) * k + kx) * n..][..n];
                for oy in oy0..oy1 {
                    let dst = &mut plane[(oy * s + ky - p) * w..][..w];
                    let src = &row[oy * wo + ox0..oy * wo + ox1];
                    let ix0 = ox0 * s + kx - p;
                    if s == 1 {
                        for (d, v) in dst[ix0..ix0 + src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (o, v) in src.iter().enumerate() {
                            dst[ix0 + o * s] += v;
                        }
                    }
                }
            }
        }
    }
}

/// A row-major or transposed view of a matrix inside a slice: element `(i, j)` is at
/// `i * row_stride + j * col_stride`.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// `rows x cols` stored row by row.
    fn rows(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of a `cols x rows` matrix stored row by row.
    fn transposed(data: &'a [f32], rows: usize) -> Self {
        Self {
            data,
            row_stride: 1,
            col_stride: rows,
        }
    }

    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.data.len()
    }
}

/// `dst [m, n] = lhs [m, k] rhs [k, n]`, plus what `dst` holds when `accumulate`; `dst` is
/// row-major. A safe front for `gemm::gemm`: it checks that every index lies inside its slice.
fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
    threads: usize,
) {
    assert!(m * n <= dst.len(), "matmul: destination too short");
    assert!(
        lhs.fits(m, k) && rhs.fits(k, n),
        "matmul: operand too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above keep every element gemm reads or writes inside its slice;
    // dst is borrowed mutably, so it cannot alias lhs or rhs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// How to spread a batch over the threads: images in parallel (each product on one thread)
/// when there are at least as many images as threads, else one image at a time with each
/// product spread over the threads.
fn plan(batch: usize) -> (usize, usize) {
    let threads = rayon::current_num_threads().max(1);
    if batch >= threads {
        (threads, 1)
    } else {
        (1, threads)
    }
}

// ANCHOR: conv2d_forward
/// The forward convolution: `out[b] = W im2col(x[b]) + bias`, `[batch, c_out, h_out, w_out]`.
///
/// # Panics
/// When `g` is not [`ConvGeometry::is_valid`] or a slice length does not match it (the
/// callers build `g` from the tensors' shapes and check it).
pub fn conv2d_forward(
    g: &ConvGeometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    assert!(g.is_valid(), "conv2d_forward: invalid geometry {g:?}");
    assert_eq!(
        x.len(),
        g.batch * g.input_len(),
        "conv2d_forward: input length"
    );
    assert_eq!(
        weight.len(),
        g.weight_len(),
        "conv2d_forward: weight length"
    );
    if let Some(b) = bias {
        assert_eq!(b.len(), g.c_out, "conv2d_forward: bias length");
    }
    let (n, window) = (g.pixels_out(), g.window());
    let mut out = vec![0.0f32; g.batch * g.output_len()];
    let (_, gemm_threads) = plan(g.batch);
    let one = |x_b: &[f32], out_b: &mut [f32], cols: &mut Vec<f32>| {
        let accumulate = match bias {
            Some(b) => {
                for (row, &v) in out_b.chunks_exact_mut(n).zip(b) {
                    row.fill(v);
                }
                true
            }
            None => false,
        };
        let cols: &[f32] = if g.is_pointwise() {
            x_b
        } else {
            cols.resize(window * n, 0.0);
            im2col(g, x_b, cols);
            cols
        };
        matmul(
            (g.c_out, n, window),
            out_b,
            accumulate,
            View::rows(weight, window),
            View::rows(cols, n),
            gemm_threads,
        );
    };
    if gemm_threads == 1 {
        out.par_chunks_mut(g.output_len())
            .zip(x.par_chunks(g.input_len()))
            .for_each_init(Vec::new, |cols, (out_b, x_b)| one(x_b, out_b, cols));
    } else {
        let mut cols = Vec::new();
        for (out_b, x_b) in out.chunks_mut(g.output_len()).zip(x.chunks(g.input_len())) {
            one(x_b, out_b, &mut cols);
        }
    }
    out
}
// ANCHOR_END: conv2d_forward

/// The gradients of [`conv2d_forward`] with respect to its input (when asked for), its
/// weights and its bias.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvGradients {
    /// `[batch, c_in, h, w]`, `None` when not asked for.
    pub input: Option<Vec<f32>>,
    /// `[c_out, c_in, k, k]`.
    pub weight: Vec<f32>,
    /// `[c_out]`.
    pub bias: Vec<f32>,
}

/// The backward convolution, given `dout = dL/d out`: `dW = sum_b dout[b] im2col(x[b])^T`,
/// `db = sum_b, pixels dout`, and (when `input_grad`) `dx[b] = col2im(W^T dout[b])`.
///
/// # Panics
/// When a slice length does not match `g`.
pub fn conv2d_backward(
    g: &ConvGeometry,
    x: &[f32],
    weight: &[f32],
    dout: &[f32],
    input_grad: bool,
) -> ConvGradients {
    assert!(g.is_valid(), "conv2d_backward: invalid geometry {g:?}");
    assert_eq!(
        x.len(),
        g.batch * g.input_len(),
        "conv2d_backward: input length"
    );
    assert_eq!(
        weight.len(),
        g.weight_len(),
        "conv2d_backward: weight length"
    );
    assert_eq!(
        dout.len(),
        g.batch * g.output_len(),
        "conv2d_backward: gradient length"
    );
    let (n, window) = (g.pixels_out(), g.window());
    let (chunks, gemm_threads) = plan(g.batch);
    let per_chunk = g.batch.div_ceil(chunks);
    let mut dx = vec![0.0f32; if input_grad { x.len() } else { 0 }];
    let dx_chunks: Vec<&mut [f32]> = if input_grad {
        dx.chunks_mut(per_chunk * g.input_len()).collect()
    } else {
        (0..g.batch.div_ceil(per_chunk))
            .map(|_| <&mut [f32]>::default())
            .collect()
    };
    // Each chunk of images: its own partial dW and db, and its images' dx.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_chunks
        .into_par_iter()
        .enumerate()
        .map(|(chunk, dx_chunk)| {
            let mut dw = vec![0.0f32; g.weight_len()];
            let mut db = vec![0.0f32; g.c_out];
            let mut cols = vec![0.0f32; if g.is_pointwise() { 0 } else { window * n }];
            let mut dcols = vec![0.0f32; if g.is_pointwise() { 0 } else { window * n }];
            let first = chunk * per_chunk;
            let last = (first + per_chunk).min(g.batch);
            for (i, b) in (first..last).enumerate() {
                let x_b = &x[b * g.input_len()..(b + 1) * g.input_len()];
                let dout_b = &dout[b * g.output_len()..(b + 1) * g.output_len()];
                for (d, row) in db.iter_mut().zip(dout_b.chunks_exact(n)) {
                    *d += row.iter().sum::<f32>();
                }
                let cols_b: &[f32] = if g.is_pointwise() {
                    x_b
                } else {
                    im2col(g, x_b, &mut cols);
                    &cols
                };
                // dW [c_out, window] += dout_b [c_out, n] cols_b^T [n, window]
                matmul(
                    (g.c_out, window, n),
                    &mut dw,
                    i > 0,
                    View::rows(dout_b, n),
                    View::transposed(cols_b, n),
                    gemm_threads,
                );
                if input_grad {
                    let dx_b = &mut dx_chunk[i * g.input_len()..(i + 1) * g.input_len()];
                    // dcols [window, n] = W^T [window, c_out] dout_b [c_out, n]
                    let target: &mut [f32] = if g.is_pointwise() { dx_b } else { &mut dcols };
                    matmul(
                        (window, n, g.c_out),
                        target,
                        false,
                        View::transposed(weight, window),
                        View::rows(dout_b, n),
                        gemm_threads,
                    );
                    if !g.is_pointwise() {
                        col2im(g, &dcols, dx_b);
                    }
                }
            }
            (dw, db)
        })
        .collect();
    let mut weight_grad = vec![0.0f32; g.weight_len()];
    let mut bias_grad = vec![0.0f32; g.c_out];
    for (dw, db) in partials {
        for (a, v) in weight_grad.iter_mut().zip(dw) {
            *a += v;
        }
        for (a, v) in bias_grad.iter_mut().zip(db) {
            *a += v;
        }
    }
    ConvGradients {
        input: input_grad.then_some(dx),
        weight: weight_grad,
        bias: bias_grad,
    }
}

/// The shapes of one GroupNorm: `[batch, channels, pixels]` with the channels cut into
/// `groups` equal groups, each normalised over its channels and pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Groups (dividing `channels`).
    pub groups: usize,
    /// Pixels per channel (`h w`).
    pub pixels: usize,
    /// Added to the variance before the square root.
    pub epsilon: f64,
}

impl NormGeometry {
    /// Whether the shapes make sense: sizes positive, groups dividing the channels.
    pub fn is_valid(&self) -> bool {
        self.batch > 0
            && self.channels > 0
            && self.groups > 0
            && self.pixels > 0
            && self.channels.is_multiple_of(self.groups)
    }

    fn image_len(&self) -> usize {
        self.channels * self.pixels
    }

    fn group_len(&self) -> usize {
        self.image_len() / self.groups
    }

    fn group_channels(&self) -> usize {
        self.channels / self.groups
    }
}

/// Lanes of the vectorised sums below: 16 `f32`s fill one AVX-512 register (two AVX2 ones).
const LANES: usize = 16;
/// Values each lane adds in `f32` before the block's sum moves to `f64` (so a lane's rounding
/// error stays near `BLOCK / LANES` ulps whatever the group's size).
const BLOCK: usize = 16 * LANES;

/// `sum f(v)` over `values`: `f32` sums in [`LANES`] independent lanes (which the compiler
/// turns into SIMD adds; a single running sum is one dependent add per value and cannot be
/// vectorised), each block's lanes summed in `f64`.
#[inline(always)]
fn lane_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut total = 0.0f64;
    for block in values.chunks(BLOCK) {
        let mut acc = [0.0f32; LANES];
        let mut chunks = block.chunks_exact(LANES);
        for chunk in &mut chunks {
            for (a, &v) in acc.iter_mut().zip(chunk) {
                *a += f(v);
            }
        }
        total += acc.iter().map(|&a| a as f64).sum::<f64>();
        total += chunks.remainder().iter().map(|&v| f(v) as f64).sum::<f64>();
    }
    total
}

/// `(sum a_i, sum a_i b_i)` over two equally long slices, in lanes like [`lane_sum`].
#[inline(always)]
fn lane_sums2(a: &[f32], b: &[f32]) -> (f64, f64) {
    let (mut total_a, mut total_ab) = (0.0f64, 0.0f64);
    for (block_a, block_b) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let (mut acc_a, mut acc_ab) = ([0.0f32; LANES], [0.0f32; LANES]);
        let (mut chunks_a, mut chunks_b) =
            (block_a.chunks_exact(LANES), block_b.chunks_exact(LANES));
        for (ca, cb) in (&mut chunks_a).zip(&mut chunks_b) {
            for l in 0..LANES {
                acc_a[l] += ca[l];
                acc_ab[l] += ca[l] * cb[l];
            }
        }
        total_a += acc_a.iter().map(|&v| v as f64).sum::<f64>();
        total_ab += acc_ab.iter().map(|&v| v as f64).sum::<f64>();
        for (&va, &vb) in chunks_a.remainder().iter().zip(chunks_b.remainder()) {
            total_a += va as f64;
            total_ab += (va * vb) as f64;
        }
    }
    (total_a, total_ab)
}

/// Mean and `1 / sqrt(var + eps)` of one group's values (two passes: the mean, then the
/// squared deviations from it).
#[inline(always)]
fn moments(values: &[f32], epsilon: f64) -> (f32, f32) {
    let m = values.len() as f64;
    let mean = lane_sum(values, |v| v) / m;
    let mean_f32 = mean as f32;
    // The deviations in f32 (so they vectorise), the mean's rounding corrected in f64.
    let var = lane_sum(values, |v| {
        let d = v - mean_f32;
        d * d
    }) / m
        - (mean - mean_f32 as f64).powi(2);
    (mean_f32, (1.0 / (var.max(0.0) + epsilon).sqrt()) as f32)
}

/// `exp(x)` in `f32` without a library call, so that loops over it vectorise: `x = n ln 2 + r`
/// with `|r| <= ln 2 / 2`, `exp(r)` by Cephes' `expf` polynomial (relative error ~1e-7), times
/// `2^n` built from its exponent bits. Inputs are clamped to `[-87, 88]`, where `f32`'s
/// `exp` is finite and normal (the SiLU and its derivative below need no more).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts, so that `n ln2_hi` is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which rounds to 0.5 in f32
    let e_r = p * r * r + r + 1.0;
    // `shifted`'s bits are those of ROUND plus n in its low mantissa bits: integer arithmetic
    // on them gives 2^n's exponent field without a float-to-int conversion (which has no
    // vector instruction with Rust's saturating semantics).
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let two_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
    e_r * two_n
}

/// `1 / (1 + exp(-y))`.
#[inline(always)]
fn sigmoid(y: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-y))
}

/// GroupNorm with a per-channel scale and shift, then SiLU when `silu`:
/// `y = (x - mean_g) / sqrt(var_g + eps) * gamma_c + beta_c`, `out = y sigmoid(y)` (or `y`).
///
/// # Panics
/// When a slice length does not match `g`.
pub fn group_norm_forward(
    g: &NormGeometry,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    silu: bool,
) -> Vec<f32> {
    assert!(g.is_valid(), "group_norm_forward: invalid geometry {g:?}");
    assert_eq!(
        x.len(),
        g.batch * g.image_len(),
        "group_norm_forward: input length"
    );
    assert_eq!(gamma.len(), g.channels, "group_norm_forward: gamma length");
    assert_eq!(beta.len(), g.channels, "group_norm_forward: beta length");
    let mut out = vec![0.0f32; x.len()];
    let (cg, hw) = (g.group_channels(), g.pixels);
    out.par_chunks_mut(g.group_len())
        .zip(x.par_chunks(g.group_len()))
        .enumerate()
        .for_each(|(index, (out_g, x_g))| {
            let first_channel = (index % g.groups) * cg;
            let gamma = &gamma[first_channel..first_channel + cg];
            let beta = &beta[first_channel..first_channel + cg];
            norm_group(x_g, out_g, gamma, beta, hw, g.epsilon, silu);
        });
    out
}

multiversion! {
    /// One group of [`group_norm_forward`]: `cg` channels of `hw` pixels, their `gamma`, `beta`.
    fn norm_group(
        x_g: &[f32],
        out_g: &mut [f32],
        gamma: &[f32],
        beta: &[f32],
        hw: usize,
        epsilon: f64,
        silu: bool,
    ) {
        let (mean, rstd) = moments(x_g, epsilon);
        for (j, (&gamma_c, &beta_c)) in gamma.iter().zip(beta).enumerate() {
            let scale = rstd * gamma_c;
            let shift = beta_c - mean * scale;
            let src = &x_g[j * hw..(j + 1) * hw];
            let dst = &mut out_g[j * hw..(j + 1) * hw];
            if silu {
                for (d, &v) in dst.iter_mut().zip(src) {
                    let y = v * scale + shift;
                    *d = y * sigmoid(y);
                }
            } else {
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = v * scale + shift;
                }
            }
        }
    }
}

/// The gradients of [`group_norm_forward`] with respect to its input, `gamma` and `beta`.
#[derive(Debug, Clone, PartialEq)]
pub struct NormGradients {
    /// `[batch, channels, pixels]`.
    pub input: Vec<f32>,
    /// `[channels]`.
    pub gamma: Vec<f32>,
    /// `[channels]`.
    pub beta: Vec<f32>,
}

/// The backward pass of [`group_norm_forward`], given `dout = dL/d out`. With `xhat` the
/// normalised input and `dy` the gradient at `y` (through SiLU's derivative
/// `s (1 + y (1 - s))`, `s = sigmoid(y)`, when `silu`): `dbeta_c = sum dy`,
/// `dgamma_c = sum dy xhat`, and per group
/// `dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat))` with `dxhat = dy gamma_c`.
///
/// # Panics
/// When a slice length does not match `g`.
pub fn group_norm_backward(
    g: &NormGeometry,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    silu: bool,
    dout: &[f32],
) -> NormGradients {
    assert!(g.is_valid(), "group_norm_backward: invalid geometry {g:?}");
    assert_eq!(
        x.len(),
        g.batch * g.image_len(),
        "group_norm_backward: input length"
    );
    assert_eq!(dout.len(), x.len(), "group_norm_backward: gradient length");
    assert_eq!(gamma.len(), g.channels, "group_norm_backward: gamma length");
    assert_eq!(beta.len(), g.channels, "group_norm_backward: beta length");
    let mut dx = vec![0.0f32; x.len()];
    // Per image: dx, and the image's contribution to dgamma, dbeta.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(g.image_len())
        .zip(x.par_chunks(g.image_len()))
        .zip(dout.par_chunks(g.image_len()))
        .map(|((dx_b, x_b), dout_b)| norm_image_backward(g, x_b, dout_b, dx_b, gamma, beta, silu))
        .collect();
    let mut gamma_grad = vec![0.0f32; g.channels];
    let mut beta_grad = vec![0.0f32; g.channels];
    for (dgamma, dbeta) in partials {
        for (a, v) in gamma_grad.iter_mut().zip(dgamma) {
            *a += v;
        }
        for (a, v) in beta_grad.iter_mut().zip(dbeta) {
            *a += v;
        }
    }
    NormGradients {
        input: dx,
        gamma: gamma_grad,
        beta: beta_grad,
    }
}

multiversion! {
    /// One image of [`group_norm_backward`]: its `dx`, and its share of `dgamma`, `dbeta`.
    fn norm_image_backward(
        g: &NormGeometry,
        x_b: &[f32],
        dout_b: &[f32],
        dx_b: &mut [f32],
        gamma: &[f32],
        beta: &[f32],
        silu: bool,
    ) -> (Vec<f32>, Vec<f32>) {
        let (cg, hw) = (g.group_channels(), g.pixels);
        let mut dgamma = vec![0.0f32; g.channels];
        let mut dbeta = vec![0.0f32; g.channels];
        let mut dy = vec![0.0f32; g.group_len()];
        let mut xhat = vec![0.0f32; g.group_len()];
        for group in 0..g.groups {
            let range = group * g.group_len()..(group + 1) * g.group_len();
            let (x_g, dout_g) = (&x_b[range.clone()], &dout_b[range.clone()]);
            let (mean, rstd) = moments(x_g, g.epsilon);
            let (mut sum_dxhat, mut sum_dxhat_xhat) = (0.0f64, 0.0f64);
            for j in 0..cg {
                let c = group * cg + j;
                let (gamma_c, beta_c) = (gamma[c], beta[c]);
                let channel = j * hw..(j + 1) * hw;
                let (xhat_c, dy_c) =
                    (&mut xhat[channel.clone()], &mut dy[channel.clone()]);
                for ((xh, d), (&v, &grad)) in xhat_c
                    .iter_mut()
                    .zip(dy_c.iter_mut())
                    .zip(x_g[channel.clone()].iter().zip(&dout_g[channel]))
                {
                    *xh = (v - mean) * rstd;
                    *d = if silu {
                        let y = *xh * gamma_c + beta_c;
                        let s = sigmoid(y);
                        grad * s * (1.0 + y * (1.0 - s))
                    } else {
                        grad
                    };
                }
                let (sum_dy, sum_dy_xhat) = lane_sums2(dy_c, xhat_c);
                dbeta[c] += sum_dy as f32;
                dgamma[c] += sum_dy_xhat as f32;
                sum_dxhat += sum_dy * gamma_c as f64;
                sum_dxhat_xhat += sum_dy_xhat * gamma_c as f64;
            }
            let m = g.group_len() as f64;
            let (mean_dxhat, mean_dxhat_xhat) =
                ((sum_dxhat / m) as f32, (sum_dxhat_xhat / m) as f32);
            let dx_g = &mut dx_b[range];
            for j in 0..cg {
                let gamma_c = gamma[group * cg + j];
                let channel = j * hw..(j + 1) * hw;
                for ((d, &dyi), &xh) in dx_g[channel.clone()]
                    .iter_mut()
                    .zip(&dy[channel.clone()])
                    .zip(&xhat[channel])
                {
                    *d = rstd * (dyi * gamma_c - mean_dxhat - xh * mean_dxhat_xhat);
                }
            }
        }
        (dgamma, dbeta)
    }
}

/// Whether dropout keeps element `index` of the tensor whose mask is drawn from `seed`: the
/// top 32 bits of SplitMix64's output for the `index`-th step from `seed` (a counter-based
/// generator: every element's draw is independent of the others', so the mask is the same
/// whatever the order or the threads that compute it, and the backward pass recomputes it
/// from the seed instead of storing it), compared with `drop_below = p 2^32`.
#[inline(always)]
fn dropout_keeps(seed: u64, index: usize, drop_below: u64) -> bool {
    let mut z = seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 32) >= drop_below
}

/// Inverted dropout with probability `prob`: `out_i = x_i / (1 - prob)` where the mask drawn
/// from `seed` keeps element `i` (probability `1 - prob`), else 0. The backward pass is the
/// same map applied to the output's gradient with the same seed. Elements are spread over
/// the threads in blocks, each block's mask drawn by its elements' indices.
///
/// # Panics
/// When `prob` is not in `[0, 1)`.
pub fn dropout(values: &[f32], prob: f64, seed: u64) -> Vec<f32> {
    assert!(
        (0.0..1.0).contains(&prob),
        "dropout: probability {prob} outside [0, 1)"
    );
    let drop_below = (prob * 4_294_967_296.0).round() as u64;
    let scale = (1.0 / (1.0 - prob)) as f32;
    const BLOCK: usize = 1 << 14;
    let mut out = vec![0.0f32; values.len()];
    out.par_chunks_mut(BLOCK)
        .zip(values.par_chunks(BLOCK))
        .enumerate()
        .for_each(|(block, (out_b, x_b))| {
            dropout_block(x_b, out_b, block * BLOCK, seed, drop_below, scale)
        });
    out
}

multiversion! {
    /// [`dropout`] on the elements `first..first + x.len()` of the tensor.
    fn dropout_block(x: &[f32], out: &mut [f32], first: usize, seed: u64, drop_below: u64, scale: f32) {
        for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            let keep = dropout_keeps(seed, first + i, drop_below);
            *o = if keep { v * scale } else { 0.0 };
        }
    }
}
