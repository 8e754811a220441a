//! Temporary directories for tests, some laid out like tracefs.

use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A directory removed (with its contents) on drop.
#[derive(Debug)]
pub(crate) struct TestDir(PathBuf);

impl TestDir {
    pub(crate) fn new(tag: &str) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("tprobe-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        Self(path)
    }

    /// A directory laid out like tracefs: README (6.18), empty `uprobe_events`,
    /// `dynamic_events`, `error_log`, and `instances/`.
    pub(crate) fn fake_tracefs(tag: &str) -> Self {
        let dir = Self::new(tag);
        let p = dir.path();
        std::fs::write(
            p.join("README"),
            include_bytes!("../../fixtures/readme/6.18.txt"),
        )
        .expect("README");
        for f in ["uprobe_events", "dynamic_events", "error_log"] {
            std::fs::write(p.join(f), b"").expect("events file");
        }
        std::fs::create_dir(p.join("instances")).expect("instances");
        dir
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
