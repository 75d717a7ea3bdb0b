//! What the guest tests of this crate share: the root/tool gate, one booted guest of
//! `scripts/kernel-vm` (its run directory and network namespace, torn down when dropped) and
//! the examples they run in it, built for the test's own profile.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Says loudly that `test` did not run and why; a failure under `CI=true`.
pub fn skip(test: &str, why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} cannot run under CI=true: {why}");
    }
    eprintln!("\n*** SKIPPED {test}: {why} ***\n");
}

pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// One guest with its own run directory and namespace; stopped by `down.sh` (qemu by its
/// pid file) when dropped.
pub struct Guest {
    scripts: PathBuf,
    pub run: PathBuf,
    pub netns: String,
}

impl Guest {
    fn script(&self, name: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(self.scripts.join(name))
            .env("KVMPEER_RUN", &self.run)
            .env("KVMPEER_NETNS", &self.netns);
        c
    }

    /// Boots a guest whose run directory and namespace are named by `tag` and `ns` (each
    /// with this process's pid, so concurrent runs do not meet).
    pub fn boot(scripts: PathBuf, tag: &str, ns: &str) -> Result<Self, String> {
        let pid = std::process::id();
        let guest = Guest {
            run: PathBuf::from(format!("/var/tmp/l2tp-rs-kvm/run-{tag}-{pid}")),
            netns: format!("l2tprs-{ns}{pid}"),
            scripts,
        };
        let out = guest
            .script("up.sh")
            .output()
            .map_err(|e| format!("up.sh: {e}"))?;
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            return Err(format!(
                "up.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(guest)
    }

    /// The directory the guest sees as `/host`.
    pub fn share(&self) -> PathBuf {
        self.run.join("share")
    }

    /// Runs `cmd` in the guest (`limit` seconds at most); its exit code and output.
    pub fn run_for(&self, limit: u32, cmd: &str) -> (i32, String) {
        let out: Output = self
            .script("guest-run.sh")
            .args(["-t", &limit.to_string(), cmd])
            .output()
            .expect("guest-run.sh");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("guest$ {cmd}\n{text}");
        (out.status.code().unwrap_or(-1), text)
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.script("down.sh").output();
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

/// An example of this crate, built for this profile next to this test's own binary.
pub fn example_binary(name: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root())
        .args(["build", "--quiet", "-p", "l2tp-io", "--example", name]);
    // this test binary is target/<profile>/deps/<test>-…; the example goes to
    // target/<profile>/examples/
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("test binary path")?
        .to_path_buf();
    if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    let st = cmd.status().map_err(|e| format!("cargo build: {e}"))?;
    if !st.success() {
        return Err(format!("cargo build --example {name} failed"));
    }
    let bin = profile_dir.join("examples").join(name);
    if !bin.exists() {
        return Err(format!("{} missing after the build", bin.display()));
    }
    Ok(bin)
}
