//! `server.watchConfig`: a change to the config file asks for a reload, and
//! the reload is SIGHUP's own (`signals.rs`: revocations first, then the
//! atomic swap, coalesced with any running reload, audited the same way).
//! This file only decides *when* to ask.
//!
//! The config's directory is watched, not the file: editors replace the file
//! by renaming a new one over it, and a Kubernetes ConfigMap volume never
//! changes `ward.json` at all (a symlink to `..data/ward.json`) but swaps the
//! `..data` symlink to a new timestamped directory. So a change is any
//! create, write, rename or removal of an entry named like the config file or
//! `..data`; reads and metadata changes are not (a reload reads the file,
//! and must not trigger another), nor is anything else in the directory (the
//! audit log may sit beside the config). Changes within [`QUIET`] of each
//! other make one reload: a save is several events.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tracing::{info, warn};

use super::ServerError;

/// How long the directory must stay quiet after a change before the reload
/// is asked for.
pub(crate) const QUIET: Duration = Duration::from_millis(300);
/// The link a Kubernetes ConfigMap or Secret volume swaps on every update.
const KUBERNETES_DATA: &str = "..data";

/// A running watch; dropping it stops watching.
pub(crate) struct ConfigWatch {
    _watcher: RecommendedWatcher,
}

/// Starts watching `config`'s directory. The receiver yields once per
/// settled change.
pub(crate) fn start(config: &Path) -> Result<(ConfigWatch, mpsc::Receiver<()>), ServerError> {
    let dir = match config.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = config.file_name().map(OsString::from).unwrap_or_default();
    // One slot is enough: a change that finds it full is already covered by
    // the change waiting there.
    let (raw_tx, raw_rx) = mpsc::channel(1);
    let failed = |source: notify::Error| ServerError::Watch { dir: dir.clone(), problem: source.to_string() };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(event) if is_change(&event, &name) => {
            let _ = raw_tx.try_send(());
        }
        Ok(_) => {}
        // The watch may have lost events (an inotify queue overflow):
        // reloading is the safe reading of that.
        Err(err) => {
            warn!(error = %err, "config watch error; reloading to be safe");
            let _ = raw_tx.try_send(());
        }
    })
    .map_err(failed)?;
    watcher.watch(&dir, RecursiveMode::NonRecursive).map_err(failed)?;
    info!(dir = %dir.display(), "watching the config for changes (server.watchConfig)");
    let (settled_tx, settled_rx) = mpsc::channel(1);
    tokio::spawn(settle(raw_rx, settled_tx, QUIET));
    Ok((ConfigWatch { _watcher: watcher }, settled_rx))
}

/// Whether `event` changes the config: a create, a write, a rename or a
/// removal of the config's own name or of Kubernetes' `..data`.
fn is_change(event: &notify::Event, config_name: &OsString) -> bool {
    let changes = match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) | EventKind::Any | EventKind::Other => true,
        EventKind::Access(_) => false,
    };
    changes && event.paths.iter().filter_map(|path| path.file_name()).any(|name| name == config_name.as_os_str() || name == KUBERNETES_DATA)
}

/// Passes one signal on per burst of changes, once `quiet` has passed
/// without another.
async fn settle(mut raw: mpsc::Receiver<()>, settled: mpsc::Sender<()>, quiet: Duration) {
    while raw.recv().await.is_some() {
        while let Ok(Some(())) = timeout(quiet, raw.recv()).await {}
        // Full: a reload is already asked for and not yet started.
        if let Err(mpsc::error::TrySendError::Closed(())) = settled.try_send(()) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{AccessKind, CreateKind, DataChange, MetadataKind, RenameMode};

    use super::*;

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn only_changes_to_the_config_or_the_kubernetes_link_count() {
        let name = OsString::from("ward.json");
        let counts = |kind, path| is_change(&event(kind, path), &name);
        assert!(counts(EventKind::Modify(ModifyKind::Data(DataChange::Any)), "/etc/ward/ward.json"));
        assert!(counts(EventKind::Create(CreateKind::File), "/etc/ward/ward.json"));
        assert!(counts(EventKind::Modify(ModifyKind::Name(RenameMode::To)), "/etc/ward/..data"));
        assert!(counts(EventKind::Remove(notify::event::RemoveKind::Any), "ward.json"));
        // A reload reads the file; that must not ask for another reload.
        assert!(!counts(EventKind::Access(AccessKind::Any), "/etc/ward/ward.json"));
        assert!(!counts(EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)), "/etc/ward/ward.json"));
        // The audit log beside the config, and ConfigMap's timestamped directories.
        assert!(!counts(EventKind::Modify(ModifyKind::Data(DataChange::Any)), "/etc/ward/audit.log"));
        assert!(!counts(EventKind::Create(CreateKind::Folder), "/etc/ward/..2026_12_07_05_00_00.1"));
    }

    #[tokio::test]
    async fn a_burst_of_changes_is_one_reload() {
        // Far longer than the gaps, so a loaded machine cannot split the burst.
        let quiet = Duration::from_secs(1);
        let (raw_tx, raw_rx) = mpsc::channel(1);
        let (settled_tx, mut settled_rx) = mpsc::channel(1);
        tokio::spawn(settle(raw_rx, settled_tx, quiet));
        for _ in 0..5 {
            raw_tx.send(()).await.ok();
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert!(settled_rx.try_recv().is_err(), "asked before the burst settled");
        }
        assert_eq!(timeout(quiet * 5, settled_rx.recv()).await, Ok(Some(())));
        tokio::time::sleep(quiet * 2).await;
        assert!(settled_rx.try_recv().is_err(), "one burst, one reload");
    }
}
