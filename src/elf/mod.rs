//! ELF symbols to uprobe file offsets. A uprobe is placed by *file offset*, never by
//! virtual address: the offset of a function is its symbol value minus the virtual
//! address of the PT_LOAD segment that holds it plus that segment's file offset.
//!
//! This is the minimal resolver the live path needs (`u:PATH:FUNC`); libraries by name,
//! debug links, demangling and USDT notes belong to the symbol resolver.

mod sym_resolver;

pub use sym_resolver::file_offset_of;
pub use sym_resolver::ElfError;
