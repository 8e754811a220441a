//! Live streaming: signals that stop a run, and the loop that reads a trace pipe, decodes
//! it and writes the records until a stop condition holds.

mod pipe_loop;
mod signal_writer;
mod signals;

pub use pipe_loop::stream_pipe;
pub use pipe_loop::StopReason;
pub use pipe_loop::StopWhen;
pub use pipe_loop::StreamError;
pub use signal_writer::SignalWriter;
pub use signal_writer::StoppedBySignal;
pub use signals::SignalWatch;
pub use signals::STOP_SIGNALS;
