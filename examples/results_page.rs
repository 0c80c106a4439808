//! Writes the book's results appendix, `chapters/results.md`, and README's results table (the
//! lines between its `<!-- results: ... -->` and `<!-- end of results -->`) from the JSON
//! reports in `chapters/output/`, so that none of their numbers is typed by hand:
//!
//! ```text
//! cargo run --release --no-default-features --example results_page              # write it
//! cargo run --release --no-default-features --example results_page -- --check   # compare
//! ```
//!
//! `--check` (a step of `scripts/check.sh`) writes nothing and fails when the committed page
//! or README's table differs from what this program writes, saying how to regenerate them.
//! README's rows are the entries of [`HEADLINES`].
//!
//! Each report file belongs to one kind of report in [`KINDS`], chosen by its name; a file
//! that no kind claims is an error, so a new report cannot be left off the page silently. A
//! new kind (e.g. `bench-*.json` with per-op timings) is one more entry there: a file-name
//! prefix, and a function that parses those files and renders their section.
//!
//! It builds without burn: the full report types live in `ddpm::workflows` behind the `burn`
//! feature, so the structs below mirror the fields this page prints (serde skips the rest).
//! The chapters that cite a report are found by searching `chapters/*.md` for
//! `chapters/output/NAME` (a `*` in NAME matches any run of characters).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where the page is written, relative to the crate root.
const PAGE: &str = "chapters/results.md";
/// Where the reports are read from, relative to the crate root.
const REPORTS: &str = "chapters/output";
/// How to regenerate the page (printed by `--check` and written into the page).
const REGENERATE: &str = "cargo run --release --no-default-features --example results_page";

/// One kind of report: the files it claims and the section it writes.
struct Kind {
    /// Report files whose name starts with this (and ends in `.json`).
    prefix: &'static str,
    /// Renders the section (a `## ` heading and its tables) from the kind's files.
    render: fn(&[&Report], &Citations) -> Result<String>,
}

/// Every kind of report on the page, in page order.
const KINDS: &[Kind] = &[
    Kind {
        prefix: "eval-",
        render: eval_section,
    },
    Kind {
        prefix: "bench-",
        render: bench_section,
    },
    Kind {
        prefix: "guidance-",
        render: guidance_section,
    },
];

/// One report file, read.
struct Report {
    /// File name in `chapters/output/`, e.g. `eval-default.json`.
    name: String,
    /// The file's text.
    text: String,
}

impl Report {
    /// Parses the report as `T`, naming the file on failure.
    fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        serde_json::from_str(&self.text).with_context(|| format!("{REPORTS}/{}", self.name))
    }

    /// The report's name as a link to the file (mdBook copies it beside the page).
    fn link(&self) -> String {
        format!("[`{}`](output/{})", self.name, self.name)
    }
}

// ------------------------------------------------------------------------------------------
// `ddpm bench --report` reports (`ddpm::workflows::bench::BenchReport`)

/// `BenchReport`: what `ddpm bench --report FILE` writes.
#[derive(Deserialize)]
struct BenchReport {
    command: String,
    machine: String,
    torch_version: Option<String>,
    presets: Vec<BenchPreset>,
    ops: Vec<BenchOp>,
}

/// `PresetRow`.
#[derive(Deserialize)]
struct BenchPreset {
    preset: String,
    params: usize,
    batch: usize,
    train_step_ms: f64,
    forward_ms: f64,
    burn_train_step_ms: Option<f64>,
    burn_forward_ms: Option<f64>,
    torch_train_step_ms: Option<f64>,
    torch_forward_ms: Option<f64>,
}

/// `OpRow`.
#[derive(Deserialize)]
struct BenchOp {
    name: String,
    forward_ms: f64,
    train_ms: f64,
    burn_forward_ms: Option<f64>,
    burn_train_ms: Option<f64>,
    torch_forward_ms: Option<f64>,
    torch_train_ms: Option<f64>,
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn times(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

/// One section per benchmark report: the presets' training step and forward pass, and the
/// operations, in ms for this crate, burn's own operations and PyTorch, with the ratios.
fn bench_section(reports: &[&Report], cited: &Citations) -> Result<String> {
    let mut out = String::from("## Speed: `ddpm bench`\n\n");
    for r in reports {
        let b: BenchReport = r.parse()?;
        out += &format!(
            "{} (cited in {}): `{}` on {}{}.\n\n",
            r.link(),
            cited.of(&r.name),
            b.command,
            b.machine,
            b.torch_version
                .as_ref()
                .map_or(String::new(), |v| format!(", PyTorch {v}"))
        );
        out += "| preset | parameters | batch | train ms: ddpm | burn ops | PyTorch | ddpm / PyTorch | forward ms: ddpm | burn ops | PyTorch | ddpm / PyTorch |\n";
        out += "|---|---|---|---|---|---|---|---|---|---|---|\n";
        for p in &b.presets {
            out += &format!(
                "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                p.preset,
                p.params,
                p.batch,
                ms(Some(p.train_step_ms)),
                ms(p.burn_train_step_ms),
                ms(p.torch_train_step_ms),
                times(Some(p.train_step_ms), p.torch_train_step_ms),
                ms(Some(p.forward_ms)),
                ms(p.burn_forward_ms),
                ms(p.torch_forward_ms),
                times(Some(p.forward_ms), p.torch_forward_ms),
            );
        }
        if !b.ops.is_empty() {
            out += "\n| operation | forward ms: ddpm | burn ops | PyTorch | ddpm / PyTorch | forward+backward ms: ddpm | burn ops | PyTorch | ddpm / PyTorch |\n";
            out += "|---|---|---|---|---|---|---|---|---|\n";
            for o in &b.ops {
                out += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    o.name,
                    ms(Some(o.forward_ms)),
                    ms(o.burn_forward_ms),
                    ms(o.torch_forward_ms),
                    times(Some(o.forward_ms), o.torch_forward_ms),
                    ms(Some(o.train_ms)),
                    ms(o.burn_train_ms),
                    ms(o.torch_train_ms),
                    times(Some(o.train_ms), o.torch_train_ms),
                );
            }
        }
        out.push('\n');
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// `ddpm eval --guidance` reports (`ddpm::workflows::conditional::GuidanceReport`)

/// `GuidanceReport`: what `ddpm eval --guidance --json` writes.
#[derive(Deserialize)]
struct GuidanceReport {
    weights: String,
    sampler: String,
    samples_per_digit: usize,
    floor: Fld,
    ceiling: Fld,
    rows: Vec<GuidanceRow>,
}

/// `GuidanceRow`.
#[derive(Deserialize)]
struct GuidanceRow {
    w: f64,
    accuracy: f64,
    per_digit_accuracy: Vec<f64>,
    quality: Fld,
    sample_seconds: f64,
}

/// The FLD of a `SetQuality`.
#[derive(Deserialize)]
struct Fld {
    fld: f64,
}

/// One section per guidance sweep: per guidance weight, the share of samples classified as
/// the requested digit (overall and for the worst digit), the FLD and the sampling time.
fn guidance_section(reports: &[&Report], cited: &Citations) -> Result<String> {
    let mut out = String::from("## Classifier-free guidance: `ddpm eval --guidance`\n\n");
    for r in reports {
        let g: GuidanceReport = r.parse()?;
        out += &format!(
            "{} (cited in {}): `{}`, {}, {} samples per digit and per w; FLD floor {:.2}, ceiling {:.2}.\n\n",
            r.link(),
            cited.of(&r.name),
            g.weights,
            g.sampler,
            g.samples_per_digit,
            g.floor.fld,
            g.ceiling.fld
        );
        out += "| w | requested digit | worst digit | FLD | sampling s |\n|---|---|---|---|---|\n";
        for row in &g.rows {
            let worst = row
                .per_digit_accuracy
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
            out += &format!(
                "| {} | {:.1}% | {:.0}% | {:.2} | {:.0} |\n",
                row.w,
                100.0 * row.accuracy,
                100.0 * worst,
                row.quality.fld,
                row.sample_seconds
            );
        }
        out.push('\n');
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// `ddpm eval` reports (`ddpm::workflows::eval_report::EvalReport`)

/// `EvalReport`: what `ddpm eval --json` writes.
#[derive(Deserialize)]
struct EvalReport {
    weights: String,
    ema: bool,
    params: usize,
    config: TrainingConfig,
    bound: Option<BoundReport>,
    quality: Option<QualityTable>,
    /// `None` (or absent): the network alone.
    #[serde(default)]
    guide: Option<GuideInfo>,
}

/// `GuideInfo`: the guide of autoguided samples.
#[derive(Deserialize)]
struct GuideInfo {
    weights: String,
    params: usize,
    steps: usize,
    w: f64,
}

/// `TrainingConfig`, the fields that tell runs apart.
#[derive(Deserialize)]
struct TrainingConfig {
    model: UNetConfig,
    steps: usize,
    batch: usize,
    lr: f64,
    ema_decay: f64,
    /// `None` (or absent): $L_\text{simple}$.
    #[serde(default)]
    min_snr_gamma: Option<f64>,
    /// `None` (or absent): constant.
    #[serde(default)]
    lr_schedule: Option<String>,
    /// `None` (or absent): one thread.
    #[serde(default)]
    threads: Option<usize>,
    /// `None` (or absent): the network learned the noise, not a teacher's prediction.
    #[serde(default)]
    distill: Option<DistillInfo>,
}

/// `DistillConfig`: the autoguided teacher a distilled network learned from.
#[derive(Deserialize)]
struct DistillInfo {
    teacher: String,
    guide: String,
    weight: f64,
}

/// `UNetConfig`, the fields that tell presets apart.
#[derive(Deserialize)]
struct UNetConfig {
    base_channels: usize,
    channel_mults: Vec<usize>,
    /// `None` (or absent): 1, no patches.
    #[serde(default)]
    patch_size: Option<usize>,
}

/// `BoundReport`.
#[derive(Deserialize)]
struct BoundReport {
    mode: BoundMode,
    images: usize,
    evaluations_per_image: usize,
    parts: Vec<BoundParts>,
}

/// `BoundMode`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum BoundMode {
    Exact,
    Sampled { timesteps_per_image: usize },
}

/// `BoundParts`.
#[derive(Deserialize)]
struct BoundParts {
    variance: String,
    bits_per_dim: f64,
    standard_error: f64,
    prior_bpd: f64,
    diffusion_bpd: f64,
    decoder_bpd: f64,
    #[serde(default)]
    terms_bpd: Vec<f64>,
}

/// `QualityTable`.
#[derive(Deserialize)]
struct QualityTable {
    test_images: usize,
    floor: SetQuality,
    ceiling: SetQuality,
    samplers: Vec<SamplerQuality>,
}

/// `SamplerQuality`.
#[derive(Deserialize)]
struct SamplerQuality {
    sampler: String,
    network_evaluations: usize,
    seconds: f64,
    quality: SetQuality,
}

/// `SetQuality`.
#[derive(Deserialize)]
struct SetQuality {
    count: usize,
    fld: f64,
    confident_share: f64,
    label_entropy: f64,
    label_histogram: Vec<usize>,
}

/// The `eval-*.json` section: the weights measured, the sample quality of each sampler, the
/// reference sets it is scored against, and the variational bound.
fn eval_section(reports: &[&Report], cited: &Citations) -> Result<String> {
    let parsed = reports
        .iter()
        .map(|r| Ok((r, r.parse::<EvalReport>()?)))
        .collect::<Result<Vec<_>>>()?;
    let mut s = String::new();
    s.push_str(
        "## Evaluations: `ddpm eval`\n\n\
         `ddpm eval` writes one report per weights folder: the training configuration saved \
         with the weights, the variational bound on test digits ([chapter 15](15-likelihood.md)) \
         and the sample quality of each sampler against a floor and a ceiling of as many \
         images ([chapter 16](16-sample-quality.md)). These are all the `eval-*.json` reports \
         in `chapters/output/`.\n\n",
    );

    s.push_str(
        "### The weights measured\n\n\
         Weights folders under `/tmp` and `/root/runs` were temporary folders holding a run's \
         checkpoint, and `runs/small` is the run folder of `ddpm train` without flags; the \
         citing chapter says which run. `weights/default` in the rows of 1,200 steps is the \
         1,200-step run of [chapter 13](13-training.md) (the default run of machine A), measured \
         before its files moved to `weights/run-20min/` and a longer-trained model took their \
         place. Levels: the channel multiplier of each U-Net level times the base channels; \
         patch 1 means no patches ([chapter 12](12-unet.md)).\n\n\
         | report | cited in | weights | parameters | levels | patch | steps | batch | \
         learning rate | loss | EMA decay | threads |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (r, e) in &parsed {
        let c = &e.config;
        let levels = c
            .model
            .channel_mults
            .iter()
            .map(|m| (m * c.model.base_channels).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let weights = if e.ema {
            format!("`{}` (EMA)", e.weights)
        } else {
            format!("`{}` (raw)", e.weights)
        };
        let loss = match (&c.distill, c.min_snr_gamma) {
            (Some(d), _) => format!(
                "distilled: `{}` autoguided by `{}` at $w = {}$",
                d.teacher, d.guide, d.weight
            ),
            (None, Some(gamma)) => format!("min-SNR-{gamma}"),
            (None, None) => "$L_\\text{simple}$".to_string(),
        };
        writeln!(
            s,
            "| {} | {} | {weights} | {} | {levels} | {} | {} | {} | {} {} | {loss} | {} | {} |",
            r.link(),
            cited.of(&r.name),
            thousands(e.params),
            c.model.patch_size.unwrap_or(1),
            thousands(c.steps),
            c.batch,
            c.lr,
            c.lr_schedule.as_deref().unwrap_or("constant"),
            c.ema_decay,
            c.threads.unwrap_or(1),
        )?;
    }

    s.push_str(
        "\n### Sample quality\n\n\
         Each sampler's samples scored by the MNIST classifier against the test digits \
         ([chapter 16](16-sample-quality.md)): the Fréchet LeNet distance (FLD), also as a \
         multiple of the floor's (real training digits, as many as samples), the share \
         classified with confidence at least 0.9, and the entropy of the predicted labels \
         in nats. Seconds: wall time to draw all the samples. A FLD compares only with FLDs of as many samples.\n\n\
         | report | sampler | network evaluations | samples | seconds | FLD | x floor | \
         confident share | label entropy | predicted labels 0-9 |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (r, e) in &parsed {
        let Some(q) = &e.quality else { continue };
        for row in &q.samplers {
            let x = &row.quality;
            let (sampler, evaluations) = match &e.guide {
                None => (row.sampler.clone(), thousands(row.network_evaluations)),
                Some(g) => (
                    format!(
                        "{}, autoguided by `{}` ({} parameters, {} steps) at $w = {}$",
                        row.sampler,
                        g.weights,
                        thousands(g.params),
                        thousands(g.steps),
                        g.w
                    ),
                    format!(
                        "{} + {} of the guide",
                        thousands(row.network_evaluations),
                        thousands(row.network_evaluations)
                    ),
                ),
            };
            writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {} | {:.3} | {} |",
                r.link(),
                sampler,
                evaluations,
                thousands(x.count),
                thousands(row.seconds.round() as usize),
                x.fld,
                x.fld / q.floor.fld,
                percent(x.confident_share),
                x.label_entropy,
                histogram(&x.label_histogram),
            )?;
        }
    }

    s.push_str(
        "\n### Reference sets\n\n\
         What the samples are scored against, beside the test digits: the floor (the first \
         training digits, as many as samples: the best a model can score) and the ceiling (as \
         many clipped Gaussian noise images: what learning nothing scores). Reports scored \
         against the same sets share a table.\n",
    );
    // Tables keyed by their rendered rows, so that identical reference sets appear once.
    let mut references: Vec<(String, Vec<&str>)> = Vec::new();
    for (r, e) in &parsed {
        let Some(q) = &e.quality else { continue };
        let mut rows = String::new();
        for (set, x) in [("floor", &q.floor), ("ceiling", &q.ceiling)] {
            writeln!(
                rows,
                "| {set} | {} | {} | {:.1} | {} | {:.3} | {} |",
                thousands(x.count),
                thousands(q.test_images),
                x.fld,
                percent(x.confident_share),
                x.label_entropy,
                histogram(&x.label_histogram),
            )?;
        }
        match references.iter_mut().find(|(text, _)| *text == rows) {
            Some((_, names)) => names.push(&r.name),
            None => references.push((rows, vec![&r.name])),
        }
    }
    for (rows, names) in &references {
        let names = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        write!(
            s,
            "\nIn {names}:\n\n\
             | set | images | test digits | FLD | confident share | label entropy | \
             predicted labels 0-9 |\n\
             |---|---|---|---|---|---|---|\n{rows}"
        )?;
    }
    s.push('\n');

    s.push_str(
        "### Variational bound\n\n\
         The bound on $-\\log_2 p(x_0)$ per pixel over the first test digits \
         ([chapter 15](15-likelihood.md)), \
         for each choice of $\\sigma_t^2$: in total with its standard error, and its parts: \
         the prior term $L_T$, the denoising terms $\\sum_{t=2}^T L_{t-1}$ and the decoder \
         term $L_0$, in bits/dim. Exact: every term $t = 1, \\dots, T$ for each image; \
         sampled: $L_T$ and $L_0$ exactly and the sum estimated from randomly drawn $t$.\n\n\
         | report | mode | test digits | network evaluations per image | $\\sigma_t^2$ | \
         bits/dim | $\\pm$ SE | $L_T$ | $\\sum_{t=2}^T L_{t-1}$ | $L_0$ |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (r, e) in &parsed {
        let Some(b) = &e.bound else { continue };
        let mode = match b.mode {
            BoundMode::Exact => "exact".to_string(),
            BoundMode::Sampled {
                timesteps_per_image,
            } => format!("sampled, {timesteps_per_image} $t$ per image"),
        };
        for p in &b.parts {
            let variance = match p.variance.as_str() {
                "beta" => "$\\beta_t$",
                "posterior_beta" => "$\\tilde\\beta_t$",
                other => bail!("{}: unknown variance kind {other:?}", r.name),
            };
            // Exact mode stores the term of every timestep; the table shows their sums.
            if !p.terms_bpd.is_empty() && p.terms_bpd.len() != b.evaluations_per_image {
                bail!(
                    "{}: {} per-timestep terms for {} evaluations per image",
                    r.name,
                    p.terms_bpd.len(),
                    b.evaluations_per_image
                );
            }
            writeln!(
                s,
                "| {} | {mode} | {} | {} | {variance} | {:.3} | {:.3} | {:.1e} | {:.3} | {:.3} |",
                r.link(),
                thousands(b.images),
                thousands(b.evaluations_per_image),
                p.bits_per_dim,
                p.standard_error,
                p.prior_bpd,
                p.diffusion_bpd,
                p.decoder_bpd,
            )?;
        }
    }
    Ok(s)
}

// ------------------------------------------------------------------------------------------
// README's results table

/// Where README's results table sits: between these two lines, which the table replaces.
const README: &str = "README.md";
const README_BEGIN: &str =
    "<!-- results: written by examples/results_page.rs from chapters/output/*.json -->";
const README_END: &str = "<!-- end of results -->";

/// One row of README's results table: what it shows and the numbers, from one eval report.
struct Headline {
    /// The report, in `chapters/output/`.
    report: &'static str,
    /// The chapter the row links to, in `chapters/`.
    chapter: &'static str,
    /// The row's "what" and "measured" cells, or `None` when the report lacks them.
    cells: fn(&EvalReport) -> Option<(String, String)>,
}

/// README's results table, top to bottom.
const HEADLINES: &[Headline] = &[
    Headline {
        report: "eval-shipped.json",
        chapter: "13-training.md",
        cells: |e| {
            sample_cells(
                e,
                &format!(
                    "of the shipped weights (`weights/default`, {} steps)",
                    thousands(e.config.steps)
                ),
            )
        },
    },
    Headline {
        report: "eval-shipped.json",
        chapter: "13-training.md",
        cells: |e| {
            let b = e.bound.as_ref()?;
            let p = b.parts.iter().find(|p| p.variance == "posterior_beta")?;
            Some((
                format!(
                    "bound on {} test digits, shipped weights, σ² = β̃",
                    thousands(b.images)
                ),
                format!("{:.3} ± {:.3} bits/dim", p.bits_per_dim, p.standard_error),
            ))
        },
    },
    Headline {
        report: "eval-default-run.json",
        chapter: "13-training.md",
        cells: |e| {
            sample_cells(
                e,
                &format!(
                    "of the default 20-minute run (`ddpm train`, {} steps)",
                    thousands(e.config.steps)
                ),
            )
        },
    },
    Headline {
        report: "eval-default.json",
        chapter: "15-likelihood.md",
        cells: |e| {
            let b = e.bound.as_ref()?;
            let p = b.parts.iter().find(|p| p.variance == "posterior_beta")?;
            let all = match &e.quality {
                Some(q) if q.test_images == b.images => "all ",
                _ => "",
            };
            Some((
                format!(
                    "bound on {all}{} test digits, 1,200-step run (`weights/run-20min`), σ² = β̃",
                    thousands(b.images)
                ),
                format!("{:.3} ± {:.3} bits/dim", p.bits_per_dim, p.standard_error),
            ))
        },
    },
    Headline {
        report: "eval-default.json",
        chapter: "16-sample-quality.md",
        cells: |e| sample_cells(e, "of the 1,200-step run (`weights/run-20min`)"),
    },
    Headline {
        report: "eval-20min-patched-6800-steps-1000-samples.json",
        chapter: "recipes.md",
        cells: |e| {
            sample_cells(
                e,
                &format!(
                    "of the `patched` preset after {} steps",
                    thousands(e.config.steps)
                ),
            )
        },
    },
    Headline {
        report: "eval-shipped-autoguided.json",
        chapter: "18-conditional.md",
        cells: |e| {
            let g = e.guide.as_ref()?;
            sample_cells(
                e,
                &format!(
                    "of the shipped weights autoguided by `{}` at w = {}",
                    g.weights, g.w
                ),
            )
        },
    },
    Headline {
        report: "eval-distilled.json",
        chapter: "18-conditional.md",
        cells: |e| {
            let d = e.config.distill.as_ref()?;
            sample_cells(
                e,
                &format!(
                    "of `{}` alone, distilled from `{}` autoguided by `{}` at w = {}",
                    e.weights, d.teacher, d.guide, d.weight
                ),
            )
        },
    },
];

/// The cells of a report's first sampler: its samples, and FLD, confident share, entropy.
fn sample_cells(e: &EvalReport, of: &str) -> Option<(String, String)> {
    let q = e.quality.as_ref()?;
    let row = q.samplers.first()?;
    let x = &row.quality;
    Some((
        format!(
            "{} samples {of}, {}",
            thousands(x.count),
            row.sampler.replace(" eta=", ", η = ")
        ),
        format!(
            "FLD {:.1} (floor {:.1}), {} confident, label entropy {:.3}",
            x.fld,
            q.floor.fld,
            percent(x.confident_share),
            x.label_entropy
        ),
    ))
}

/// README's results table (the lines between the markers), so that its numbers, too, are
/// read from the reports rather than typed.
fn readme_table(root: &Path, reports: &[Report]) -> Result<String> {
    let mut s = String::from(
        "| what (report in `chapters/output/`) | measured | chapter |\n|---|---|---|\n",
    );
    for h in HEADLINES {
        let report = reports
            .iter()
            .find(|r| r.name == h.report)
            .with_context(|| format!("README's results table needs {REPORTS}/{}", h.report))?;
        let (what, measured) = (h.cells)(&report.parse()?)
            .with_context(|| format!("{}: no figures for README's results table", h.report))?;
        let text = std::fs::read_to_string(root.join("chapters").join(h.chapter))
            .with_context(|| format!("chapters/{}", h.chapter))?;
        writeln!(
            s,
            "| {what} (`{}`) | {measured} | [{}](chapters/{}) |",
            h.report,
            chapter_label(h.chapter, &text),
            h.chapter
        )?;
    }
    Ok(s)
}

/// `readme` with the lines between the markers replaced by `table`.
fn splice_readme(readme: &str, table: &str) -> Result<String> {
    let (Some(begin), Some(end)) = (readme.find(README_BEGIN), readme.find(README_END)) else {
        bail!(
            "{README} lacks the lines\n  {README_BEGIN}\n  {README_END}\naround its results table"
        );
    };
    let after_begin = begin + README_BEGIN.len() + 1; // and its newline
    if end < after_begin {
        bail!("{README}: {README_END:?} comes before {README_BEGIN:?}");
    }
    // A blank line ends the table before the closing comment.
    Ok(format!(
        "{}{table}\n{}",
        &readme[..after_begin],
        &readme[end..]
    ))
}

// ------------------------------------------------------------------------------------------
// Formatting

/// `280177` as `280,177`, the way the chapters write numbers.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `0.724` as `72.4%`.
fn percent(share: f64) -> String {
    format!("{:.1}%", 100.0 * share)
}

/// A label histogram as counts separated by spaces.
fn histogram(counts: &[usize]) -> String {
    counts
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

// ------------------------------------------------------------------------------------------
// Citations: which chapters name which report

/// For each report file, links to the chapters that name it.
struct Citations(BTreeMap<String, Vec<String>>);

impl Citations {
    /// Searches every chapter (but this page) for `chapters/output/PATTERN` and matches each
    /// pattern against the report names.
    fn find(root: &Path, names: &[String]) -> Result<Self> {
        let mut chapters = Vec::new();
        for entry in std::fs::read_dir(root.join("chapters"))? {
            let path = entry?.path();
            let file = file_name(&path)?;
            if file.ends_with(".md") && format!("chapters/{file}") != PAGE && file != "SUMMARY.md" {
                chapters.push((file, std::fs::read_to_string(&path)?));
            }
        }
        chapters.sort();
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (file, text) in &chapters {
            let patterns: Vec<&str> = text
                .match_indices("chapters/output/")
                .map(|(i, m)| {
                    let rest = &text[i + m.len()..];
                    let end = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || "._-*".contains(c)))
                        .unwrap_or(rest.len());
                    &rest[..end]
                })
                .collect();
            let link = format!("[{}]({file})", chapter_label(file, text));
            for name in names {
                if patterns.iter().any(|p| glob_match(p, name)) {
                    map.entry(name.clone()).or_default().push(link.clone());
                }
            }
        }
        Ok(Self(map))
    }

    /// The chapters citing `name`, as links, or `-`.
    fn of(&self, name: &str) -> String {
        self.0
            .get(name)
            .map_or_else(|| "-".to_string(), |links| links.join(", "))
    }
}

/// A chapter's number from its heading (`# 17. Samplers compared` gives `17`), else the heading.
fn chapter_label(file: &str, text: &str) -> String {
    let heading = text
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or(file)
        .trim();
    match heading.split_once(". ") {
        Some((number, _)) if number.chars().all(|c| c.is_ascii_digit()) => number.to_string(),
        _ => heading.to_string(),
    }
}

/// Whether `name` matches `pattern`, in which each `*` stands for any run of characters.
fn glob_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*`: the whole name
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

// ------------------------------------------------------------------------------------------

fn file_name(path: &Path) -> Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .with_context(|| format!("{}: not a UTF-8 file name", path.display()))
}

/// Every report under `root`, sorted by name.
fn read_reports(root: &Path) -> Result<Vec<Report>> {
    let mut reports = Vec::new();
    for entry in std::fs::read_dir(root.join(REPORTS)).context(REPORTS)? {
        let path = entry?.path();
        let name = file_name(&path)?;
        if name.ends_with(".json") {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("{REPORTS}/{name}"))?;
            reports.push(Report { name, text });
        }
    }
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(reports)
}

/// The whole page, from the reports under `root`.
fn render(root: &Path, reports: &[Report]) -> Result<String> {
    let names: Vec<String> = reports.iter().map(|r| r.name.clone()).collect();
    let cited = Citations::find(root, &names)?;

    if let Some(r) = reports
        .iter()
        .find(|r| !KINDS.iter().any(|k| r.name.starts_with(k.prefix)))
    {
        bail!(
            "{REPORTS}/{} is no kind of report the results page knows: add a Kind for it to \
             KINDS in examples/results_page.rs",
            r.name
        );
    }

    let mut page = format!(
        "# Results\n\n\
         <!-- Written by examples/results_page.rs from chapters/output/*.json; do not edit: \
         run `{REGENERATE}`. -->\n\n\
         Every number on this page is read from a JSON report in `chapters/output/` by \
         `examples/results_page.rs`, which writes the page (`{REGENERATE}`); the check \
         command fails when the page and the reports disagree. Each row names its report. \
         The command that wrote a report and the machine it ran on are stated where the \
         report is cited (the chapters in the *cited in* column).\n\n"
    );
    for kind in KINDS {
        let own: Vec<&Report> = reports
            .iter()
            .filter(|r| r.name.starts_with(kind.prefix))
            .collect();
        if !own.is_empty() {
            page.push_str(&(kind.render)(&own, &cited)?);
            page.push('\n');
        }
    }
    // One trailing newline.
    while page.ends_with("\n\n") {
        page.pop();
    }
    Ok(page)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.as_slice() {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: results_page [--check]"),
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let reports = read_reports(&root)?;
    let readme = std::fs::read_to_string(root.join(README)).context(README)?;
    // Each file this program writes, with what it should hold.
    let outputs = [
        (PAGE, render(&root, &reports)?),
        (
            README,
            splice_readme(&readme, &readme_table(&root, &reports)?)?,
        ),
    ];
    for (file, generated) in &outputs {
        let path = root.join(file);
        if check {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed == *generated {
                continue;
            }
            let line = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
            eprintln!(
                "{file} differs from what {REPORTS}/*.json give (first at line {}):\n  \
                 committed: {}\n  generated: {}\nrun\n  {REGENERATE}\nand commit the result",
                line + 1,
                committed.lines().nth(line).unwrap_or("(end of file)"),
                generated.lines().nth(line).unwrap_or("(end of file)"),
            );
            std::process::exit(1);
        } else {
            std::fs::write(&path, generated).with_context(|| file.to_string())?;
            println!("wrote {file}");
        }
    }
    if check {
        println!(
            "{PAGE} and {README}'s results table match the {} reports",
            reports.len()
        );
    }
    Ok(())
}
