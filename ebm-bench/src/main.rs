//! The `ebm` command. See the crate documentation of `ebm_bench`.

use clap::error::ErrorKind;
use clap::Parser;
use ebm_bench::cmd::{one_line, run, Cli};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => e.exit(),
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("ebm: error: {} (see ebm --help)", one_line(&e));
            return ExitCode::from(2);
        }
    };
    match run(&cli) {
        Ok((report, json)) => {
            if json {
                println!("{}", report.json);
            } else {
                println!("{}", report.text);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ebm: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
