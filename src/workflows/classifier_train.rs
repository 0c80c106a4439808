//! Training, saving and loading the MNIST [`Classifier`] that measures sample quality
//! (chapter 16). `ddpm train-classifier` calls [`train_classifier`] then [`save_classifier`];
//! `ddpm eval` calls [`load_classifier`] on the shipped `weights/classifier/`.
//!
//! A classifier folder holds `config.json` (a [`ClassifierTrainConfig`]) and `model.bpk`
//! (burnpack weights).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::{DataError, ImageSet, Split, load_embedded};
use crate::network::classifier::{Classifier, ClassifierConfig, ClassifierConfigError};

/// The shipped classifier's folder.
pub const DEFAULT_CLASSIFIER_DIR: &str = "weights/classifier";
/// Configuration file name in a classifier folder.
pub const CLASSIFIER_CONFIG_FILE: &str = "config.json";
/// Weights file name in a classifier folder.
pub const CLASSIFIER_MODEL_FILE: &str = "model.bpk";

// ANCHOR: classifier_train_config
/// Everything that defines a classifier training run; saved as `config.json`.
#[derive(Config, Debug, PartialEq)]
pub struct ClassifierTrainConfig {
    /// The network.
    pub model: ClassifierConfig,
    /// Passes over the 7,996 embedded training digits.
    #[config(default = 12)]
    pub epochs: usize,
    /// Images per step.
    #[config(default = 64)]
    pub batch: usize,
    /// Adam learning rate (halved after every third epoch).
    #[config(default = 2e-3)]
    pub lr: f64,
    /// Random translations of up to this many pixels in each direction (data augmentation;
    /// 0 = none).
    #[config(default = 2)]
    pub max_shift: usize,
    /// Seed of the weights, the batch order, the shifts and dropout.
    #[config(default = 0)]
    pub seed: u64,
}
// ANCHOR_END: classifier_train_config

/// Everything that can go wrong training, saving or loading a classifier.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// Bad settings.
    #[error("invalid classifier configuration: {0}")]
    Config(#[from] ClassifierConfigError),
    /// A training setting out of range.
    #[error("invalid setting {name} = {value}: {hint}")]
    Setting {
        /// Which field.
        name: &'static str,
        /// Its value, printed.
        value: String,
        /// What a valid value is.
        hint: &'static str,
    },
    /// The data could not be loaded.
    #[error("cannot load the digits: {0}")]
    Data(#[from] DataError),
    /// No `config.json` in the folder.
    #[error(
        "{} is not a classifier folder: it has no {CLASSIFIER_CONFIG_FILE}; use \
         {DEFAULT_CLASSIFIER_DIR} (shipped with the crate) or train one with \
         `ddpm train-classifier`",
        dir.display()
    )]
    NotAClassifierFolder {
        /// The folder.
        dir: PathBuf,
    },
    /// `config.json` does not parse.
    #[error("{} is not a valid classifier config: {message}", path.display())]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        message: String,
    },
    /// The weights are missing, corrupt or of another shape.
    #[error(
        "cannot load classifier weights {}: {message}; the file is damaged or was written for \
         another network than {CLASSIFIER_CONFIG_FILE} describes (retrain with `ddpm \
         train-classifier`, or restore {DEFAULT_CLASSIFIER_DIR} from git)",
        path.display()
    )]
    BadWeights {
        /// The file.
        path: PathBuf,
        /// burn's message.
        message: String,
    },
    /// Writing failed.
    #[error("cannot write {}: {message}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// What a training run reports.
#[derive(Debug, Clone)]
pub struct ClassifierReport {
    /// Mean cross-entropy of each epoch (nats).
    pub epoch_losses: Vec<f64>,
    /// Accuracy on the embedded test split after training.
    pub test_accuracy: f64,
    /// Number of parameters.
    pub num_params: usize,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// A `[batch, 1, rows, cols]` tensor of `set`'s images at `indices`, scaled to $[-1, 1]$,
/// each translated by `shifts[k]` pixels (vacated pixels are background, $-1$).
fn shifted_batch(
    set: &ImageSet,
    indices: &[usize],
    shifts: &[(isize, isize)],
    device: &Device,
) -> Tensor<4> {
    let (rows, cols) = (set.rows, set.cols);
    let mut out = vec![-1.0f32; indices.len() * rows * cols];
    for (k, &i) in indices.iter().enumerate() {
        let (dy, dx) = shifts.get(k).copied().unwrap_or((0, 0));
        let image = set.image(i);
        let dst = &mut out[k * rows * cols..(k + 1) * rows * cols];
        for r in 0..rows {
            let sr = r as isize - dy;
            if sr < 0 || sr >= rows as isize {
                continue;
            }
            for c in 0..cols {
                let sc = c as isize - dx;
                if sc < 0 || sc >= cols as isize {
                    continue;
                }
                dst[r * cols + c] =
                    f32::from(image[sr as usize * cols + sc as usize]) / 127.5 - 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [indices.len(), 1, rows, cols]), device)
}

/// Initialises every parameter now (burn initialises lazily) so that the initial weights
/// depend only on the seed.
fn touch_params<M: Module>(model: &M) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    model.visit(&mut Touch);
}

// ANCHOR: train_classifier
/// Trains a classifier on the embedded training split (7,996 digits) with Adam and
/// cross-entropy, then measures its accuracy on the embedded test split (2,004 digits).
///
/// # Errors
/// [`ClassifierError`] for invalid settings.
pub fn train_classifier(
    config: &ClassifierTrainConfig,
    device: &Device,
    progress: bool,
) -> Result<(Classifier, ClassifierReport), ClassifierError> {
    let started = Instant::now();
    config.model.validate()?;
    if config.epochs == 0 {
        return Err(ClassifierError::Setting {
            name: "epochs",
            value: "0".into(),
            hint: "train for at least 1 epoch",
        });
    }
    if config.batch == 0 {
        return Err(ClassifierError::Setting {
            name: "batch",
            value: "0".into(),
            hint: "use at least 1 image per step",
        });
    }
    if !(config.lr.is_finite() && config.lr > 0.0) {
        return Err(ClassifierError::Setting {
            name: "lr",
            value: config.lr.to_string(),
            hint: "the learning rate must be positive",
        });
    }
    let train = load_embedded(Split::Train)?;
    train.require_size(config.model.image_size, config.model.image_size)?;
    let train_device = device.clone().autodiff();
    train_device.seed(config.seed);
    let mut model = config.model.init(&train_device)?;
    touch_params(&model);
    let num_params = model.num_params();
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let steps_per_epoch = train.len().div_ceil(config.batch);
    let bar = if progress {
        let bar = ProgressBar::new((config.epochs * steps_per_epoch) as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  ETA {eta}  {msg}")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let shift = config.max_shift as i64;
    let mut epoch_losses = Vec::with_capacity(config.epochs);
    let mut order: Vec<usize> = (0..train.len()).collect();
    for epoch in 0..config.epochs {
        let lr = config.lr * 0.5f64.powi((epoch / 3) as i32);
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in order.chunks(config.batch) {
            let shifts: Vec<(isize, isize)> = chunk
                .iter()
                .map(|_| {
                    if shift == 0 {
                        (0, 0)
                    } else {
                        (
                            rng.random_range(-shift..=shift) as isize,
                            rng.random_range(-shift..=shift) as isize,
                        )
                    }
                })
                .collect();
            let x = shifted_batch(&train, chunk, &shifts, &train_device); // [b, 1, 28, 28]
            let labels: Vec<i64> = chunk.iter().map(|&i| i64::from(train.label(i))).collect();
            let y =
                Tensor::<1, Int>::from_data(TensorData::new(labels, [chunk.len()]), &train_device);
            let loss = loss_fn.forward(model.forward(x), y); // [1]
            total += f64::from(loss.clone().into_scalar::<f32>()) * chunk.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            bar.inc(1);
        }
        let mean = total / train.len() as f64;
        bar.set_message(format!("epoch {} loss {mean:.4}", epoch + 1));
        epoch_losses.push(mean);
    }
    bar.finish();
    let model = model.valid();
    let test = load_embedded(Split::Test)?;
    let test_accuracy = accuracy(&model, &test, device);
    Ok((
        model,
        ClassifierReport {
            epoch_losses,
            test_accuracy,
            num_params,
            seconds: started.elapsed().as_secs_f64(),
        },
    ))
}
// ANCHOR_END: train_classifier

/// The predicted labels (argmax of the logits) of every image of `set`, in batches of 500.
pub fn predict_labels(model: &Classifier, set: &ImageSet, device: &Device) -> Vec<usize> {
    let mut labels = Vec::with_capacity(set.len());
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(500) {
        let x = Tensor::<4>::from_data(
            TensorData::new(
                set.symmetric_batch(chunk),
                [chunk.len(), 1, set.rows, set.cols],
            ),
            device,
        );
        let predicted = model.forward(x).argmax(1); // [b, 1]
        let values = predicted
            .into_data()
            .try_into_vec_as::<i64>()
            .expect("int data");
        labels.extend(values.into_iter().map(|v| v as usize));
    }
    labels
}

/// Share of `set`'s images whose predicted label equals the true one.
pub fn accuracy(model: &Classifier, set: &ImageSet, device: &Device) -> f64 {
    let predicted = predict_labels(model, set, device);
    let correct = predicted
        .iter()
        .zip(&set.labels)
        .filter(|&(&p, &l)| p == usize::from(l))
        .count();
    correct as f64 / set.len().max(1) as f64
}

/// Writes `config.json` and `model.bpk` into `dir` (created if needed).
///
/// # Errors
/// [`ClassifierError::Write`].
pub fn save_classifier(
    dir: &Path,
    model: &Classifier,
    config: &ClassifierTrainConfig,
) -> Result<(), ClassifierError> {
    let write_err = |path: &Path, message: String| ClassifierError::Write {
        path: path.to_path_buf(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e.to_string()))?;
    let config_path = dir.join(CLASSIFIER_CONFIG_FILE);
    super::files::write_atomic(
        &config_path,
        super::files::to_json_checked(config).as_bytes(),
    )
    .map_err(|e| write_err(&config_path, e.to_string()))?;
    let model_path = dir.join(CLASSIFIER_MODEL_FILE);
    super::checkpoint::save_module(model, &model_path)
        .map_err(|e| write_err(&model_path, e.to_string()))
}

/// Rebuilds the classifier `dir/config.json` describes on `device` and loads `dir/model.bpk`.
///
/// # Errors
/// [`ClassifierError::NotAClassifierFolder`], [`ClassifierError::BadConfig`] or
/// [`ClassifierError::BadWeights`], saying what is missing, corrupt or mismatched.
pub fn load_classifier(
    dir: &Path,
    device: &Device,
) -> Result<(Classifier, ClassifierTrainConfig), ClassifierError> {
    let config_path = dir.join(CLASSIFIER_CONFIG_FILE);
    let bytes = std::fs::read(&config_path).map_err(|_| ClassifierError::NotAClassifierFolder {
        dir: dir.to_path_buf(),
    })?;
    let bad_config = |message: String| ClassifierError::BadConfig {
        path: config_path.clone(),
        message,
    };
    let (value, _) = super::files::from_json_checked(&bytes)
        .map_err(|damage| bad_config(format!("the file is damaged: {damage}")))?;
    let config: ClassifierTrainConfig =
        serde_json::from_value(value).map_err(|e| bad_config(e.to_string()))?;
    let model = config
        .model
        .init(device)
        .map_err(|e| bad_config(e.to_string()))?;
    let model_path = dir.join(CLASSIFIER_MODEL_FILE);
    let model = super::checkpoint::load_module(model, &model_path).map_err(|e| {
        ClassifierError::BadWeights {
            path: model_path,
            message: e.to_string(),
        }
    })?;
    Ok((model, config))
}
