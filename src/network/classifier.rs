//! A small LeNet-style MNIST classifier (chapter 16): the measuring instrument for sample
//! quality. Its penultimate layer gives the features of the *Fréchet LeNet Distance* (FLD),
//! the MNIST analogue of the FID that Ho et al. (2020, Table 1) report with an Inception
//! network on CIFAR-10; its softmax gives the confidence and label statistics.
//!
//! Layout (the default configuration, 117,066 parameters):
//!
//! ```text
//! x [b,1,28,28] in [-1,1]
//!   conv 5x5 pad 2 (16) ─ ReLU ─ maxpool 2 ─► [b,16,14,14]
//!   conv 5x5       (32) ─ ReLU ─ maxpool 2 ─► [b,32,5,5]
//!   flatten ─ Linear(800,128) ─ ReLU        ─► features [b,128]
//!   Dropout ─ Linear(128,10)                ─► logits   [b,10]
//! ```
//!
//! After LeCun et al. (1998), "Gradient-based learning applied to document recognition"
//! (LeNet-5), with ReLU and max-pooling in place of its sigmoids and subsampling.
//!
//! Inputs use the diffusion model's scaling $x = 2b/255 - 1 \in [-1, 1]$, so generated samples
//! go in exactly as the U-Net produces them.

use burn::nn::{
    Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
    conv::{Conv2d, Conv2dConfig},
    pool::{MaxPool2d, MaxPool2dConfig},
};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};

/// What is wrong with a [`ClassifierConfig`]; each message says how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClassifierConfigError {
    /// Something that must be positive is zero.
    #[error("{0} must be at least 1")]
    Empty(&'static str),
    /// The image is too small for the two 5x5 convolutions and poolings.
    #[error(
        "image_size {0} is too small: the classifier needs at least 12x12 images (two 5x5 \
         convolutions and two 2x2 poolings)"
    )]
    ImageTooSmall(usize),
    /// Dropout outside `[0, 1)`.
    #[error("dropout must lie in [0, 1), got {0}")]
    Dropout(f64),
}

// ANCHOR: classifier_config
/// Hyper-parameters of the [`Classifier`]; saved as `config.json` beside its weights.
#[derive(Config, Debug, PartialEq)]
pub struct ClassifierConfig {
    /// Channels of the images (1 for MNIST).
    #[config(default = 1)]
    pub image_channels: usize,
    /// Side of the square images (28 for MNIST).
    #[config(default = 28)]
    pub image_size: usize,
    /// Channels of the first convolution.
    #[config(default = 16)]
    pub conv1_channels: usize,
    /// Channels of the second convolution.
    #[config(default = 32)]
    pub conv2_channels: usize,
    /// Size of the penultimate (feature) layer used by the FLD.
    #[config(default = 128)]
    pub feature_dim: usize,
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Dropout before the last layer (active only while training).
    #[config(default = 0.25)]
    pub dropout: f64,
}
// ANCHOR_END: classifier_config

impl ClassifierConfig {
    /// The side of the feature map after the second pooling: $s \to s/2 \to s/2 - 4 \to
    /// (s/2 - 4)/2$ (5 for 28x28 inputs).
    pub fn final_side(&self) -> usize {
        (self.image_size / 2).saturating_sub(4) / 2
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// [`ClassifierConfigError`] for zero sizes, too small images or invalid dropout.
    pub fn validate(&self) -> Result<(), ClassifierConfigError> {
        for (name, value) in [
            ("image_channels", self.image_channels),
            ("conv1_channels", self.conv1_channels),
            ("conv2_channels", self.conv2_channels),
            ("feature_dim", self.feature_dim),
            ("num_classes", self.num_classes),
        ] {
            if value == 0 {
                return Err(ClassifierConfigError::Empty(name));
            }
        }
        if self.final_side() == 0 {
            return Err(ClassifierConfigError::ImageTooSmall(self.image_size));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ClassifierConfigError::Dropout(self.dropout));
        }
        Ok(())
    }

    /// Validates, then builds a freshly initialised classifier on `device`.
    ///
    /// # Errors
    /// See [`ClassifierConfig::validate`].
    pub fn init(&self, device: &Device) -> Result<Classifier, ClassifierConfigError> {
        self.validate()?;
        let side = self.final_side();
        Ok(Classifier {
            conv1: Conv2dConfig::new([self.image_channels, self.conv1_channels], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            conv2: Conv2dConfig::new([self.conv1_channels, self.conv2_channels], [5, 5])
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(self.conv2_channels * side * side, self.feature_dim)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            fc2: LinearConfig::new(self.feature_dim, self.num_classes).init(device),
        })
    }
}

// ANCHOR: classifier
/// The LeNet-style classifier. [`Classifier::features`] is the penultimate layer (for the
/// FLD), [`Classifier::forward`] the logits.
#[derive(Module, Debug)]
pub struct Classifier {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    dropout: Dropout,
    fc2: Linear,
}

impl Classifier {
    /// The penultimate-layer features $\phi(x)$, after the ReLU.
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, size, size]` in $[-1, 1]$; returns `[batch, feature_dim]`
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let h = self.pool.forward(relu(self.conv1.forward(x))); // [b, c1, 14, 14]
        let h = self.pool.forward(relu(self.conv2.forward(h))); // [b, c2, 5, 5]
        let [batch, c, height, width] = h.dims();
        let h = h.reshape([batch, c * height * width]); // [b, c2 * 25]
        relu(self.fc1.forward(h)) // [b, feature_dim]
    }

    /// The class logits.
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, size, size]` in $[-1, 1]$; returns `[batch, num_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.logits_from_features(self.features(x))
    }

    /// The logits from features already computed by [`Classifier::features`] (so the FLD and
    /// the label statistics share one pass).
    ///
    /// # Shapes
    /// - `features`: `[batch, feature_dim]`; returns `[batch, num_classes]`
    pub fn logits_from_features(&self, features: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(self.dropout.forward(features))
    }

    /// Class probabilities $\mathrm{softmax}(\text{logits})$.
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, size, size]`; returns `[batch, num_classes]`, rows sum to 1
    pub fn probabilities(&self, x: Tensor<4>) -> Tensor<2> {
        softmax(self.forward(x), 1)
    }
}
// ANCHOR_END: classifier
