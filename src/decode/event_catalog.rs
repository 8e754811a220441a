//! The format files the decoder knows, looked up by the event name the text prints.
//!
//! trace text names an event without its group, so several groups may hold an event of the
//! same name; the decoder tries each one's template in turn.

use std::fs;
use std::hash::BuildHasherDefault;
use std::hash::Hasher;
use std::io;
use std::path::Path;
use std::path::PathBuf;

use super::name_table::NameTable;
use crate::parse::compile_template;
use crate::parse::parse_event_format;
use crate::parse::EventFormat;
use crate::parse::FormatParseError;
use crate::parse::Template;

/// One known event.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    /// Its group (`tprobe_4242`, `syscalls`, `ftrace`).
    pub group: String,
    /// Its format file.
    pub format: EventFormat,
    /// Its print fmt, compiled; `None` when tprobe cannot use it.
    pub template: Option<Template>,
    /// The names of its own fields but `__syscall_nr`: the arguments a syscall enter
    /// record prints, worked out once rather than for every record.
    pub(crate) syscall_args: Vec<Box<[u8]>>,
}

/// Why the events directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The directory or a file in it could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A format file is not in the kernel's layout.
    #[error("{} is not an event format file", path.display())]
    Format {
        /// The path.
        path: PathBuf,
        /// Where it went wrong.
        #[source]
        source: FormatParseError,
    },
}

/// A multiply-rotate hash eight bytes at a time for small keys looked up once per record
/// (event IDs, pids): they are not chosen by an attacker who could flood one bucket, and
/// SipHash showed in profiles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuickHasher(u64);

/// A `HashMap` hasher for small keys looked up once or more per record.
pub(crate) type QuickHashBuild = BuildHasherDefault<QuickHasher>;

impl Default for QuickHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl QuickHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0 ^ word)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

impl Hasher for QuickHasher {
    fn finish(&self) -> u64 {
        // One more round, so the high bits hashbrown uses as tags depend on every word.
        (self.0 ^ (self.0 >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            self.mix(u64::from_le_bytes(le));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut le = [0u8; 8];
            le[..tail.len()].copy_from_slice(tail);
            self.mix(u64::from_le_bytes(le));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

/// The entries of a directory, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    let read_err = |source| CatalogError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(read_err)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort();
    Ok(entries)
}

/// Event formats by event name.
#[derive(Debug, Default, Clone)]
pub struct EventCatalog {
    by_name: NameTable<Vec<CatalogEntry>>,
}

impl EventCatalog {
    /// An empty catalog: every event's fields are guessed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every `DIR/GROUP/EVENT/format`, the layout of tracefs `events/`.
    pub fn from_dir(dir: &Path) -> Result<Self, CatalogError> {
        let mut catalog = Self::new();
        for group in sorted_entries(dir)? {
            if group.is_dir() {
                let name = group.file_name().map(|n| n.to_string_lossy().into_owned());
                catalog.load_group(&name.unwrap_or_default(), &group)?;
            }
        }
        Ok(catalog)
    }

    /// Loads every `GROUP_DIR/EVENT/format` as events of `group`.
    pub fn load_group(&mut self, group: &str, group_dir: &Path) -> Result<(), CatalogError> {
        for event in sorted_entries(group_dir)? {
            let format_path = event.join("format");
            if format_path.is_file() {
                self.load_event(group, &event)?;
            }
        }
        Ok(())
    }

    /// Loads `EVENT_DIR/format` as an event of `group`.
    pub fn load_event(&mut self, group: &str, event_dir: &Path) -> Result<(), CatalogError> {
        let format_path = event_dir.join("format");
        let text = fs::read(&format_path).map_err(|source| CatalogError::Read {
            path: format_path.clone(),
            source,
        })?;
        let format = parse_event_format(&text).map_err(|source| CatalogError::Format {
            path: format_path,
            source,
        })?;
        self.insert(group, format);
        Ok(())
    }

    /// Adds one event.
    pub fn insert(&mut self, group: &str, format: EventFormat) {
        let template = compile_template(&format);
        let syscall_args = format
            .own_fields()
            .filter(|f| f.name != "__syscall_nr")
            .map(|f| f.name.as_bytes().into())
            .collect();
        self.by_name
            .get_or_insert_with(format.name.as_bytes(), Vec::new)
            .push(CatalogEntry {
                group: group.to_owned(),
                format,
                template,
                syscall_args,
            });
    }

    /// Adds every event of `other`.
    pub fn merge(&mut self, other: EventCatalog) {
        for (name, entries) in other.by_name.into_entries() {
            self.by_name
                .get_or_insert_with(&name, Vec::new)
                .extend(entries);
        }
    }

    /// The events printed under this name, in group order.
    pub fn lookup(&self, name: &[u8]) -> &[CatalogEntry] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// Every known event, in no particular order (the binary path indexes them by ID).
    pub fn entries(&self) -> impl Iterator<Item = &CatalogEntry> {
        self.by_name.iter().flat_map(|(_, entries)| entries)
    }

    /// How many events it knows.
    pub fn len(&self) -> usize {
        self.by_name.iter().map(|(_, entries)| entries.len()).sum()
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
