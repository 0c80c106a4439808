//! Draws a run's loss curve: `cargo run --release --example loss_curve -- runs/small/loss.csv
//! loss.svg` (chapter 13's figure). Thin launcher over `ddpm::workflows::loss`.

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(csv), Some(out)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: loss_curve RUN/loss.csv OUT.svg|OUT.png");
    };
    let csv = std::path::Path::new(&csv);
    let losses = ddpm::workflows::loss::read_loss_csv(csv)?;
    // The run's config.json beside loss.csv says what the loss column holds (L_simple, or a
    // min-SNR-weighted loss); a loss.csv on its own is taken as L_simple.
    let config = csv.with_file_name("config.json");
    let gamma = if config.exists() {
        ddpm::workflows::checkpoint::read_config(&config)?.min_snr_gamma
    } else {
        None
    };
    let label = ddpm::workflows::loss::loss_label(gamma);
    ddpm::workflows::loss::loss_chart(&losses, 100, &label).write(&out)?;
    for (step, mean) in ddpm::workflows::loss::block_means(&losses, 100) {
        println!("steps up to {step:>5}: mean loss {mean:.4}");
    }
    println!("wrote {out}");
    Ok(())
}
