//! A regular input file read through a read-only memory map, so chunks are slices of the
//! page cache instead of copies made by `read()` (the copy was most of the kernel time of
//! `tprobe replay`).
//!
//! Two things a map brings that reading does not, and what is done about them:
//! - A file truncated by another process while it is mapped raises SIGBUS on access past
//!   its new end. A [`SigbusGuard`] on the map's range turns that into a message and an
//!   exit code instead of a crash, and [`MappedInput::check_whole`] reports a shrink that
//!   did not fault (the last page reads as zeros past the new end).
//! - The pages of a map count in the process's RSS as they are touched, so a big file
//!   would grow it to the file's size: the pages of chunks already written are dropped
//!   from the map ([`MappedInput::release_before`]); they stay in the page cache.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;

use super::sigbus_guard::SigbusGuard;

/// A read-only map of a whole regular file.
#[derive(Debug)]
pub(crate) struct MappedInput {
    file: File,
    start: NonNull<u8>,
    len: usize,
    page: usize,
    /// Bytes from the start already dropped from the map (a multiple of `page`).
    released: AtomicUsize,
    /// Dropped before the map goes.
    guard: Option<SigbusGuard>,
}

// SAFETY: the map is read-only and only read through `&[u8]`; the one field that changes,
// `released`, is atomic. munmap on another thread than mmap's is fine.
unsafe impl Send for MappedInput {}
// SAFETY: as above.
unsafe impl Sync for MappedInput {}

impl MappedInput {
    /// Maps `file` if it is a non-empty regular file. Otherwise, or if mapping fails,
    /// gives the file back to be read instead. Should the file shrink while it is mapped,
    /// an access past its end writes `on_truncation` to stderr and exits with `exit_code`.
    pub(crate) fn new(file: File, on_truncation: &str, exit_code: i32) -> Result<Self, File> {
        let len = match file.metadata() {
            Ok(meta) if meta.is_file() && meta.len() > 0 => match usize::try_from(meta.len()) {
                Ok(len) => len,
                Err(_) => return Err(file),
            },
            _ => return Err(file),
        };
        // SAFETY: sysconf only reads a constant.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            n if n > 0 => n as usize,
            _ => return Err(file),
        };
        // SAFETY: a new read-only mapping chosen by the kernel, overlapping nothing of ours;
        // its pages are only read after the guard below is in place.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(file);
        }
        let Some(start) = NonNull::new(address.cast::<u8>()) else {
            return Err(file);
        };
        let base = start.as_ptr() as usize;
        let Some(guard) = SigbusGuard::new(base..base + len, on_truncation, exit_code) else {
            // SAFETY: the mapping just made, never read.
            unsafe { libc::munmap(address, len) };
            return Err(file);
        };
        // Read ahead further and drop pages behind sooner. Only advice: failure is harmless.
        // SAFETY: the range is the mapping; the advice changes no contents.
        unsafe { libc::madvise(address, len, libc::MADV_SEQUENTIAL) };
        Ok(MappedInput {
            file,
            start,
            len,
            page,
            released: AtomicUsize::new(0),
            guard: Some(guard),
        })
    }

    /// The file's bytes, as long as it was when mapped.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `start..start + len` is mapped readable until drop. Another process may
        // change the file under the map; the bytes are then what the kernel shows, as
        // with `read()`, and the decoder takes any bytes. A shrink past a page faults,
        // which the guard turns into an exit.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }

    /// Drops from the map the whole pages before the end of `done`, a slice of
    /// [`bytes`](Self::bytes) that will not be read again, so the map's RSS stays near
    /// what is in flight. The pages stay in the page cache; were they read again, they
    /// would fault back in with the same contents.
    pub(crate) fn release_before(&self, done: &[u8]) {
        let end = done.as_ptr() as usize + done.len();
        let offset = end
            .saturating_sub(self.start.as_ptr() as usize)
            .min(self.len);
        let upto = offset - offset % self.page;
        let from = self.released.load(Ordering::Relaxed);
        if upto <= from {
            return;
        }
        // SAFETY: page-aligned range inside the mapping. A read-only file mapping has no
        // private pages, so MADV_DONTNEED loses nothing: a later read gets the file's
        // page again.
        let rc = unsafe {
            libc::madvise(
                self.start.as_ptr().add(from).cast(),
                upto - from,
                libc::MADV_DONTNEED,
            )
        };
        if rc == 0 {
            self.released.store(upto, Ordering::Relaxed);
        }
    }

    /// An error if the file is now shorter than the map: a shrink during the read that
    /// did not fault (within the last page, which reads as zeros past the new end).
    pub(crate) fn check_whole(&self) -> io::Result<()> {
        let now = self.file.metadata()?.len();
        if now < self.len as u64 {
            return Err(io::Error::other(format!(
                "it shrank from {} to {now} bytes while it was read (truncated by another \
                 process?); the output is incomplete",
                self.len
            )));
        }
        Ok(())
    }
}

impl Drop for MappedInput {
    fn drop(&mut self) {
        // The guard first: once the range is unmapped, another map may take it.
        drop(self.guard.take());
        // SAFETY: the mapping made in `new`; `bytes()` borrows end with `self`.
        unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}

/// A file in the temporary directory, removed when dropped.
#[cfg(test)]
pub(super) struct TempFile(std::path::PathBuf);

#[cfg(test)]
impl TempFile {
    pub(super) fn new(bytes: &[u8]) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tprobe-mapped-{}-{n}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    pub(super) fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub(super) fn map(&self) -> MappedInput {
        MappedInput::new(File::open(&self.0).unwrap(), "test file truncated\n", 3)
            .expect("a regular file is mapped")
    }
}

#[cfg(test)]
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    use super::*;
    use crate::decode::decode_mapped;
    use crate::decode::EventCatalog;
    use crate::output::RecordFormat;

    /// Set in a child test process: the file it maps.
    const CHILD_ENV: &str = "TPROBE_MAPPED_INPUT_CHILD";
    const MESSAGE: &str = "tprobe replay: FILE shrank while it was read (truncated by another process?); output so far is incomplete\n";

    /// Records of several lines each, `bytes` long or a little more.
    fn trace_text(bytes: usize) -> Vec<u8> {
        let mut text = Vec::new();
        let mut i = 0;
        while text.len() < bytes {
            text.extend_from_slice(
                format!("   t-{i} [001] d..1. {i}.000001: e: s=\"a\nb\" n={i}\n => f{i}\n")
                    .as_bytes(),
            );
            i += 1;
        }
        text
    }

    /// Runs the ignored test `name` of this binary with `path` in CHILD_ENV.
    fn run_child(name: &str, path: &std::path::Path) -> std::process::Output {
        Command::new(std::env::current_exe().unwrap())
            .args([
                name,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, path)
            .output()
            .unwrap()
    }

    /// No core file from a child that is meant to die of SIGBUS.
    fn no_core_dump() {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads the struct.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) };
    }

    #[test]
    fn only_non_empty_regular_files_are_mapped() {
        let text = trace_text(10_000);
        let file = TempFile::new(&text);
        let map = file.map();
        assert!(map.bytes() == text);
        map.check_whole().unwrap();
        let empty = TempFile::new(b"");
        assert!(MappedInput::new(File::open(empty.path()).unwrap(), MESSAGE, 3).is_err());
        let device = File::open("/dev/null").unwrap();
        assert!(MappedInput::new(device, MESSAGE, 3).is_err());
        let (read_end, _write_end) = nix::unistd::pipe().unwrap();
        assert!(MappedInput::new(File::from(read_end), MESSAGE, 3).is_err());
    }

    #[test]
    fn released_pages_read_the_same() {
        let text = trace_text(300_000);
        let file = TempFile::new(&text);
        let map = file.map();
        map.release_before(&map.bytes()[..200_000]);
        assert_eq!(map.released.load(Ordering::Relaxed) % map.page, 0);
        assert!(map.released.load(Ordering::Relaxed) > 0);
        assert!(map.bytes() == text);
    }

    #[test]
    fn a_shrink_without_a_fault_is_reported() {
        let file = TempFile::new(&trace_text(10_000));
        let map = file.map();
        OpenOptions::new()
            .write(true)
            .open(file.path())
            .unwrap()
            .set_len(9_999)
            .unwrap();
        let err = map.check_whole().unwrap_err();
        assert!(err.to_string().contains("shrank"), "{err}");
    }

    /// A file truncated while it is mapped and decoded: the child writes the message once
    /// and exits with the code given, rather than dying of SIGBUS.
    #[test]
    fn a_file_truncated_under_its_map_exits_with_the_message() {
        let file = TempFile::new(&trace_text(6 << 20));
        let out = run_child(
            "decode::mapped_input::tests::child_decodes_a_file_truncated_under_its_map",
            file.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{:?} {stderr}", out.status);
        assert_eq!(stderr.matches(MESSAGE).count(), 1, "{stderr}");
    }

    #[test]
    #[ignore = "run by a_file_truncated_under_its_map_exits_with_the_message"]
    fn child_decodes_a_file_truncated_under_its_map() {
        let Some(path) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        no_core_dump();
        let map = MappedInput::new(File::open(&path).unwrap(), MESSAGE, 3).unwrap();
        // Past the first chunks, so some output is written before the fault.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(map.bytes().len() as u64 / 2).unwrap();
        let catalog = EventCatalog::new();
        let mut out = Vec::new();
        let result = decode_mapped(&map, &catalog, RecordFormat::Json, &mut out, 2, &mut |_| {});
        panic!("decoded a truncated map: {result:?}");
    }

    /// A SIGBUS at an address outside every guarded map is left to the previous action:
    /// the child dies of it instead of printing a message about the wrong file.
    #[test]
    fn a_fault_outside_the_map_is_not_taken_for_a_truncation() {
        let file = TempFile::new(&trace_text(10_000));
        let out = run_child(
            "decode::mapped_input::tests::child_faults_outside_its_map",
            file.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGBUS),
            "{:?} {stderr}",
            out.status
        );
        assert!(!stderr.contains("truncated"), "{stderr}");
    }

    #[test]
    #[ignore = "run by a_fault_outside_the_map_is_not_taken_for_a_truncation"]
    fn child_faults_outside_its_map() {
        let Some(path) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        no_core_dump();
        let guarded = MappedInput::new(File::open(&path).unwrap(), MESSAGE, 3).unwrap();
        let other = TempFile::new(&trace_text(10_000));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(other.path())
            .unwrap();
        // SAFETY: a fresh read-only mapping of a file this test owns; reading it after
        // the truncation below is the fault under test.
        let unguarded = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(unguarded, libc::MAP_FAILED);
        file.set_len(0).unwrap();
        // SAFETY: the address is mapped; the read faults, which is the point.
        let byte = unsafe { std::ptr::read_volatile(unguarded.cast::<u8>()) };
        drop(guarded);
        panic!("read {byte} past the end of a truncated file");
    }
}
