//! Address newtypes: a kernel address and a file offset are different things and never mix.

use std::fmt;

/// An address in the kernel's address space (a kprobe `MEMADDR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelAddr(pub u64);

/// An offset into a file on disk (a uprobe target or reference counter): never a
/// virtual address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileOffset(pub u64);

impl fmt::Display for KernelAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

impl fmt::Display for FileOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_print_as_hex() {
        assert_eq!(
            KernelAddr(0xffff_ffff_8100_0000).to_string(),
            "0xffffffff81000000"
        );
        assert_eq!(FileOffset(0).to_string(), "0x0");
        assert_eq!(FileOffset(0x1168).to_string(), "0x1168");
    }
}
