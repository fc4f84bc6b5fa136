//! Stamps the commit into `ward --version` (`WARD_GIT_HASH`): the short hash
//! of HEAD (not whether the tree differs from it, which would need a rerun
//! at every source change). A build from a
//! tarball has no `.git` and says `unknown`; a packager who knows the commit
//! sets `WARD_GIT_HASH` in the build's environment instead.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=WARD_GIT_HASH");
    let hash = std::env::var("WARD_GIT_HASH").ok().filter(|hash| !hash.is_empty()).or_else(from_git).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=WARD_GIT_HASH={hash}");
}

/// The hash from git, or `None` outside a checkout or without git.
fn from_git() -> Option<String> {
    // Read when the script runs, not baked in with `env!` when it is
    // compiled: two checkouts sharing a target directory share this
    // script's binary (cargo hashes a workspace member by its relative
    // path), and the other checkout's directory may be gone.
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).current_dir(&manifest_dir).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    // A tarball unpacked inside some other checkout must not take that
    // checkout's hash: the repository's top must be this workspace's.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let workspace = manifest_dir.parent()?;
    if Path::new(&top).canonicalize().ok()? != workspace.canonicalize().ok()? {
        return None;
    }
    let hash = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Rebuild when HEAD moves (a commit, a checkout, a reset); worktrees
    // keep these files apart, so ask git where they are.
    for file in ["HEAD", "logs/HEAD"] {
        if let Some(path) = git(&["rev-parse", "--git-path", file]) {
            let path = manifest_dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    Some(hash)
}
