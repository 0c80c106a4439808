//! The U-Net's hot operations on the CPU, written for this crate (chapter 14, "A faster CPU
//! step"): 2-D convolution, GroupNorm followed by SiLU, and dropout, forward and backward.
//!
//! burn lets a crate reach the backend's own tensors (`Tensor::try_into_primitive`, its
//! backend-extension API) and record its own backward step in the autodiff graph (the
//! `Backward` trait of `burn::backend::autodiff`). On the `flex` CPU backend, with or without
//! autodiff, [`conv2d`] and [`group_norm`] take that route into the kernels of
//! [`super::cpu_kernels`]; on any other device (wgpu, cuda), or for shapes the kernels do not
//! cover, they call burn's own modules, so the network computes the same function everywhere.
//! `tests/fast_ops.rs` checks values and gradients against burn's operations.
//!
//! [`set_enabled`] switches the route off for the whole process (`ddpm bench --burn-ops`
//! times burn's own operations that way, in the same run).

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{Flex, FlexTensor};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, DispatchDevice, GradientCheckpointingStrategy};
use burn::nn::{Dropout, GroupNorm, PaddingConfig2d, conv::Conv2d};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::activation::silu;

use super::cpu_kernels::{self, ConvGeometry, NormGeometry};

type AutodiffFlex = Autodiff<Flex>;

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the crate's CPU operations on (the default) or off for the whole process; off, every
/// layer runs burn's own operation. For benchmarks that compare the two.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether [`conv2d`] and [`group_norm`] take the crate's CPU kernels where they can.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Runs `f` on a thread of rayon's global pool, the threads the CPU kernels spread their loops
/// over, and returns its result; on such a thread already, runs it in place.
///
/// A kernel called from a thread outside the pool hands its parts to the pool and sleeps until
/// they are done: a wake-up and a sleep per operation, hundreds per training step. Called from
/// a pool thread, it queues its parts there and runs them itself unless another thread is
/// idle. `ddpm` runs every CPU command this way (chapter 14, "Where the two threads waited",
/// gives the step times before and after). Inside `f`, code must not block on a thread outside the pool that
/// itself waits for the pool (a one-thread pool would never run that thread's work).
pub fn on_kernel_threads<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// Whether [`conv2d`] and [`group_norm`] use the crate's kernels for tensors on `device`
/// (the `flex` CPU backend, with or without autodiff, while [`enabled`]).
pub fn takes_fast_path(device: &Device) -> bool {
    route(device) != Route::Other
}

/// Where a tensor on `device` can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// burn's `flex` CPU backend, no autodiff: forward kernels only.
    Flex,
    /// `flex` under autodiff without gradient checkpointing: forward kernels, and a backward
    /// step recorded in the graph.
    AutodiffFlex,
    /// Anything else: burn's own operation.
    Other,
}

fn route(device: &Device) -> Route {
    if !enabled() {
        return Route::Other;
    }
    match device.as_dispatch() {
        DispatchDevice::Flex(_) => Route::Flex,
        DispatchDevice::Autodiff(inner) => {
            match (&**inner, inner.gradient_checkpointing_strategy()) {
                (DispatchDevice::Flex(_), GradientCheckpointingStrategy::Disabled) => {
                    Route::AutodiffFlex
                }
                _ => Route::Other,
            }
        }
        #[allow(unreachable_patterns)]
        _ => Route::Other,
    }
}

/// The f32 values of a flex tensor in row-major order (a copy only when its layout is not
/// contiguous).
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("a contiguous f32 tensor (made so by `contiguous`)")
}

fn flex_tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

fn into_flex<const D: usize>(t: Tensor<D>) -> FlexTensor {
    contiguous(
        t.try_into_primitive::<Flex>()
            .expect("routed to flex: the tensor lives on the flex backend"),
    )
}

fn into_autodiff<const D: usize>(t: Tensor<D>) -> FloatTensor<AutodiffFlex> {
    t.try_into_primitive::<AutodiffFlex>()
        .expect("routed to autodiff flex: the tensor lives on Autodiff<Flex>")
}

// ---------------------------------------------------------------------------------------
// Convolution

/// The kernels' geometry for `conv` applied to a tensor of shape `[b, c, h, w]`, when they
/// cover it: a square kernel with one stride and one symmetric padding for both axes, one
/// group, no dilation, a bias, f32 values.
fn conv_geometry(conv: &Conv2d, x: &Tensor<4>) -> Option<ConvGeometry> {
    let [batch, c_in, height, width] = x.dims();
    let [c_out, w_in, kh, kw] = conv.weight.val().dims();
    let padding = match conv.padding {
        PaddingConfig2d::Valid => 0,
        PaddingConfig2d::Explicit(top, left, bottom, right)
            if top == left && top == bottom && top == right =>
        {
            top
        }
        _ => return None,
    };
    let geometry = ConvGeometry {
        batch,
        c_in,
        height,
        width,
        c_out,
        kernel: kh,
        stride: conv.stride[0],
        padding,
    };
    let covered = kh == kw
        && w_in == c_in
        && conv.groups == 1
        && conv.dilation == [1, 1]
        && conv.stride[0] == conv.stride[1]
        && conv.bias.is_some()
        && x.dtype() == DType::F32
        && geometry.is_valid();
    covered.then_some(geometry)
}

/// `conv.forward(x)`, through the crate's im2col + gemm kernels on the CPU backend.
///
/// # Shapes
/// - `x`: `[batch, c_in, h, w]`; returns `[batch, c_out, h_out, w_out]`
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let route = route(&x.device());
    let geometry = match (route, conv_geometry(conv, &x)) {
        (Route::Other, _) | (_, None) => return conv.forward(x),
        (_, Some(g)) => g,
    };
    let weight = conv.weight.val();
    let bias = conv
        .bias
        .as_ref()
        .expect("covered convolutions have a bias")
        .val();
    let out_shape = [
        geometry.batch,
        geometry.c_out,
        geometry.out_height(),
        geometry.out_width(),
    ];
    match route {
        Route::Flex => {
            let (x, w, b) = (into_flex(x), into_flex(weight), into_flex(bias));
            let out =
                cpu_kernels::conv2d_forward(&geometry, values(&x), values(&w), Some(values(&b)));
            Tensor::from_primitive::<Flex>(flex_tensor(out, &out_shape))
        }
        Route::AutodiffFlex => {
            let (x, w, b) = (into_autodiff(x), into_autodiff(weight), into_autodiff(bias));
            let nodes = [x.node(), w.node(), b.node()];
            let (x, w, b) = (
                contiguous(x.into_primitive()),
                contiguous(w.into_primitive()),
                contiguous(b.into_primitive()),
            );
            let out =
                cpu_kernels::conv2d_forward(&geometry, values(&x), values(&w), Some(values(&b)));
            let out = flex_tensor(out, &out_shape);
            let out = match Conv2dBackward
                .prepare::<NoCheckpointing>(nodes)
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(
                    ConvState {
                        x,
                        weight: w,
                        geometry,
                    },
                    out,
                ),
                OpsKind::UnTracked(prep) => prep.finish(out),
            };
            Tensor::from_primitive::<AutodiffFlex>(out)
        }
        Route::Other => unreachable!("handled above"),
    }
}

/// The backward step of [`conv2d`] in burn's autodiff graph.
#[derive(Debug)]
struct Conv2dBackward;

/// What the backward step keeps from the forward pass.
#[derive(Debug, Clone)]
struct ConvState {
    x: FlexTensor,
    weight: FlexTensor,
    geometry: ConvGeometry,
}

impl Backward<Flex, 3> for Conv2dBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dout = contiguous(grads.consume::<Flex>(&ops.node));
        let ConvState {
            x,
            weight,
            geometry: g,
        } = ops.state;
        let grad = cpu_kernels::conv2d_backward(
            &g,
            values(&x),
            values(&weight),
            values(&dout),
            node_x.is_some(),
        );
        if let (Some(node), Some(input)) = (node_x, grad.input) {
            grads.register::<Flex>(
                node.id,
                flex_tensor(input, &[g.batch, g.c_in, g.height, g.width]),
            );
        }
        if let Some(node) = node_weight {
            let shape = [g.c_out, g.c_in, g.kernel, g.kernel];
            grads.register::<Flex>(node.id, flex_tensor(grad.weight, &shape));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, flex_tensor(grad.bias, &[g.c_out]));
        }
    }
}

// ---------------------------------------------------------------------------------------
// GroupNorm (+ SiLU)

fn norm_geometry(norm: &GroupNorm, x: &Tensor<4>) -> Option<NormGeometry> {
    let [batch, channels, h, w] = x.dims();
    let geometry = NormGeometry {
        batch,
        channels,
        groups: norm.num_groups,
        pixels: h * w,
        epsilon: norm.epsilon,
    };
    let covered = norm.affine
        && norm.gamma.is_some()
        && norm.beta.is_some()
        && channels == norm.num_channels
        && x.dtype() == DType::F32
        && geometry.is_valid();
    covered.then_some(geometry)
}

/// `norm.forward(x)`, followed by SiLU when `then_silu`, in one pass of the crate's kernels on
/// the CPU backend.
///
/// # Shapes
/// - `x`: `[batch, channels, h, w]`; returns the same shape
pub fn group_norm(norm: &GroupNorm, x: Tensor<4>, then_silu: bool) -> Tensor<4> {
    let route = route(&x.device());
    let geometry = match (route, norm_geometry(norm, &x)) {
        (Route::Other, _) | (_, None) => {
            let y = norm.forward(x);
            return if then_silu { silu(y) } else { y };
        }
        (_, Some(g)) => g,
    };
    let shape = x.dims();
    let gamma = norm.gamma.as_ref().expect("covered: affine").val();
    let beta = norm.beta.as_ref().expect("covered: affine").val();
    match route {
        Route::Flex => {
            let (x, gamma, beta) = (into_flex(x), into_flex(gamma), into_flex(beta));
            let out = cpu_kernels::group_norm_forward(
                &geometry,
                values(&x),
                values(&gamma),
                values(&beta),
                then_silu,
            );
            Tensor::from_primitive::<Flex>(flex_tensor(out, &shape))
        }
        Route::AutodiffFlex => {
            let (x, gamma, beta) = (into_autodiff(x), into_autodiff(gamma), into_autodiff(beta));
            let nodes = [x.node(), gamma.node(), beta.node()];
            let (x, gamma, beta) = (
                contiguous(x.into_primitive()),
                contiguous(gamma.into_primitive()),
                contiguous(beta.into_primitive()),
            );
            let out = cpu_kernels::group_norm_forward(
                &geometry,
                values(&x),
                values(&gamma),
                values(&beta),
                then_silu,
            );
            let out = flex_tensor(out, &shape);
            let out = match GroupNormBackward
                .prepare::<NoCheckpointing>(nodes)
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(
                    NormState {
                        x,
                        gamma,
                        beta,
                        geometry,
                        silu: then_silu,
                        shape,
                    },
                    out,
                ),
                OpsKind::UnTracked(prep) => prep.finish(out),
            };
            Tensor::from_primitive::<AutodiffFlex>(out)
        }
        Route::Other => unreachable!("handled above"),
    }
}

/// The backward step of [`group_norm`] in burn's autodiff graph.
#[derive(Debug)]
struct GroupNormBackward;

#[derive(Debug, Clone)]
struct NormState {
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    geometry: NormGeometry,
    silu: bool,
    shape: [usize; 4],
}

impl Backward<Flex, 3> for GroupNormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dout = contiguous(grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let grad = cpu_kernels::group_norm_backward(
            &s.geometry,
            values(&s.x),
            values(&s.gamma),
            values(&s.beta),
            s.silu,
            values(&dout),
        );
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex_tensor(grad.input, &s.shape));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex_tensor(grad.gamma, &[s.geometry.channels]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex_tensor(grad.beta, &[s.geometry.channels]));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Dropout

/// `layer.forward(x)`: inverted dropout while training (on an autodiff device, the layer's
/// training flag on), the identity otherwise. On the CPU backend under autodiff the mask
/// comes from the crate's counter-based generator ([`cpu_kernels::dropout`]), seeded by one
/// draw from burn's random generator (so a run seeded through burn stays reproducible), and
/// the backward step recomputes the mask from the seed; burn's `Dropout` draws a Bernoulli
/// tensor of the input's size from its generator (6% of a `paper` training step).
///
/// # Shapes
/// - `x`: `[batch, channels, h, w]`; returns the same shape
pub fn dropout(layer: &Dropout, x: Tensor<4>) -> Tensor<4> {
    let active = layer.training.is_enabled() && layer.prob > 0.0 && x.dtype() == DType::F32;
    if !active || route(&x.device()) != Route::AutodiffFlex {
        return layer.forward(x);
    }
    let shape = x.dims();
    // Two uniform draws give the seed's 48 random bits (each f32 in [0, 1) carries 24).
    let draws = Tensor::<1>::random([2], burn::tensor::Distribution::Default, &x.device())
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 draws");
    let seed = draws
        .iter()
        .fold(0u64, |seed, &u| (seed << 24) | (u * 16_777_216.0) as u64);
    let x = into_autodiff(x);
    let nodes = [x.node()];
    let x = contiguous(x.into_primitive());
    let out = flex_tensor(cpu_kernels::dropout(values(&x), layer.prob, seed), &shape);
    let out = match DropoutBackward
        .prepare::<NoCheckpointing>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            DropoutState {
                prob: layer.prob,
                seed,
                shape,
            },
            out,
        ),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive::<AutodiffFlex>(out)
}

/// The backward step of [`dropout`]: the same mask, from the same seed, on the gradient.
#[derive(Debug)]
struct DropoutBackward;

#[derive(Debug, Clone)]
struct DropoutState {
    prob: f64,
    seed: u64,
    shape: [usize; 4],
}

impl Backward<Flex, 1> for DropoutBackward {
    type State = DropoutState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dout = contiguous(grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        if let Some(node) = node_x {
            let dx = cpu_kernels::dropout(values(&dout), s.prob, s.seed);
            grads.register::<Flex>(node.id, flex_tensor(dx, &s.shape));
        }
    }
}
