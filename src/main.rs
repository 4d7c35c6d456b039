//! The `gncond` executable: parse the command line, run it, map an error to its exit code
//! (see `gncond --help` and `gncond::error`).

use clap::Parser;

fn main() {
    let cli = gncond::cli::Cli::parse();
    if let Err(e) = gncond::cli::dispatch(cli) {
        eprintln!("gncond: {e}");
        std::process::exit(e.exit_code());
    }
}
