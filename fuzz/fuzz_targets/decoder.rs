//! Any bytes as trace text through the streaming decoder, with real format files known,
//! and the records written as JSON and text: no panic, and every line accounted for. The
//! in-place path (`push_text`, whole text at once) must give the same JSON and counts as
//! the line-by-line one.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tprobe::decode::Decoder;
use tprobe::decode::EventCatalog;
use tprobe::decode::Record;
use tprobe::output::JsonLines;
use tprobe::output::RecordWriter;
use tprobe::output::Text;

/// Format files captured on 6.18 (fixtures/uprobe-basic, fixtures/syscalls-openat).
fn catalog() -> &'static EventCatalog {
    static CATALOG: OnceLock<EventCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
        let mut catalog = EventCatalog::new();
        for dir in ["uprobe-basic/events", "syscalls-openat/events"] {
            if let Ok(loaded) = EventCatalog::from_dir(std::path::Path::new(&format!("{root}/{dir}"))) {
                catalog.merge(loaded);
            }
        }
        catalog
    })
}

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(catalog());
    let mut json = JsonLines::new(Vec::new());
    let mut text = Text::new(Vec::new());
    let mut sink = |record: &Record<'_>| -> std::io::Result<()> {
        json.write_record(record)?;
        text.write_record(record)
    };
    decoder.push_lines(data, &mut sink).unwrap();
    decoder.finish(&mut sink).unwrap();

    let mut in_place = Decoder::new(catalog());
    let mut json_in_place = JsonLines::new(Vec::new());
    let mut sink = |record: &Record<'_>| json_in_place.write_record(record);
    in_place.push_text(data, &mut sink).unwrap();
    in_place.finish(&mut sink).unwrap();
    assert_eq!(json.into_inner().unwrap(), json_in_place.into_inner().unwrap());
    assert_eq!(decoder.summary(), in_place.summary());
});
