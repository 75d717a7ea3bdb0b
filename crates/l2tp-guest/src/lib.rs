//! The test kit of the guest tests (`kernel_guest` and `pppoe_guest` in l2tp-io,
//! `kernel_datapath` in l2tpd): the gate of tests that need root or tools (SKIPPED loudly,
//! a failure under `CI=true`), one booted guest of `scripts/kernel-vm` (a Debian kernel with
//! `l2tp_ppp` and `pppoe` under qemu, in a network namespace of its own; its run directory
//! and namespace torn down when dropped), and the workspace's binaries and examples built
//! for the running test's profile, to run in it through the 9p share.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The gate of tests that need root, namespaces, TUN or tools: true when every need holds;
/// otherwise the test says so loudly (SKIPPED, and why) and, under `CI=true`, fails — such
/// tests are part of the suite, CI runs as root with the tools installed.
pub fn requires(test: &str, needs: &[(&str, bool)]) -> bool {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("SKIPPED {test}: needs {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}, and CI=true");
    }
    eprintln!("\n*** {msg} ***\n");
    false
}

/// Says loudly that `test` did not run and why; a failure under `CI=true`.
pub fn skip(test: &str, why: &str) {
    requires(test, &[(why, false)]);
}

/// This process runs as root.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `cmd` is on the PATH.
pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The guest's scripts.
pub fn scripts() -> PathBuf {
    repo_root().join("scripts/kernel-vm")
}

/// Builds the guest image unless it is cached (`build.sh --if-needed`); the error says why
/// it did not build.
pub fn build_image() -> Result<(), String> {
    build_image_with(&[])
}

/// Like [`build_image`], for an image with `KVMPEER_*` settings of its own (`KVMPEER_DIR`
/// for where it is kept, `KVMPEER_EXTRA_*` for what it adds; see scripts/kernel-vm).
pub fn build_image_with(image: &[(&str, &str)]) -> Result<(), String> {
    let out = Command::new("bash")
        .arg(scripts().join("build.sh"))
        .arg("--if-needed")
        .envs(image.iter().copied())
        .output()
        .map_err(|e| format!("bash build.sh: {e}"))?;
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the guest image did not build (apt-get update done? network?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// One guest with its own run directory and namespace; stopped by `down.sh` (qemu by its
/// pid file, the namespace deleted) when dropped.
pub struct Guest {
    /// Its run directory (qemu's pid file, console log, the share).
    pub run: PathBuf,
    /// The host-side namespace (tap at 198.51.100.1, the guest at 198.51.100.2).
    pub netns: String,
    /// `KVMPEER_*` settings of a non-default image.
    image: Vec<(String, String)>,
}

impl Guest {
    fn script(&self, name: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(scripts().join(name))
            .env("KVMPEER_RUN", &self.run)
            .env("KVMPEER_NETNS", &self.netns)
            .envs(self.image.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Boots a guest (the image must be built) whose run directory and namespace are named
    /// by `tag` and `ns` (each with this process's pid, so concurrent runs do not meet).
    pub fn boot(tag: &str, ns: &str) -> Result<Guest, String> {
        Self::boot_image(tag, ns, &[])
    }

    /// Like [`Guest::boot`], from an image with `KVMPEER_*` settings of its own (see
    /// [`build_image_with`]); its run directory is under that image's `KVMPEER_DIR`.
    pub fn boot_image(tag: &str, ns: &str, image: &[(&str, &str)]) -> Result<Guest, String> {
        let pid = std::process::id();
        let dir = image
            .iter()
            .find(|(k, _)| *k == "KVMPEER_DIR")
            .map(|(_, v)| *v)
            .unwrap_or("/var/tmp/l2tp-rs-kvm");
        let guest = Guest {
            run: PathBuf::from(format!("{dir}/run-{tag}-{pid}")),
            netns: format!("l2tprs-{ns}{pid}"),
            image: image
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
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

    /// Passes the gate (root, apt, qemu), builds the image if needed and boots a guest named
    /// by `tag`; `None` when it cannot, said loudly (a failure under `CI=true`). A guest that
    /// does not boot is a failure.
    pub fn start(tag: &str, test: &str) -> Option<Guest> {
        Self::start_image(tag, test, &[])
    }

    /// Like [`Guest::start`], from an image with `KVMPEER_*` settings of its own (see
    /// [`build_image_with`]).
    pub fn start_image(tag: &str, test: &str, image: &[(&str, &str)]) -> Option<Guest> {
        let needs = [
            ("root", is_root()),
            ("apt-get", have("apt-get")),
            (
                "qemu-system-x86_64 (package qemu-system-x86)",
                have("qemu-system-x86_64"),
            ),
        ];
        if !requires(test, &needs) {
            return None;
        }
        if let Err(why) = build_image_with(image) {
            skip(test, &why);
            return None;
        }
        Some(
            Guest::boot_image(tag, tag, image)
                .unwrap_or_else(|e| panic!("the guest did not boot: {e}")),
        )
    }

    /// The host directory the guest sees as `/host`.
    pub fn share(&self) -> PathBuf {
        self.run.join("share")
    }

    /// Copies a file into the share (`/host/NAME` in the guest).
    pub fn put(&self, from: &Path, name: &str) {
        std::fs::copy(from, self.share().join(name))
            .unwrap_or_else(|e| panic!("copy {} into the share: {e}", from.display()));
    }

    /// Runs `cmd` in the guest (`secs` seconds at most); its exit code and output.
    pub fn run(&self, secs: u32, cmd: &str) -> (i32, String) {
        let out = self
            .script("guest-run.sh")
            .args(["-t", &secs.to_string(), cmd])
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

    /// Runs `cmd` in the guest and insists that it succeeds; its output.
    pub fn ok(&self, cmd: &str) -> String {
        let (rc, out) = self.run(60, cmd);
        assert_eq!(rc, 0, "guest command failed: {cmd}\n{out}");
        out
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.script("down.sh").output();
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

/// `cargo build -p PACKAGE ARGS…` for the running test's profile; the profile's target
/// directory (this test binary is `target/<profile>/deps/<test>-<hash>`).
fn cargo_build(package: &str, args: &[&str]) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let exe = std::env::current_exe().map_err(|e| format!("test binary path: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("test binary path")?
        .to_path_buf();
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root())
        .args(["build", "--quiet", "-p", package])
        .args(args);
    if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    let st = cmd.status().map_err(|e| format!("cargo build: {e}"))?;
    if !st.success() {
        return Err(format!(
            "cargo build -p {package} {} failed",
            args.join(" ")
        ));
    }
    Ok(profile_dir)
}

fn existing(bin: PathBuf) -> Result<PathBuf, String> {
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!("{} missing after the build", bin.display()))
    }
}

/// An example of `package`, built for the running test's profile.
pub fn example_binary(package: &str, name: &str) -> Result<PathBuf, String> {
    let dir = cargo_build(package, &["--example", name])?;
    existing(dir.join("examples").join(name))
}

/// A binary of `package`, built for the running test's profile.
pub fn workspace_binary(package: &str, name: &str) -> PathBuf {
    cargo_build(package, &["--bin", name])
        .and_then(|dir| existing(dir.join(name)))
        .unwrap_or_else(|e| panic!("{e}"))
}
