//! The loss curve of a run (chapter 13): reading `loss.csv` back and drawing it.

use std::path::Path;

use crate::figures::{LineChart, Series};

/// What is wrong with a `loss.csv`.
#[derive(Debug, thiserror::Error)]
pub enum LossCsvError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line is not `step,loss,...`.
    #[error(
        "{path}, line {line}: expected `step,loss,lr,grad_norm` with an integer step and a \
         number loss, found `{text}`"
    )]
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
}

/// Reads a run's `loss.csv` (header `step,loss,lr,grad_norm`) into `(step, loss)` pairs.
///
/// # Errors
/// [`LossCsvError`] naming the file and the first bad line.
pub fn read_loss_csv(path: &Path) -> Result<Vec<(usize, f64)>, LossCsvError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LossCsvError::Io {
        path: name.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 && line.starts_with("step") || line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split(',');
        let parsed = match (fields.next(), fields.next()) {
            (Some(s), Some(l)) => s
                .trim()
                .parse::<usize>()
                .ok()
                .zip(l.trim().parse::<f64>().ok()),
            _ => None,
        };
        match parsed {
            Some(pair) => out.push(pair),
            None => {
                return Err(LossCsvError::Parse {
                    path: name,
                    line: i + 1,
                    text: line.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// Means of consecutive blocks of `window` steps, plotted at each block's last step.
pub fn block_means(losses: &[(usize, f64)], window: usize) -> Vec<(f64, f64)> {
    losses
        .chunks(window.max(1))
        .map(|c| {
            let mean = c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64;
            (c[c.len() - 1].0 as f64, mean)
        })
        .collect()
}

/// What a run's `loss` column holds, as the loss curve's axis label: $L_\text{simple}$, or
/// with `--min-snr` ([`TrainingConfig::min_snr_gamma`](super::TrainingConfig)) the weighted
/// loss the optimiser saw.
///
/// ```
/// use ddpm::workflows::loss::loss_label;
/// assert!(loss_label(None).starts_with("L_simple"));
/// assert!(loss_label(Some(5.0)).starts_with("min-SNR-5 weighted"));
/// ```
pub fn loss_label(min_snr_gamma: Option<f64>) -> String {
    match min_snr_gamma {
        None => "L_simple (mean squared error per pixel)".to_string(),
        Some(gamma) => format!("min-SNR-{gamma} weighted L_simple (per pixel)"),
    }
}

/// The loss curve: every step's loss (`y_label`, from [`loss_label`]) as points and the means
/// of blocks of `window` steps as a line, on log-log axes (the loss falls by an order of
/// magnitude in the first hundred steps, then slowly).
///
/// ```
/// use ddpm::workflows::loss::{block_means, loss_chart, loss_label};
/// let losses: Vec<(usize, f64)> = (1..=200).map(|s| (s, 1.0 / s as f64)).collect();
/// assert_eq!(block_means(&losses, 100).len(), 2);
/// let svg = loss_chart(&losses, 50, &loss_label(None)).svg_string().unwrap();
/// assert!(svg.contains("block mean"));
/// ```
pub fn loss_chart(losses: &[(usize, f64)], window: usize, y_label: &str) -> LineChart {
    let raw = losses
        .iter()
        .filter(|p| p.1 > 0.0)
        .map(|&(s, l)| (s as f64, l))
        .collect();
    LineChart::new("Training loss", "step", y_label)
        .log_log(true)
        .series(Series::points("per step", raw))
        .series(Series::line(
            format!("block mean ({window} steps)"),
            block_means(losses, window),
        ))
}
