//! Chapter 16: the shipped MNIST classifier (`weights/classifier/`) that measures sample
//! quality, and the failure modes of loading it.

use std::path::Path;

use burn::prelude::*;
use ddpm::data::{Split, load_embedded};
use ddpm::network::classifier::ClassifierConfig;
use ddpm::workflows::classifier_train::{
    CLASSIFIER_CONFIG_FILE, CLASSIFIER_MODEL_FILE, ClassifierError, DEFAULT_CLASSIFIER_DIR,
    load_classifier,
};

fn shipped() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CLASSIFIER_DIR)
}

#[test]
fn shipped_classifier_reaches_98_percent_on_the_test_split() {
    let device = Device::flex();
    let (model, _) = load_classifier(&shipped(), &device).expect("the shipped classifier loads");
    let test = load_embedded(Split::Test).unwrap();
    // Independent count: logits to the host, argmax by hand, compare with the labels.
    let mut correct = 0;
    let indices: Vec<usize> = (0..test.len()).collect();
    for chunk in indices.chunks(500) {
        let x = Tensor::<4>::from_data(
            TensorData::new(test.symmetric_batch(chunk), [chunk.len(), 1, 28, 28]),
            &device,
        );
        let logits = model
            .forward(x)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        for (row, &i) in logits.chunks(10).zip(chunk) {
            let best = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            correct += usize::from(best == usize::from(test.label(i)));
        }
    }
    let accuracy = correct as f64 / test.len() as f64;
    assert_eq!(test.len(), 2004);
    assert!(accuracy >= 0.98, "test accuracy {accuracy:.4} < 0.98");
}

#[test]
fn features_have_the_configured_width_and_probabilities_sum_to_one() {
    let device = Device::flex();
    let (model, config) = load_classifier(&shipped(), &device).unwrap();
    let test = load_embedded(Split::Test).unwrap();
    let x = Tensor::<4>::from_data(
        TensorData::new(test.symmetric_batch(&[0, 1, 2]), [3, 1, 28, 28]),
        &device,
    );
    assert_eq!(
        model.features(x.clone()).dims(),
        [3, config.model.feature_dim]
    );
    let p = model
        .probabilities(x)
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap();
    for row in p.chunks(10) {
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-5, "row sums to {s}");
    }
}

fn copy_shipped(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in [CLASSIFIER_CONFIG_FILE, CLASSIFIER_MODEL_FILE] {
        std::fs::copy(shipped().join(f), to.join(f)).unwrap();
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ddpm-classifier-test-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn truncated_weights_fail_with_a_clear_message() {
    let dir = scratch("truncated");
    copy_shipped(&dir);
    let bytes = std::fs::read(dir.join(CLASSIFIER_MODEL_FILE)).unwrap();
    std::fs::write(dir.join(CLASSIFIER_MODEL_FILE), &bytes[..bytes.len() / 2]).unwrap();
    let err = load_classifier(&dir, &Device::flex()).unwrap_err();
    assert!(matches!(err, ClassifierError::BadWeights { .. }), "{err}");
    assert!(err.to_string().contains("damaged"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn weights_for_another_network_are_rejected() {
    let dir = scratch("mismatch");
    copy_shipped(&dir);
    // Same weights, but config.json now describes a wider feature layer.
    let text = std::fs::read_to_string(dir.join(CLASSIFIER_CONFIG_FILE)).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["model"]["feature_dim"] = serde_json::json!(64);
    std::fs::write(dir.join(CLASSIFIER_CONFIG_FILE), json.to_string()).unwrap();
    let err = load_classifier(&dir, &Device::flex()).unwrap_err();
    assert!(matches!(err, ClassifierError::BadWeights { .. }), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_folder_and_bad_config_are_reported() {
    let dir = scratch("missing");
    let err = load_classifier(&dir, &Device::flex()).unwrap_err();
    assert!(
        matches!(err, ClassifierError::NotAClassifierFolder { .. }),
        "{err}"
    );
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(CLASSIFIER_CONFIG_FILE), "{not json").unwrap();
    let err = load_classifier(&dir, &Device::flex()).unwrap_err();
    assert!(matches!(err, ClassifierError::BadConfig { .. }), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_configs_are_rejected_before_building() {
    assert!(
        ClassifierConfig::new()
            .with_image_size(8)
            .validate()
            .is_err()
    );
    assert!(
        ClassifierConfig::new()
            .with_feature_dim(0)
            .validate()
            .is_err()
    );
    assert!(
        ClassifierConfig::new()
            .with_dropout(1.0)
            .validate()
            .is_err()
    );
    assert!(ClassifierConfig::new().validate().is_ok());
}
