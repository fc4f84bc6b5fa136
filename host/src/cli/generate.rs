//! `ward __generate --out-dir DIR` (hidden): shell completions and man pages
//! written from the same clap definition the binary parses with, so they
//! never drift from it. Run by the packaging (packaging/build-deb), not at
//! every build.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::CliError;

/// Arguments of `ward __generate`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to write `completions/` (bash, zsh, fish) and `man/` (ward.1
    /// and one page per subcommand).
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut command = super::Cli::command();
    command.build();
    let completions = args.out_dir.join("completions");
    let man = args.out_dir.join("man");
    for dir in [&completions, &man] {
        std::fs::create_dir_all(dir).map_err(|e| failed(dir, &e))?;
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command, "ward", &completions).map_err(|e| failed(&completions, &e))?;
    }
    page(&command, &man, "ward")?;
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set() && sub.get_name() != "help") {
        page(sub, &man, &format!("ward-{}", sub.get_name()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `<name>.1`.
fn page(command: &clap::Command, dir: &Path, name: &str) -> Result<(), CliError> {
    let command = command.clone().display_name(name.to_owned());
    let mut roff = Vec::new();
    clap_mangen::Man::new(command).render(&mut roff).map_err(|e| failed(dir, &e))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, roff).map_err(|e| failed(&path, &e))
}

fn failed(path: &Path, err: &std::io::Error) -> CliError {
    CliError::new(format!("cannot write {}: {}", path.display(), err.kind()))
}
