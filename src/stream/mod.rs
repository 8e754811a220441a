//! Live streaming: signals that stop a run, and the loop that reads a trace pipe, decodes
//! it and writes the records until a stop condition holds.

mod pipe_loop;
mod raw_capture;
mod raw_output;
mod signal_writer;
mod signals;

pub use pipe_loop::stream_pipe;
pub use pipe_loop::StopReason;
pub use pipe_loop::StopWhen;
pub use pipe_loop::StreamError;
pub use raw_capture::online_cpus;
pub use raw_capture::parse_cpu_list;
pub use raw_capture::stream_raw;
pub use raw_capture::CpuLoss;
pub use raw_capture::RawCapture;
pub use raw_capture::RawOpenError;
pub use raw_capture::RawSink;
pub use raw_output::RawOutput;
pub use signal_writer::SignalWriter;
pub use signal_writer::StoppedBySignal;
pub use signals::SignalWatch;
pub use signals::STOP_SIGNALS;
