//! Any bytes as a ring-buffer page (and as header_page text): no panic, and the events
//! stay inside the page.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tprobe::parse::parse_header_page;
use tprobe::parse::parse_page;
use tprobe::parse::PageLayout;

fuzz_target!(|data: &[u8]| {
    let _ = parse_header_page(data);
    let _ = tprobe::parse::check_header_event(data);
    let layouts = [
        PageLayout::default(),
        PageLayout {
            timestamp_offset: 0,
            commit_offset: 8,
            commit_size: 4,
            data_offset: 12,
        },
    ];
    for layout in &layouts {
        if let Ok(page) = parse_page(layout, data) {
            for event in page.events() {
                match event {
                    Ok(event) => assert!(event.payload.len() <= data.len()),
                    Err(_) => {}
                }
            }
        }
    }
});
