//! The kernel-vm guest (`scripts/kernel-vm`): a Debian kernel with `l2tp_ppp` under qemu,
//! built from Debian's packages and booted in a network namespace of its own, for the
//! tests of the kernel datapath. Without root, qemu or apt a test says so loudly and
//! returns, and fails under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One guest with its own run directory and namespace; stopped (qemu by its pid file, the
/// namespace deleted) when dropped.
pub struct Guest {
    scripts: PathBuf,
    run: PathBuf,
    /// `KVMPEER_*` settings of a non-default image (its directory, extra packages).
    image: Vec<(String, String)>,
    /// The host-side namespace (tap at 198.51.100.1, the guest at 198.51.100.2).
    pub netns: String,
}

impl Guest {
    fn script(&self, name: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg(self.scripts.join(name))
            .env("KVMPEER_RUN", &self.run)
            .env("KVMPEER_NETNS", &self.netns)
            .envs(self.image.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Builds the image if needed and boots a guest; `None` when it cannot, said loudly by
    /// the gate (a failure under `CI=true`).
    pub fn boot(tag: &str, test: &str) -> Option<Guest> {
        Self::boot_image(tag, test, &[])
    }

    /// Like [`Guest::boot`], from an image with `KVMPEER_*` settings of its own (`KVMPEER_DIR`
    /// for where it is kept, `KVMPEER_EXTRA_*` for what it adds; see scripts/kernel-vm).
    pub fn boot_image(tag: &str, test: &str, image: &[(&str, &str)]) -> Option<Guest> {
        let image: Vec<(String, String)> = image
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let dir = image
            .iter()
            .find(|(k, _)| k == "KVMPEER_DIR")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "/var/tmp/l2tp-rs-kvm".into());
        let needs = [
            ("root", l2tp_mgmt::is_root()),
            ("apt-get", super::have_tool("apt-get")),
            (
                "qemu-system-x86_64 (package qemu-system-x86)",
                super::have_tool("qemu-system-x86_64"),
            ),
        ];
        if !super::requires(test, &needs) {
            return None;
        }
        let scripts = repo_root().join("scripts/kernel-vm");
        let out = Command::new("bash")
            .arg(scripts.join("build.sh"))
            .arg("--if-needed")
            .envs(image.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("bash build.sh");
        if !out.status.success() {
            let why = format!(
                "the guest image (build.sh failed: {})",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            super::requires(test, &[(why.as_str(), false)]);
            return None;
        }
        let pid = std::process::id();
        let guest = Guest {
            run: PathBuf::from(format!("{dir}/run-{tag}-{pid}")),
            netns: format!("l2tprs-{tag}{pid}"),
            scripts,
            image,
        };
        let out = guest.script("up.sh").output().expect("bash up.sh");
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            // up.sh cleans up after itself; the guest is not ours to stop.
            panic!(
                "the guest did not boot: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Some(guest)
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

    /// Runs `cmd` in the guest (`secs` limit); its exit code and output.
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

/// A binary of this workspace built for the profile of the running test (`cargo build -p
/// PACKAGE --bin NAME`).
pub fn workspace_binary(package: &str, name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test>-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_path_buf();
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root())
        .args(["build", "--quiet", "-p", package, "--bin", name]);
    if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    assert!(
        cmd.status().expect("cargo build").success(),
        "cargo build {name}"
    );
    let bin = profile_dir.join(name);
    assert!(bin.exists(), "{} missing after the build", bin.display());
    bin
}
