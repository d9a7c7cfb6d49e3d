//! Shell completions and the manual page, both from the command's own
//! definitions (`clap_complete`, `clap_mangen`), so they never drift from
//! `--help`.

use clap::CommandFactory;

use crate::Cli;
use crate::exit::Failure;

/// Writes the completion script for `shell` to standard output.
///
/// # Errors
/// As [`crate::output::bytes`].
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "keyseal", &mut script);
    crate::output::bytes(&script, "the completion script")
}

/// Writes the manual page (roff) to standard output.
///
/// # Errors
/// Exit 6 when the page cannot be rendered; as [`crate::output::bytes`].
pub(crate) fn man_page() -> Result<(), Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| Failure::io(format!("could not render the manual page: {e}")))?;
    crate::output::bytes(&page, "the manual page")
}
