//! DTMF: the keys a caller presses, however they arrive.
//!
//! (Module documentation is completed with the pipeline.)

mod digit;
mod error;
mod event;
mod inband;
mod info;
mod pipeline;
mod queue;
mod receiver;

pub use digit::Digit;
pub use error::DtmfError;
pub use event::TelephoneEvent;
pub use inband::{
    InbandDetector, InbandDigit, MIN_TONE_DBM0, SAMPLE_RATE, WINDOWS_TO_END, WINDOWS_TO_REPORT,
};
pub use info::{InfoDigit, parse_info};
pub use pipeline::{DtmfPipeline, DtmfSource, KeyPress, PipelineConfig};
pub use receiver::{EventReceiver, MAX_SEGMENT, ReceivedDigit, SEGMENT_SLACK};
