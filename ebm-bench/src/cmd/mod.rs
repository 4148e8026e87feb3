//! The subcommands of `ebm`, as functions returning their JSON report.

pub mod data;
pub mod energy;
pub mod eval;
pub mod kernels;
pub mod logz;
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
    /// Draw a figure from files: grids of image samples beside the data.
    Plot(plot::PlotArgs),
    /// Run the benchmark workloads and write results.json, results.md and plots.
    Suite(crate::suite::SuiteArgs),
}

pub use crate::report::Report;

/// Run one parsed command line.
pub fn run(cli: &Cli) -> crate::CliResult<(Report, bool)> {
    match &cli.command {
        Command::Logz(a) => Ok((logz::run(a)?, a.json)),
        Command::Energy(a) => Ok((energy::run(a)?, a.json)),
        Command::Data(a) => Ok((data::run(a)?, a.json)),
        Command::Eval(a) => Ok((eval::run(a)?, a.json)),
        Command::Sample(a) => Ok((sample::run_sample(a)?, a.json)),
        Command::Train(a) => Ok((train::run(a)?, a.json)),
        Command::Plot(a) => Ok((plot::run(a)?, a.json)),
        Command::Suite(a) => Ok((crate::suite::run_suite(a)?, a.json)),
    }
}
