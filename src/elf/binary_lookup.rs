//! A user target's binary from what the user wrote: a path, a library name (`libc`,
//! `libc.so.6`) through `/etc/ld.so.cache`, a program name through `PATH`, or, with a
//! process, the file that process actually has mapped.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::path::PathBuf;

use super::ld_so_cache::LdSoCache;
use super::proc_maps::parse_maps;
use super::sym_resolver::ElfError;

/// Where a binary was found, for `tprobe resolve` to explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundBinary {
    /// The path to give the kernel (it must contain `/`).
    pub path: PathBuf,
    /// How it was found: `path`, `ld.so.cache (libc.so.6)`, `PATH`, `/proc/PID/maps`…
    pub how: String,
}

/// Whether a target names a file directly (has a `/`), as the kernel requires.
fn is_path(name: &str) -> bool {
    name.contains('/')
}

/// Finds the binary `name` names. With `pid`, the process's own mapping wins: the file
/// it really runs (through `/proc/PID/root` when its root differs from ours, and
/// `/proc/PID/map_files/…` when the file was deleted since it was mapped).
pub fn find_binary(name: &str, pid: Option<u32>) -> Result<FoundBinary, ElfError> {
    if let Some(pid) = pid {
        if let Some(found) = find_in_process(name, pid)? {
            return Ok(found);
        }
    }
    if is_path(name) {
        return Ok(FoundBinary {
            path: PathBuf::from(name),
            how: "path".to_owned(),
        });
    }
    let looks_like_library = name.starts_with("lib") || name.contains(".so");
    let from_path = || find_in_path(name);
    if !looks_like_library {
        if let Some(found) = from_path() {
            return Ok(found);
        }
    }
    let cache = match LdSoCache::load() {
        Ok(Ok(cache)) => cache,
        _ => LdSoCache::default(),
    };
    let candidates = cache.candidates(name);
    // Names of the same file (libz.so and libz.so.1) are one library.
    let mut distinct: Vec<(PathBuf, &str)> = Vec::new();
    for entry in &candidates {
        let real = std::fs::canonicalize(&entry.path).unwrap_or_else(|_| entry.path.clone());
        if !distinct.iter().any(|(p, _)| *p == real) {
            distinct.push((real, entry.name.as_str()));
        }
    }
    match &distinct[..] {
        [] => {}
        [_] => {
            let first = candidates[0];
            return Ok(FoundBinary {
                path: first.path.clone(),
                how: format!("ld.so.cache ({})", first.name),
            });
        }
        many => {
            // An exact soname is never ambiguous.
            if let Some(exact) = candidates.iter().find(|e| e.name == name) {
                return Ok(FoundBinary {
                    path: exact.path.clone(),
                    how: format!("ld.so.cache ({})", exact.name),
                });
            }
            return Err(ElfError::AmbiguousLibrary {
                name: name.to_owned(),
                candidates: many.iter().map(|(_, n)| (*n).to_owned()).collect(),
            });
        }
    }
    if looks_like_library {
        if let Some(found) = from_path() {
            return Ok(found);
        }
    }
    Err(ElfError::MissingLibrary {
        name: name.to_owned(),
        searched: format!(
            "not in /etc/ld.so.cache ({} libraries) nor in PATH{}",
            cache.entries().len(),
            if pid.is_some() {
                " nor mapped by the process"
            } else {
                ""
            }
        ),
    })
}

/// An executable file named `name` in a `PATH` directory.
fn find_in_path(name: &str) -> Option<FoundBinary> {
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0))
        .map(|path| FoundBinary {
            path,
            how: "PATH".to_owned(),
        })
}

/// Whether a mapped file is what `name` asks for: the same path, the same file name,
/// or a library name (`libc` for `libc.so.6`, `libc-2.31.so`).
fn mapping_matches(name: &str, mapped: &str) -> bool {
    if is_path(name) {
        return mapped == name;
    }
    let file = mapped.rsplit('/').next().unwrap_or(mapped);
    if file == name {
        return true;
    }
    let base = if name.starts_with("lib") || name.contains(".so") {
        name.to_owned()
    } else {
        format!("lib{name}")
    };
    file.strip_prefix(&base)
        .is_some_and(|rest| rest.starts_with(".so") || rest.starts_with('-'))
}

/// The file `pid` maps that `name` names.
fn find_in_process(name: &str, pid: u32) -> Result<Option<FoundBinary>, ElfError> {
    let maps_path = PathBuf::from(format!("/proc/{pid}/maps"));
    let data = std::fs::read(&maps_path).map_err(|source| ElfError::Read {
        path: maps_path.clone(),
        source,
    })?;
    let maps = parse_maps(&data);
    let Some(mapping) = maps
        .iter()
        .filter(|m| m.is_exec())
        .chain(maps.iter())
        .find(|m| mapping_matches(name, &m.path))
    else {
        return Ok(None);
    };
    // The file the process really maps: map_files leads to its inode whatever the
    // mount namespace, and even when it was deleted since.
    let map_files = PathBuf::from(format!(
        "/proc/{pid}/map_files/{:x}-{:x}",
        mapping.start, mapping.end
    ));
    let identity = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let mapped = identity(&map_files);
    let same_file = |p: &Path| mapped.is_some() && identity(p) == mapped;
    let plain = PathBuf::from(&mapping.path);
    let through_root = PathBuf::from(format!("/proc/{pid}/root")).join(
        Path::new(&mapping.path)
            .strip_prefix("/")
            .unwrap_or(Path::new(&mapping.path)),
    );
    let (path, how) = if mapping.deleted {
        (
            map_files,
            format!("{} (deleted; through map_files of pid {pid})", mapping.path),
        )
    } else if mapped.is_none() || same_file(&plain) {
        // Without access to map_files (not root), the process's path is the best guess.
        (plain, format!("/proc/{pid}/maps"))
    } else if same_file(&through_root) {
        (
            through_root,
            format!("/proc/{pid}/maps (another mount namespace: through its root)"),
        )
    } else {
        (
            map_files,
            format!("/proc/{pid}/maps (not reachable by path here: through map_files)"),
        )
    };
    Ok(Some(FoundBinary { path, how }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_names() {
        assert!(mapping_matches(
            "libc",
            "/usr/lib/x86_64-linux-gnu/libc.so.6"
        ));
        assert!(mapping_matches("c", "/usr/lib/x86_64-linux-gnu/libc.so.6"));
        assert!(mapping_matches("libc.so.6", "/lib/libc.so.6"));
        assert!(mapping_matches("libc", "/lib/libc-2.31.so"));
        assert!(!mapping_matches("libc", "/lib/libcrypt.so.1"));
        assert!(mapping_matches("cat", "/usr/bin/cat"));
        assert!(mapping_matches("/usr/bin/cat", "/usr/bin/cat"));
        assert!(!mapping_matches("/bin/cat", "/usr/bin/cat"));
    }

    #[test]
    fn names_paths_and_missing() {
        let libc = find_binary("libc", None).unwrap();
        assert!(
            libc.path.to_string_lossy().contains("libc.so.6"),
            "{libc:?}"
        );
        assert_eq!(find_binary("libc.so.6", None).unwrap().path, libc.path);
        let sh = find_binary("sh", None).unwrap();
        assert_eq!(sh.how, "PATH");
        assert_eq!(
            find_binary("/x/y", None).unwrap().path,
            PathBuf::from("/x/y")
        );
        assert!(matches!(
            find_binary("libno_such_library_here", None),
            Err(ElfError::MissingLibrary { .. })
        ));
        // Our own process maps libc: -p finds the same file.
        let me = find_binary("libc", Some(std::process::id())).unwrap();
        assert!(me.how.starts_with("/proc/"), "{me:?}");
        assert_eq!(
            std::fs::canonicalize(&me.path).ok(),
            std::fs::canonicalize(&libc.path).ok()
        );
    }
}
