//! Class-conditional noise prediction and classifier-free guidance (chapter 18).
//!
//! A conditional U-Net $\epsilon_\theta(x_t, t, y)$ is told which digit $y \in \{0, \dots, 9\}$
//! it is denoising the same way it is told the timestep: a learned vector $e_y$ (one row of a
//! table, [`LabelEmbedding`]) is added to the timestep embedding, so every residual block
//! sees $\mathrm{temb}(t) + e_y$. One more index, the *null class* $\varnothing$ (index
//! `num_classes`, 10 for MNIST), means "no label": its vector is fixed at zero, so
//! $\epsilon_\theta(x_t, t, \varnothing)$ is exactly the unconditional path of the same
//! weights ([`UNet::forward`]). Training replaces each label by $\varnothing$ with
//! probability $p_\text{drop}$ (label dropout), so one network learns both.
//!
//! Classifier-free guidance (Ho & Salimans 2022, Eq. (6)) extrapolates from the unconditional
//! prediction past the conditional one ([`guided_noise`]):
//! $$ \tilde\epsilon = (1 + w)\,\epsilon_\theta(x_t, t, y) - w\,\epsilon_\theta(x_t, t, \varnothing). $$
//! [`Guided`] wraps a network, the requested labels and $w$ into a [`NoisePredictor`], which
//! the samplers of [`crate::workflows::sample`] accept in place of a plain [`UNet`].

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

use super::unet::UNet;

/// What is wrong with a requested class label; each message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// Not an integer at all.
    #[error("class label {0:?} is not a number: give a digit from 0 to {1}")]
    NotANumber(String, usize),
    /// An integer outside `0..num_classes` (the null class is internal, not a request).
    #[error(
        "class label {label} is out of range: give a digit from 0 to {max} (index {null} is the \
         null class, used only inside training and guidance)",
        max = .num_classes - 1,
        null = .num_classes
    )]
    OutOfRange {
        /// The label asked for.
        label: i64,
        /// The number of classes (10 for MNIST).
        num_classes: usize,
    },
    /// The network was trained without labels.
    #[error(
        "this network is unconditional (its config.json has no num_classes): train one with \
         `ddpm train --conditional`, or sample without --digit"
    )]
    Unconditional,
}

// ANCHOR: parse_label
/// Parses a requested class label (`"7"`) and checks it lies in `0..num_classes`.
///
/// # Errors
/// [`LabelError::NotANumber`] for text that is not an integer (`"seven"`, `"7.5"`),
/// [`LabelError::OutOfRange`] for integers outside `0..num_classes` (`"10"`, `"-1"`).
///
/// ```
/// use ddpm::network::conditional::{LabelError, parse_label};
/// assert_eq!(parse_label("7", 10), Ok(7));
/// assert!(matches!(parse_label("10", 10), Err(LabelError::OutOfRange { label: 10, .. })));
/// assert!(matches!(parse_label("seven", 10), Err(LabelError::NotANumber(..))));
/// ```
pub fn parse_label(text: &str, num_classes: usize) -> Result<usize, LabelError> {
    let label: i64 = text
        .trim()
        .parse()
        .map_err(|_| LabelError::NotANumber(text.to_string(), num_classes.saturating_sub(1)))?;
    check_label(label, num_classes)
}

/// Checks that `label` lies in `0..num_classes`.
///
/// # Errors
/// [`LabelError::OutOfRange`] otherwise.
pub fn check_label(label: i64, num_classes: usize) -> Result<usize, LabelError> {
    if (0..num_classes as i64).contains(&label) {
        Ok(label as usize)
    } else {
        Err(LabelError::OutOfRange { label, num_classes })
    }
}
// ANCHOR_END: parse_label

/// Standard deviation of a fresh label table. Measured, not cited: fine-tuning the 1,200-step
/// run's `weights/run-20min` (learning rate $10^{-3}$) with $\sigma = 0.02$ (a common choice)
/// left the table at that size and the samples at chance (12% of them the requested digit)
/// after 400 steps: the network does not see so small a signal beside the timestep embedding,
/// whose entries are of order 0.1 to 1, and Adam moves the table only as fast as its noisy
/// gradient agrees with itself. With 0.3 (and learning rate $2\cdot10^{-3}$) the same
/// fine-tuning gave `weights/conditional`, whose guided samples chapter 18 measures.
pub const LABEL_EMBEDDING_INIT_STD: f64 = 0.3;

// ANCHOR: label_embedding
/// A learned vector per class, added to the timestep embedding: row $y$ of a
/// `[num_classes, dim]` table for $y <$ `num_classes`, and the zero vector for the null class
/// $\varnothing$ = `num_classes`. Written as a one-hot product so that the null class needs no
/// special case: its one-hot row over the `num_classes` real classes is all zeros.
#[derive(Module, Debug)]
pub struct LabelEmbedding {
    /// `[num_classes, dim]`.
    pub weight: Param<Tensor<2>>,
}

impl LabelEmbedding {
    /// A table for `num_classes` classes of width `dim` (the U-Net's `4 base_channels`),
    /// drawn from $\mathcal N(0, \sigma^2)$ with $\sigma$ = [`LABEL_EMBEDDING_INIT_STD`].
    pub fn new(num_classes: usize, dim: usize, device: &Device) -> Self {
        let weight = Tensor::random(
            [num_classes, dim],
            Distribution::Normal(0.0, LABEL_EMBEDDING_INIT_STD),
            device,
        );
        Self::from_table(weight)
    }

    /// The embedding with a given table `[num_classes, dim]`.
    pub fn from_table(table: Tensor<2>) -> Self {
        Self {
            weight: Param::from_tensor(table), // trainable: it requires gradients
        }
    }

    /// The number of real classes (the null class is this index).
    pub fn num_classes(&self) -> usize {
        self.weight.dims()[0]
    }

    /// $e_y$ for each label.
    ///
    /// # Shapes
    /// - `labels`: `[batch]`, each in `0..=num_classes` (`num_classes` is $\varnothing$)
    /// - returns `[batch, dim]`
    pub fn forward(&self, labels: Tensor<1, Int>) -> Tensor<2> {
        let [batch] = labels.dims();
        let n = self.num_classes();
        let device = labels.device();
        let classes = Tensor::<1, Int>::arange(0..n as i64, &device).reshape([1, n]); // [1, n]
        let one_hot = labels.reshape([batch, 1]).equal(classes).float(); // [batch, n]; null: 0
        one_hot.matmul(self.weight.val()) // [batch, dim]
    }
}
// ANCHOR_END: label_embedding

/// Anything that predicts the noise $\epsilon$ in $x_t$ at timestep $t$: a [`UNet`]
/// ([`UNet::forward`]) or a guided conditional one ([`Guided`]). The samplers take one.
pub trait NoisePredictor {
    /// # Shapes
    /// - `x`: `[batch, c, h, w]`, `t`: `[batch]`; returns `[batch, c, h, w]`
    fn predict_noise(&self, x: Tensor<4>, t: Tensor<1>) -> Tensor<4>;
}

impl NoisePredictor for UNet {
    fn predict_noise(&self, x: Tensor<4>, t: Tensor<1>) -> Tensor<4> {
        self.forward(x, t)
    }
}

// ANCHOR: guided_noise
/// Classifier-free guidance (Ho & Salimans 2022, Eq. (6)):
/// $\tilde\epsilon = (1 + w)\,\epsilon_\text{cond} - w\,\epsilon_\text{uncond}$.
/// $w = 0$ is the conditional prediction, $w = -1$ the unconditional one; $w > 0$ moves past
/// the conditional prediction, away from the unconditional one.
///
/// # Shapes
/// - `conditional`, `unconditional`: `[batch, c, h, w]`; returns the same
pub fn guided_noise(conditional: Tensor<4>, unconditional: Tensor<4>, w: f64) -> Tensor<4> {
    conditional.mul_scalar(1.0 + w) - unconditional.mul_scalar(w)
}
// ANCHOR_END: guided_noise

/// A conditional network, the labels to ask for (one per image) and the guidance weight $w$:
/// a [`NoisePredictor`] returning [`guided_noise`]. Both predictions come from one batched
/// forward pass of twice the batch (the images with their labels, then with $\varnothing$);
/// at $w = 0$ only the conditional half is run, since the formula then ignores the other.
#[derive(Debug, Clone)]
pub struct Guided<'a> {
    model: &'a UNet,
    labels: Vec<usize>,
    w: f64,
}

impl<'a> Guided<'a> {
    /// Checks that `model` is conditional, every label lies in `0..num_classes` and `w` is
    /// finite.
    ///
    /// # Errors
    /// [`LabelError`] naming the first bad label, or saying the network is unconditional.
    /// A non-finite `w` is reported as [`LabelError::NotANumber`] of its text.
    pub fn new(model: &'a UNet, labels: Vec<usize>, w: f64) -> Result<Self, LabelError> {
        let num_classes = model.num_classes().ok_or(LabelError::Unconditional)?;
        for &label in &labels {
            check_label(label as i64, num_classes)?;
        }
        if !w.is_finite() {
            return Err(LabelError::NotANumber(
                format!("guidance {w}"),
                num_classes - 1,
            ));
        }
        Ok(Self { model, labels, w })
    }

    /// The labels, one per image.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The guidance weight $w$.
    pub fn w(&self) -> f64 {
        self.w
    }
}

/// `labels` as an Int tensor on `device`.
pub fn label_tensor(labels: &[usize], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

// ANCHOR: guided_predict
impl NoisePredictor for Guided<'_> {
    /// # Panics
    /// When the batch is not as long as the labels (the samplers draw one image per label).
    fn predict_noise(&self, x: Tensor<4>, t: Tensor<1>) -> Tensor<4> {
        let [batch, _, _, _] = x.dims();
        assert_eq!(batch, self.labels.len(), "one label per image");
        let device = x.device();
        let null = self.model.num_classes().expect("checked in Guided::new");
        if self.w == 0.0 {
            let labels = label_tensor(&self.labels, &device);
            return self.model.forward_conditional(x, t, labels);
        }
        let mut labels = self.labels.clone();
        labels.extend(std::iter::repeat_n(null, batch)); // [y..., null...]
        let x2 = Tensor::cat(vec![x.clone(), x], 0); // [2 batch, c, h, w]
        let t2 = Tensor::cat(vec![t.clone(), t], 0); // [2 batch]
        let eps = self
            .model
            .forward_conditional(x2, t2, label_tensor(&labels, &device));
        let conditional = eps.clone().narrow(0, 0, batch); // eps(x, t, y)
        let unconditional = eps.narrow(0, batch, batch); // eps(x, t, null)
        guided_noise(conditional, unconditional, self.w)
    }
}
// ANCHOR_END: guided_predict

// ANCHOR: forward_conditional
impl UNet {
    /// The label embedding of a conditional network.
    pub fn label_embedding(&self) -> Option<&LabelEmbedding> {
        self.label_embedding.as_ref()
    }

    /// The number of classes of a conditional network (`None`: unconditional).
    pub fn num_classes(&self) -> Option<usize> {
        self.label_embedding
            .as_ref()
            .map(LabelEmbedding::num_classes)
    }

    /// $\epsilon_\theta(x_t, t, y)$: the U-Net with $e_y$ added to the timestep embedding.
    /// With every label the null class it is [`UNet::forward`] ($e_\varnothing = 0$).
    ///
    /// # Shapes
    /// - `x`: `[batch, c, h, w]`, `t`: `[batch]`, `labels`: `[batch]` in `0..=num_classes`
    /// - returns `[batch, c, h, w]`
    ///
    /// # Panics
    /// On an unconditional network ([`Guided::new`] and the training workflow check first).
    pub fn forward_conditional(
        &self,
        x: Tensor<4>,
        t: Tensor<1>,
        labels: Tensor<1, Int>,
    ) -> Tensor<4> {
        let embedding = self
            .label_embedding
            .as_ref()
            .expect("forward_conditional needs a conditional network (num_classes set)");
        let temb = self.time_embedding.forward(t) + embedding.forward(labels); // [b, 4 base]
        self.forward_embedded(x, temb, None)
    }

    /// This network with a fresh label embedding for `num_classes` classes attached
    /// ([`LabelEmbedding::new`]): the same weights otherwise, so with the null class it
    /// computes exactly what `self` computed. Used to fine-tune unconditional weights into a
    /// conditional network (`ddpm train --conditional --init-weights weights/run-20min`).
    pub fn into_conditional(mut self, num_classes: usize, device: &Device) -> Self {
        let dim = 4 * self.time_embedding.dim;
        self.label_embedding = Some(LabelEmbedding::new(num_classes, dim, device));
        self
    }

    /// This network with `embedding` as its label embedding (e.g. a table chosen by a test).
    ///
    /// # Panics
    /// When the table's width is not the timestep embedding's (`4 base_channels`).
    pub fn with_label_embedding(mut self, embedding: LabelEmbedding) -> Self {
        assert_eq!(
            embedding.weight.dims()[1],
            4 * self.time_embedding.dim,
            "the label table must be as wide as the timestep embedding"
        );
        self.label_embedding = Some(embedding);
        self
    }
}
// ANCHOR_END: forward_conditional
