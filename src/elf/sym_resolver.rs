//! Function name -> file offset, from `.symtab` and `.dynsym`.

use std::fs;
use std::io;
use std::path::Path;
use std::path::PathBuf;

use object::Object;
use object::ObjectSegment;
use object::ObjectSymbol;
use object::SymbolKind;

use crate::spec::FileOffset;

/// Why a function could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not an ELF object tprobe can read.
    #[error("{} is not an ELF file tprobe can read", path.display())]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: object::Error,
    },
    /// No function of that name is in the symbol tables.
    #[error("no function `{name}` in {} (hint: `nm -D {}` lists its symbols; a stripped binary needs a file offset: u:PATH:0xOFFSET)", path.display(), path.display())]
    NoSymbol {
        /// The file.
        path: PathBuf,
        /// The name looked for.
        name: String,
    },
    /// The symbol lies in no loadable segment (it has no place in the file).
    #[error("`{name}` in {} is at 0x{address:x}, outside every loadable segment", path.display())]
    NotLoaded {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
        /// Its value.
        address: u64,
    },
}

/// The file offset of function `name` in the ELF file at `path`. A versioned name
/// (`malloc@@GLIBC_2.2.5`) matches its plain form.
pub fn file_offset_of(path: &Path, name: &str) -> Result<FileOffset, ElfError> {
    let data = fs::read(path).map_err(|source| ElfError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file = object::File::parse(&*data).map_err(|source| ElfError::NotElf {
        path: path.to_owned(),
        source,
    })?;
    let address = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|sym| sym.kind() == SymbolKind::Text && sym.is_definition())
        .find(|sym| {
            sym.name_bytes()
                .map(|n| {
                    n == name.as_bytes() || n.split(|b| *b == b'@').next() == Some(name.as_bytes())
                })
                .unwrap_or(false)
        })
        .map(|sym| sym.address())
        .ok_or_else(|| ElfError::NoSymbol {
            path: path.to_owned(),
            name: name.to_owned(),
        })?;
    file.segments()
        .find_map(|segment| {
            let (offset, size) = segment.file_range();
            let start = segment.address();
            (address >= start && address - start < size).then(|| offset + (address - start))
        })
        .map(FileOffset)
        .ok_or(ElfError::NotLoaded {
            path: path.to_owned(),
            name: name.to_owned(),
            address,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Compiles a program whose text is not at file offset == vaddr in every layout, and
    /// checks the offset against `nm` and `readelf` arithmetic.
    #[test]
    fn offset_matches_nm_and_program_headers() {
        let dir = std::env::temp_dir().join(format!("tprobe-elf-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let src = dir.join("t.c");
        fs::write(
            &src,
            "__attribute__((noinline)) int probed(int x) { return x * 3; }\nint main(int c, char **v) { return probed(c); }\n",
        )
        .unwrap();
        let bin = dir.join("t");
        let status = Command::new("gcc")
            .args(["-O1", "-o"])
            .arg(&bin)
            .arg(&src)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("skipped: gcc is not available");
            return;
        }
        let offset = file_offset_of(&bin, "probed").unwrap();
        let nm = Command::new("nm").arg(&bin).output().unwrap();
        let nm = String::from_utf8_lossy(&nm.stdout);
        let vaddr = nm
            .lines()
            .find(|l| l.ends_with(" probed"))
            .and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
            .unwrap();
        let readelf = Command::new("readelf")
            .args(["-lW"])
            .arg(&bin)
            .output()
            .unwrap();
        let readelf = String::from_utf8_lossy(&readelf.stdout);
        let expected = readelf
            .lines()
            .filter(|l| l.trim_start().starts_with("LOAD"))
            .find_map(|l| {
                let f: Vec<u64> = l
                    .split_whitespace()
                    .skip(1)
                    .take(5)
                    .map(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or(0))
                    .collect();
                let (off, va, filesz) = (f[0], f[1], f[3]);
                (vaddr >= va && vaddr < va + filesz).then(|| vaddr - va + off)
            })
            .unwrap();
        assert_eq!(offset, FileOffset(expected));
        assert!(matches!(
            file_offset_of(&bin, "no_such_function"),
            Err(ElfError::NoSymbol { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn not_elf_and_missing_file() {
        assert!(matches!(
            file_offset_of(Path::new("/nonexistent/x"), "f"),
            Err(ElfError::Read { .. })
        ));
        assert!(matches!(
            file_offset_of(Path::new("/etc/hostname"), "f"),
            Err(ElfError::NotElf { .. })
        ));
    }
}
