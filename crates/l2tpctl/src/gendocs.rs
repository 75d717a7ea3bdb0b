//! `generate-docs` (hidden): man pages and shell completions generated from the command
//! line definition, so they never disagree with `--help`. The Debian package runs it at
//! build time (`scripts/package-deb.sh`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Writes `DIR/man/NAME.1`, one `DIR/man/NAME-SUB.1` per visible subcommand, and
/// `DIR/completions/{NAME.bash,_NAME,NAME.fish}`. Returns the files written.
pub fn write(mut cmd: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let name = cmd.get_name().to_string();
    let man_dir = dir.join("man");
    let comp_dir = dir.join("completions");
    fs::create_dir_all(&man_dir)?;
    fs::create_dir_all(&comp_dir)?;
    cmd.build();
    let mut written = Vec::new();
    let page = man_dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    fs::write(&page, buf)?;
    written.push(page);
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let sub_name = format!("{name}-{}", sub.get_name());
        let sub = sub
            .clone()
            .display_name(sub_name.clone())
            .bin_name(sub_name.replace('-', " "))
            .version(env!("CARGO_PKG_VERSION"));
        let page = man_dir.join(format!("{sub_name}.1"));
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub).render(&mut buf)?;
        fs::write(&page, buf)?;
        written.push(page);
    }
    for (shell, file) in [
        (Shell::Bash, format!("{name}.bash")),
        (Shell::Zsh, format!("_{name}")),
        (Shell::Fish, format!("{name}.fish")),
    ] {
        let path = comp_dir.join(file);
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd, &name, &mut buf);
        fs::write(&path, buf)?;
        written.push(path);
    }
    Ok(written)
}
