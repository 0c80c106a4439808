//! Draws a run's loss curve: `cargo run --release --example loss_curve -- runs/small/loss.csv
//! loss.svg` (chapter 13's figure). Thin launcher over `ddpm::workflows::loss`.

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(csv), Some(out)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: loss_curve RUN/loss.csv OUT.svg|OUT.png");
    };
    let losses = ddpm::workflows::loss::read_loss_csv(std::path::Path::new(&csv))?;
    ddpm::workflows::loss::loss_chart(&losses, 100).write(&out)?;
    for (step, mean) in ddpm::workflows::loss::block_means(&losses, 100) {
        println!("steps up to {step:>5}: mean loss {mean:.4}");
    }
    println!("wrote {out}");
    Ok(())
}
