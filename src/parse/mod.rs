//! Pure parsers over bytes: `trace_pipe`/`trace` lines, `events/*/format` files and their
//! print fmt, field values, and `error_log`. No I/O; no input makes them panic — text they
//! do not recognise comes back as [`TraceLine::Unparsed`] or `None`.

pub(crate) mod bytes;
mod dynamic_events;
mod error_log;
mod event_format;
mod fields;
mod print_fmt;
mod readme;
mod ring_page;
mod steps;
mod trace_line;

pub use dynamic_events::parse_dynamic_event;
pub use dynamic_events::parse_dynamic_events;
pub use dynamic_events::DynEventKind;
pub use dynamic_events::DynamicEvent;
pub use error_log::last_error;
pub use error_log::parse_error_log;
pub use error_log::ErrorLogEntry;
pub use event_format::parse_event_format;
pub use event_format::EventFormat;
pub use event_format::FormatField;
pub use event_format::FormatParseError;
pub use fields::fit_template;
pub use fields::guess_value;
pub use fields::split_guessed;
pub use fields::split_syscall_args;
pub use fields::split_with_template;
pub use fields::split_with_template_into;
pub use fields::steps_agree_with_greedy;
pub use fields::Field;
pub use fields::Fit;
pub use fields::Value;
pub use print_fmt::compile_template;
pub use print_fmt::Segment;
pub use print_fmt::Template;
pub use print_fmt::TemplateField;
pub use print_fmt::ValueKind;
pub use readme::parse_readme;
pub use readme::ReadmeFeatures;
pub use ring_page::check_header_event;
pub use ring_page::parse_header_page;
pub use ring_page::parse_page;
pub use ring_page::Missed;
pub use ring_page::PageEvent;
pub use ring_page::PageEvents;
pub use ring_page::PageLayout;
pub use ring_page::RingPage;
pub use ring_page::RingPageError;
pub use trace_line::parse_line;
pub(crate) use trace_line::trim_start;
pub use trace_line::EventText;
pub use trace_line::RecordHeader;
pub use trace_line::StackKind;
pub use trace_line::Tgid;
pub use trace_line::TraceLine;
