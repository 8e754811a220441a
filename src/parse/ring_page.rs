//! Ring-buffer sub-buffer pages as `per_cpu/cpuN/trace_pipe_raw` hands them out
//! (kernel-notes.md §4): the page header described by `events/header_page`, then
//! compressed event headers described by `events/header_event`.
//!
//! ```text
//! header_page:  u64 timestamp@0; local_t commit@8 (size 8); char data@16 (size 4080)
//! event header: u32 w; type_len = w & 31, time_delta = w >> 5
//!   29 padding (delta 0: rest of page empty), 30 time extend, 31 absolute time stamp,
//!   0 data with its length in the next u32, 1..=28 data of type_len*4 bytes
//! ```
//!
//! Everything here is pure over bytes and never panics: a page whose commit size or event
//! lengths run past its end yields an error for the rest of that page, nothing more.

/// `commit` bit 31: events were lost before this page.
const RB_MISSED_EVENTS: u64 = 1 << 31;
/// `commit` bit 30: the lost count is stored as an unsigned long after the data.
const RB_MISSED_STORED: u64 = 1 << 30;
/// The bits of `commit` that hold the data size (libtraceevent's COMMIT_MASK).
const COMMIT_MASK: u64 = (1 << 27) - 1;

/// Event header `type_len` values with a meaning of their own.
const TYPE_PADDING: u32 = 29;
const TYPE_TIME_EXTEND: u32 = 30;
const TYPE_TIME_STAMP: u32 = 31;

/// Where the fields of a sub-buffer page lie, from `events/header_page`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLayout {
    /// Offset of the page's `u64 timestamp`.
    pub timestamp_offset: usize,
    /// Offset of `commit`.
    pub commit_offset: usize,
    /// Size of `commit` (8 on 64-bit kernels, 4 on 32-bit ones).
    pub commit_size: usize,
    /// Offset of the event data.
    pub data_offset: usize,
}

impl Default for PageLayout {
    /// The layout seen on 64-bit kernels (6.18).
    fn default() -> Self {
        Self {
            timestamp_offset: 0,
            commit_offset: 8,
            commit_size: 8,
            data_offset: 16,
        }
    }
}

/// Why a header file or a page could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingPageError {
    /// `header_page` lacks a field tprobe needs or gives it a size it cannot read.
    #[error("events/header_page has no usable `{field}` field (the kernel's page layout changed; use --text)")]
    HeaderPage {
        /// The missing field.
        field: &'static str,
    },
    /// `header_event` describes another compressed header than the one tprobe decodes.
    #[error("events/header_event does not describe the 5+27+32 bit event header (use --text)")]
    HeaderEvent,
    /// The page is shorter than its header.
    #[error("ring-buffer page of {len} bytes is shorter than its header")]
    ShortPage {
        /// The page's length.
        len: usize,
    },
    /// An event's length runs past the committed data.
    #[error("ring-buffer event at byte {offset} runs past the page's committed data")]
    Truncated {
        /// Offset of the event header in the data.
        offset: usize,
    },
}

/// Parses `events/header_page`: the offsets of `timestamp`, `commit` and `data`.
pub fn parse_header_page(text: &[u8]) -> Result<PageLayout, RingPageError> {
    let mut timestamp = None;
    let mut commit = None;
    let mut data = None;
    for line in text.split(|b| *b == b'\n') {
        let Some((name, offset, size)) = header_field(line) else {
            continue;
        };
        match name {
            b"timestamp" if size == 8 => timestamp = Some(offset),
            b"commit" if size == 8 || size == 4 => commit = Some((offset, size)),
            b"data" => data = Some(offset),
            _ => {}
        }
    }
    let timestamp_offset = timestamp.ok_or(RingPageError::HeaderPage { field: "timestamp" })?;
    let (commit_offset, commit_size) =
        commit.ok_or(RingPageError::HeaderPage { field: "commit" })?;
    let data_offset = data.ok_or(RingPageError::HeaderPage { field: "data" })?;
    if data_offset < commit_offset + commit_size || data_offset < timestamp_offset + 8 {
        return Err(RingPageError::HeaderPage { field: "data" });
    }
    Ok(PageLayout {
        timestamp_offset,
        commit_offset,
        commit_size,
        data_offset,
    })
}

/// `\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;` -> (`timestamp`, 0, 8).
fn header_field(line: &[u8]) -> Option<(&[u8], usize, usize)> {
    let line = crate::parse::trim_start(line);
    let rest = line.strip_prefix(b"field:")?;
    let semi = memchr::memchr(b';', rest)?;
    let decl = &rest[..semi];
    let name_start = decl
        .iter()
        .rposition(|b| *b == b' ' || *b == b'\t')
        .map_or(0, |p| p + 1);
    let name = &decl[name_start..];
    let name = name
        .iter()
        .position(|b| *b == b'[')
        .map_or(name, |p| &name[..p]);
    let number_after = |key: &[u8]| -> Option<usize> {
        let at = memchr::memmem::find(rest, key)? + key.len();
        let digits = rest[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        std::str::from_utf8(&rest[at..at + digits])
            .ok()?
            .parse()
            .ok()
    };
    Some((name, number_after(b"offset:")?, number_after(b"size:")?))
}

/// Checks that `events/header_event` describes the event header this module decodes.
pub fn check_header_event(text: &[u8]) -> Result<(), RingPageError> {
    let squeezed: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let expected: [&[u8]; 7] = [
        b"type_len:5bits",
        b"time_delta:27bits",
        b"padding:type==29",
        b"time_extend:type==30",
        b"time_stamp:type==31",
        b"datamaxtype_len==28",
        b"array:32bits",
    ];
    if expected
        .iter()
        .all(|want| memchr::memmem::find(&squeezed, want).is_some())
    {
        Ok(())
    } else {
        Err(RingPageError::HeaderEvent)
    }
}

/// Events the kernel lost before a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// None.
    None,
    /// Some, count not stored.
    Unknown,
    /// This many.
    Count(u64),
}

/// One sub-buffer page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingPage<'a> {
    /// The clock value the page's deltas start from.
    pub timestamp: u64,
    /// What was lost before it.
    pub missed: Missed,
    /// The committed event data.
    data: &'a [u8],
}

/// Reads a page's header. `page` is one whole sub-buffer (zero-padded by the kernel).
pub fn parse_page<'a>(layout: &PageLayout, page: &'a [u8]) -> Result<RingPage<'a>, RingPageError> {
    let short = RingPageError::ShortPage { len: page.len() };
    let timestamp = read_u64(page, layout.timestamp_offset).ok_or(short.clone())?;
    let commit = match layout.commit_size {
        4 => u64::from(read_u32(page, layout.commit_offset).ok_or(short.clone())?),
        _ => read_u64(page, layout.commit_offset).ok_or(short.clone())?,
    };
    let data_all = page.get(layout.data_offset..).ok_or(short)?;
    let size = usize::try_from(commit & COMMIT_MASK).unwrap_or(usize::MAX);
    let data = data_all.get(..size).unwrap_or(data_all);
    let missed = if commit & RB_MISSED_EVENTS == 0 {
        Missed::None
    } else if commit & RB_MISSED_STORED != 0 {
        let stored = match layout.commit_size {
            4 => read_u32(data_all, size).map(u64::from),
            _ => read_u64(data_all, size),
        };
        stored.map_or(Missed::Unknown, Missed::Count)
    } else {
        Missed::Unknown
    };
    Ok(RingPage {
        timestamp,
        missed,
        data,
    })
}

impl<'a> RingPage<'a> {
    /// The page's data events, with their running timestamps.
    pub fn events(&self) -> PageEvents<'a> {
        PageEvents {
            data: self.data,
            at: 0,
            ts: self.timestamp,
            done: false,
        }
    }

    /// Bytes of committed event data.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// One data event of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageEvent<'a> {
    /// Its time, in trace-clock units.
    pub ts: u64,
    /// The record: the event's format starts at byte 0 (`common_type`).
    pub payload: &'a [u8],
    /// Offset of the payload in the page's data (for callers that keep the page).
    pub offset: usize,
}

/// Iterator over a page's data events; yields one error and stops at a malformed event.
#[derive(Debug, Clone)]
pub struct PageEvents<'a> {
    data: &'a [u8],
    at: usize,
    ts: u64,
    done: bool,
}

impl<'a> Iterator for PageEvents<'a> {
    type Item = Result<PageEvent<'a>, RingPageError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let start = self.at;
            let Some(word) = read_u32(self.data, start) else {
                self.done = true;
                return None;
            };
            let type_len = word & 31;
            let delta = u64::from(word >> 5);
            let array0 = read_u32(self.data, start + 4);
            let truncated = RingPageError::Truncated { offset: start };
            match type_len {
                TYPE_PADDING => {
                    if delta == 0 {
                        self.done = true;
                        return None;
                    }
                    let Some(len) = array0 else {
                        self.done = true;
                        return Some(Err(truncated));
                    };
                    // A discarded event: its delta still counts.
                    self.ts = self.ts.wrapping_add(delta);
                    self.at = start.saturating_add(4).saturating_add(len as usize);
                }
                TYPE_TIME_EXTEND => {
                    let Some(high) = array0 else {
                        self.done = true;
                        return Some(Err(truncated));
                    };
                    self.ts = self.ts.wrapping_add((u64::from(high) << 27) | delta);
                    self.at = start + 8;
                }
                TYPE_TIME_STAMP => {
                    let Some(high) = array0 else {
                        self.done = true;
                        return Some(Err(truncated));
                    };
                    // 59 bits; the top 5 come from the page's timestamp (rb_fix_abs_ts).
                    let low = (u64::from(high) << 27) | delta;
                    self.ts = low | (self.ts & !((1u64 << 59) - 1));
                    self.at = start + 8;
                }
                0 => {
                    let Some(len_plus4) = array0 else {
                        self.done = true;
                        return Some(Err(truncated));
                    };
                    // array[0] holds the length plus 4; never below that for real data.
                    let Some(len) = (len_plus4 as usize)
                        .checked_sub(4)
                        .filter(|_| len_plus4 > 4)
                    else {
                        self.done = true;
                        return Some(Err(truncated));
                    };
                    return Some(self.data_event(start, start + 8, len, delta));
                }
                // 1..=28: the length is in the header.
                _ => {
                    let len = type_len as usize * 4;
                    return Some(self.data_event(start, start + 4, len, delta));
                }
            }
        }
        None
    }
}

impl<'a> PageEvents<'a> {
    fn data_event(
        &mut self,
        header: usize,
        payload_at: usize,
        len: usize,
        delta: u64,
    ) -> Result<PageEvent<'a>, RingPageError> {
        let end = payload_at.checked_add(len);
        match end.and_then(|end| self.data.get(payload_at..end)) {
            Some(payload) => {
                self.ts = self.ts.wrapping_add(delta);
                // Events are 4-byte aligned (RB_ALIGNMENT).
                self.at = (payload_at + len + 3) & !3;
                Ok(PageEvent {
                    ts: self.ts,
                    payload,
                    offset: payload_at,
                })
            }
            None => {
                self.done = true;
                Err(RingPageError::Truncated { offset: header })
            }
        }
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(raw.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let raw = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(raw.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_PAGE: &[u8] = b"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n\
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n\
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n";

    const HEADER_EVENT: &[u8] = b"# compressed entry header\n\ttype_len    :    5 bits\n\
\ttime_delta  :   27 bits\n\tarray       :   32 bits\n\n\tpadding     : type == 29\n\
\ttime_extend : type == 30\n\ttime_stamp : type == 31\n\tdata max type_len  == 28\n";

    /// A hand-made page (labelled: built here, not captured) with every header type.
    fn handmade_page(commit: u64, tail: &[u8]) -> Vec<u8> {
        let mut page = Vec::new();
        page.extend_from_slice(&1000u64.to_le_bytes());
        page.extend_from_slice(&commit.to_le_bytes());
        // data event, type_len 2 (8 bytes), delta 0
        page.extend_from_slice(&2u32.to_le_bytes());
        page.extend_from_slice(b"AAAABBBB");
        // time extend: delta = (1 << 27) | 5
        page.extend_from_slice(&(30u32 | (5 << 5)).to_le_bytes());
        page.extend_from_slice(&1u32.to_le_bytes());
        // data event, type_len 0, len 5 (+4), delta 0, padded to 4
        page.extend_from_slice(&0u32.to_le_bytes());
        page.extend_from_slice(&9u32.to_le_bytes());
        page.extend_from_slice(b"hello\0\0\0");
        // padding (discarded event of 4 bytes), delta 3
        page.extend_from_slice(&(29u32 | (3 << 5)).to_le_bytes());
        page.extend_from_slice(&4u32.to_le_bytes());
        // absolute time stamp 77, then a data event with delta 1
        page.extend_from_slice(&(31u32 | (77 << 5)).to_le_bytes());
        page.extend_from_slice(&0u32.to_le_bytes());
        page.extend_from_slice(&(1u32 | (1 << 5)).to_le_bytes());
        page.extend_from_slice(b"CCCC");
        page.extend_from_slice(tail);
        page.resize(4096, 0);
        page
    }

    #[test]
    fn header_files_of_6_18() {
        assert_eq!(
            parse_header_page(HEADER_PAGE).unwrap(),
            PageLayout::default()
        );
        check_header_event(HEADER_EVENT).unwrap();
        assert!(check_header_event(b"type_len : 6 bits").is_err());
        assert!(parse_header_page(b"field: char data; offset:16; size:4080;").is_err());
    }

    #[test]
    fn every_header_type_and_running_time() {
        let page = handmade_page(60, &[]);
        let page = parse_page(&PageLayout::default(), &page).unwrap();
        assert_eq!(page.missed, Missed::None);
        let events: Vec<_> = page.events().map(Result::unwrap).collect();
        let got: Vec<(u64, &[u8])> = events.iter().map(|e| (e.ts, e.payload)).collect();
        assert_eq!(
            got,
            vec![
                (1000, &b"AAAABBBB"[..]),
                (1000 + (1 << 27) + 5, &b"hello"[..]),
                (78, &b"CCCC"[..]),
            ]
        );
    }

    #[test]
    fn missed_flags_and_stored_count() {
        let commit = 0xffff_ffff_8000_0000 | 60;
        let page = handmade_page(commit, &[]);
        let page = parse_page(&PageLayout::default(), &page).unwrap();
        assert_eq!(page.missed, Missed::Unknown);
        assert_eq!(page.events().count(), 3);
        let commit = 0xffff_ffff_c000_0000 | 60;
        let page = handmade_page(commit, &1224u64.to_le_bytes());
        let page = parse_page(&PageLayout::default(), &page).unwrap();
        assert_eq!(page.missed, Missed::Count(1224));
    }

    #[test]
    fn malformed_pages_end_in_one_error() {
        assert!(parse_page(&PageLayout::default(), &[0; 10]).is_err());
        // Commit larger than the page: the events stop at the page's end.
        let page = handmade_page(0xffff, &[]);
        let page = parse_page(&PageLayout::default(), &page).unwrap();
        assert_eq!(page.events().filter(Result::is_ok).count(), 3);
        // A length that runs past the data.
        let mut page = vec![0u8; 16];
        page[8] = 8;
        page.extend_from_slice(&0u32.to_le_bytes());
        page.extend_from_slice(&100u32.to_le_bytes());
        let page = parse_page(&PageLayout::default(), &page).unwrap();
        let all: Vec<_> = page.events().collect();
        assert_eq!(all, vec![Err(RingPageError::Truncated { offset: 0 })]);
    }
}
