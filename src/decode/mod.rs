//! From trace text to records: the streaming [`Decoder`], the [`EventCatalog`] of format
//! files it splits fields by, and [`decode_reader`] to run it over any `BufRead` — the
//! engine of `tprobe replay` and of the live text path.

mod decoder;
mod event_catalog;
mod in_place;
mod mapped_input;
mod name_table;
mod parallel;
mod pending_head;
mod raw_record;
mod reader;
mod record;
mod sigbus_guard;
mod summary;

pub use decoder::decode_event;
pub use decoder::Decoder;
pub use decoder::MAX_RECORD_LINES;
pub use decoder::MAX_RECORD_TEXT;
pub use event_catalog::CatalogEntry;
pub use event_catalog::CatalogError;
pub use event_catalog::EventCatalog;
pub(crate) use mapped_input::MappedInput;
pub(crate) use parallel::decode_mapped;
pub use parallel::decode_parallel;
pub use raw_record::comm_args_of_definition;
pub use raw_record::CommCache;
pub use raw_record::RawCatalog;
pub use raw_record::RawDecoder;
pub use reader::decode_reader;
pub use reader::DecodeError;
pub use record::Event;
pub use record::Record;
pub use summary::DecodeSummary;
