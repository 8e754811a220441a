//! ELF symbols to uprobe file offsets. A uprobe is placed by *file offset*, never by
//! virtual address: the offset of a function is its symbol value minus the virtual
//! address of the PT_LOAD segment that holds it plus that segment's file offset.
//!
//! - [`ElfInfo`]: `.symtab`/`.dynsym` functions (versioned, IFUNC, demangled C++ and
//!   Rust), PT_LOAD segments, build-id and `.gnu_debuglink` (separate debug files).
//! - [`LdSoCache`]: `/etc/ld.so.cache`, so `u:libc:malloc` finds the library.
//! - [`parse_maps`]: `/proc/PID/maps`, for `-p PID` targets and user stacks.
//! - [`parse_stapsdt_notes`], [`UsdtArg`]: USDT probes and their arguments.
//! - [`UstackSymbolizer`]: `--ustack` frames to `func+0x12 (/path)` at output time.
//! - [`expand_user_spec`]: the I/O step that turns library names and `usdt:` specs
//!   into specs the pure parser in `spec` reads.

mod binary_lookup;
mod ld_so_cache;
mod proc_maps;
mod sym_resolver;
mod usdt;
mod user_target;
mod ustack;

pub use binary_lookup::find_binary;
pub use binary_lookup::FoundBinary;
pub use ld_so_cache::host_abi_flags;
pub use ld_so_cache::CacheEntry;
pub use ld_so_cache::LdSoCache;
pub use ld_so_cache::LdSoCacheError;
pub use ld_so_cache::LD_SO_CACHE;
pub use proc_maps::parse_maps;
pub use proc_maps::Mapping;
pub use sym_resolver::crc32;
pub use sym_resolver::demangle;
pub use sym_resolver::file_offset_of;
pub use sym_resolver::ElfError;
pub use sym_resolver::ElfInfo;
pub use sym_resolver::FuncKind;
pub use sym_resolver::FuncSymbol;
pub use sym_resolver::LoadSegment;
pub use sym_resolver::ResolvedFunc;
pub use sym_resolver::DEBUG_ROOT;
pub use usdt::parse_stapsdt_notes;
pub use usdt::UsdtArg;
pub use usdt::UsdtNote;
pub use usdt::UsdtOperand;
pub use user_target::expand_user_spec;
pub use user_target::usdt_sites;
pub use user_target::ExpandedSpec;
pub use user_target::UsdtSite;
pub use ustack::frame_address;
pub use ustack::SymbolizingSink;
pub use ustack::UstackSymbolizer;
