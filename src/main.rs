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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::BookFigures { out } => {
            let written = ddpm::book_figures::render_all(&out)?;
            println!("wrote {} figures to {}", written.len(), out.display());
        }
    }
    Ok(())
}
