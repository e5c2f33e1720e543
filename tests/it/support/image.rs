//! A tiny image made offline: `docker import` of a rootfs holding Debian
//! busybox-static's /bin/busybox plus applet symlinks, imported into the
//! shared dockerd once per test binary.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::dockerd;

pub const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh",
    "echo",
    "sleep",
    "cat",
    "ls",
    "head",
    "sha256sum",
    "dd",
    "true",
    "false",
    "wc",
    "tr",
    "mkdir",
    "rm",
    "env",
    "tty",
    "id",
    "yes",
    "seq",
];

/// The rootfs as a tar stream.
pub fn rootfs_tar() -> Vec<u8> {
    let bin = std::fs::read(BUSYBOX)
        .unwrap_or_else(|e| panic!("{BUSYBOX}: {e} (install the Debian package busybox-static)"));
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = |path: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_cksum();
        b.append_data(&mut h, path, std::io::empty()).unwrap();
    };
    for d in ["bin", "tmp", "etc", "proc", "sys", "dev"] {
        dir(d);
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(bin.len() as u64);
    h.set_cksum();
    b.append_data(&mut h, "bin/busybox", bin.as_slice())
        .unwrap();
    for a in APPLETS {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{a}"), "busybox")
            .unwrap();
    }
    b.into_inner().unwrap()
}

/// `dctx-busybox:it` in the shared dockerd (imported on first use).
pub fn busybox_image() -> &'static str {
    static IMG: OnceLock<&'static str> = OnceLock::new();
    IMG.get_or_init(|| {
        let name = "dctx-busybox:it";
        let d = dockerd();
        let mut child = Command::new("docker")
            .env("DOCKER_HOST", format!("unix://{}", d.socket.display()))
            .args([
                "import",
                "--change",
                "ENV PATH=/bin",
                "--change",
                "CMD [\"sh\"]",
                "-",
                name,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker CLI (Debian docker.io)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&rootfs_tar())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "docker import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        name
    })
}
