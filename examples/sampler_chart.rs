//! Chapter 17's figure from `ddpm eval` reports: `cargo run --release --example sampler_chart
//! -- OUT.svg eval-a.json [eval-b.json ...]` (rows of all reports, floor of the first). Thin
//! launcher over `ddpm::workflows::eval_report::sampler_chart`.

use ddpm::workflows::eval_report::{EvalReport, sampler_chart};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, reports)) = args.split_first().filter(|(_, r)| !r.is_empty()) else {
        anyhow::bail!("usage: sampler_chart OUT.svg|OUT.png EVAL.json [EVAL.json ...]");
    };
    let mut rows = Vec::new();
    let mut floor = None;
    for path in reports {
        let report: EvalReport = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let quality = report
            .quality
            .ok_or_else(|| anyhow::anyhow!("{path} has no quality table (ran with --samples 0)"))?;
        floor.get_or_insert(quality.floor.fld);
        rows.extend(quality.samplers);
    }
    sampler_chart(&rows, floor.unwrap_or(0.0)).write(out)?;
    println!("wrote {out} ({} samplers)", rows.len());
    Ok(())
}
