//! Tiny WAV files for tests that need a prompt on disk.

use std::path::Path;

/// Writes mono 16-bit `samples` at `rate` Hz to `path`, creating its directory.
pub fn write_wav(path: &Path, rate: u32, samples: impl IntoIterator<Item = i16>) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create the WAV file's directory");
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create a WAV file");
    for sample in samples {
        writer.write_sample(sample).expect("write a sample");
    }
    writer.finalize().expect("finish the WAV file");
}
