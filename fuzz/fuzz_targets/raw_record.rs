//! Any bytes as a ring-buffer page of records, decoded by real format files
//! (fixtures/raw-uprobe-basic: every probe type) and written as JSON and text: no panic.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tprobe::decode::CommCache;
use tprobe::decode::EventCatalog;
use tprobe::decode::RawCatalog;
use tprobe::decode::RawDecoder;
use tprobe::output::RecordFormat;
use tprobe::parse::parse_page;
use tprobe::parse::PageLayout;

fn catalog() -> &'static EventCatalog {
    static CATALOG: OnceLock<EventCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/raw-uprobe-basic/events"
        );
        EventCatalog::from_dir(std::path::Path::new(dir)).unwrap_or_default()
    })
}

fn raw_catalog() -> &'static RawCatalog<'static> {
    static RAW: OnceLock<RawCatalog<'static>> = OnceLock::new();
    RAW.get_or_init(|| {
        let comm = [("touch".to_owned(), "comm".to_owned())];
        RawCatalog::new(catalog(), &comm)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut decoder = RawDecoder::new(raw_catalog(), CommCache::from_text(b"1 a\n2 b\n"));
    let mut out = Vec::new();
    // The bytes as one record, and as a page of records.
    decoder.decode(0, 1, data, &[], |r| RecordFormat::Json.append(&mut out, r));
    if let Ok(page) = parse_page(&PageLayout::default(), data) {
        for event in page.events().flatten() {
            decoder.decode(1, event.ts, event.payload, &[data], |r| {
                RecordFormat::Json.append(&mut out, r);
                RecordFormat::Text.append(&mut out, r);
            });
        }
    }
});
