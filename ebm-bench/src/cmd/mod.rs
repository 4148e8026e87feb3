//! The subcommands of `ebm`, as functions returning their JSON report.

pub mod data;
pub mod energy;
pub mod eval;
pub mod kernels;
pub mod logz;
pub mod merge;
pub mod plot;
pub mod sample;
pub mod train;
pub mod train_log;

use clap::{Parser, Subcommand};

/// Energy-based models from the command line.
#[derive(Debug, Parser)]
#[command(name = "ebm", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute log Z of a model.
    Logz(logz::LogzArgs),
    /// Evaluate a model's energy (and gradient) at points from a CSV or .npy file.
    Energy(energy::EnergyArgs),
    /// Write a toy data set (two-moons, rings, eight-gaussians, ...) or the
    /// 8x8 digits as CSV or .npy.
    Data(data::DataArgs),
    /// Measure a model against data: held-out NLL, MMD, kernel Stein
    /// discrepancy or Fisher divergence.
    Eval(eval::EvalArgs),
    /// Draw samples with ULA, MALA, HMC or Gibbs and report diagnostics.
    Sample(sample::SampleArgs),
    /// Train a model file on data with CD, PCD, a replay buffer, DSM or NCE.
    Train(Box<train::TrainArgs>),
    /// Merge the shards of a sampling run (`sample --first-chain`): the
    /// draws and report of one process with all the chains, bit for bit.
    Merge(merge::MergeArgs),
    /// Draw a figure from files: grids of image samples beside the data.
    Plot(plot::PlotArgs),
    /// Run the benchmark workloads and write results.json, results.md and plots.
    Suite(crate::suite::SuiteArgs),
}

pub use crate::report::Report;

/// A command line that did not run: its one-line message and the exit
/// status the command gives it (2 for bad input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The message, one line, without the `ebm: error:` prefix.
    pub message: String,
    /// The exit status.
    pub status: u8,
}

/// Clap's usage errors span several lines; the command contract is one
/// line on stderr, so keep the message and its hints and drop the usage
/// block.
pub fn one_line(e: &clap::Error) -> String {
    e.render()
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(|l| l.trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parse and run one command line (`argv[0]` is the program name) in this
/// process, as `ebm` would: the report, or the refusal with the message
/// and status the command prints. What the Python package calls.
pub fn run_argv<I, T>(argv: I) -> Result<Report, Refusal>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    let cli = Cli::try_parse_from(argv).map_err(|e| Refusal {
        message: format!("{} (see ebm --help)", one_line(&e)),
        status: 2,
    })?;
    run(&cli).map(|(report, _)| report).map_err(|e| Refusal {
        message: e.to_string(),
        status: e.exit_code(),
    })
}

/// Run one parsed command line.
pub fn run(cli: &Cli) -> crate::CliResult<(Report, bool)> {
    match &cli.command {
        Command::Logz(a) => Ok((logz::run(a)?, a.json)),
        Command::Energy(a) => Ok((energy::run(a)?, a.json)),
        Command::Data(a) => Ok((data::run(a)?, a.json)),
        Command::Eval(a) => Ok((eval::run(a)?, a.json)),
        Command::Sample(a) => Ok((sample::run_sample(a)?, a.json)),
        Command::Train(a) => Ok((train::run(a)?, a.json)),
        Command::Merge(a) => Ok((merge::run(a)?, a.json)),
        Command::Plot(a) => Ok((plot::run(a)?, a.json)),
        Command::Suite(a) => Ok((crate::suite::run_suite(a)?, a.json)),
    }
}
