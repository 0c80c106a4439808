//! The `ddpm` command: a thin launcher over the library's workflows.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "ddpm",
    version,
    about = "Denoising Diffusion Probabilistic Models, from first principles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render every figure the book shows into a folder (default: chapters/figures).
    BookFigures {
        #[arg(long, default_value = "chapters/figures")]
        out: PathBuf,
    },
    // --- Part IV (measuring): train-classifier, eval ---
    /// Train the MNIST classifier that measures sample quality (writes weights/classifier/).
    #[cfg(feature = "burn")]
    TrainClassifier {
        /// Output folder (config.json + model.bpk).
        #[arg(long, default_value = ddpm::workflows::classifier_train::DEFAULT_CLASSIFIER_DIR)]
        out: PathBuf,
        /// Passes over the 7,996 embedded training digits.
        #[arg(long, default_value_t = 12)]
        epochs: usize,
        /// Seed of weights, batch order and augmentation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::BookFigures { out } => {
            let written = ddpm::book_figures::render_all(&out)?;
            println!("wrote {} figures to {}", written.len(), out.display());
        }
        // --- Part IV (measuring) ---
        #[cfg(feature = "burn")]
        Command::TrainClassifier { out, epochs, seed } => {
            measure::train_classifier(&out, epochs, seed)?
        }
    }
    Ok(())
}

// --- Part IV (measuring): launchers for train-classifier and eval ---
#[cfg(feature = "burn")]
mod measure {
    use anyhow::Context;
    use ddpm::network::classifier::ClassifierConfig;
    use ddpm::workflows::classifier_train::{
        ClassifierTrainConfig, save_classifier, train_classifier as train,
    };

    pub fn train_classifier(out: &std::path::Path, epochs: usize, seed: u64) -> anyhow::Result<()> {
        let config = ClassifierTrainConfig::new(ClassifierConfig::new())
            .with_epochs(epochs)
            .with_seed(seed);
        let device = burn::tensor::Device::flex();
        let (model, report) = train(&config, &device, true)?;
        for (epoch, loss) in report.epoch_losses.iter().enumerate() {
            println!("epoch {:2}: mean cross-entropy {loss:.4} nats", epoch + 1);
        }
        println!(
            "{} parameters, trained in {:.0} s; test accuracy {:.2}% on the 2,004 embedded test \
             digits",
            report.num_params,
            report.seconds,
            100.0 * report.test_accuracy
        );
        save_classifier(out, &model, &config)
            .with_context(|| format!("saving the classifier to {}", out.display()))?;
        println!("wrote {}", out.display());
        Ok(())
    }
}
