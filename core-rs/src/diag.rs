//! Warnings raised deep in the core travel up as values: the core calls `warn`, and the
//! bindings install the sink that turns a message into a Python warning (or an error, when
//! warnings are errors). Without a sink (Rust tests) warnings go to stderr.
use std::sync::OnceLock;

pub type WarningSink = fn(&str) -> Result<(), String>;

static SINK: OnceLock<WarningSink> = OnceLock::new();

/// Installs the warning sink (once; later calls are ignored).
pub fn set_warning_sink(sink: WarningSink) {
    let _ = SINK.set(sink);
}

/// Issues a warning; `Err` carries the sink's refusal (a warning turned into an error).
pub fn warn(msg: &str) -> Result<(), String> {
    match SINK.get() {
        Some(f) => f(msg),
        None => {
            eprintln!("warning: {msg}");
            Ok(())
        }
    }
}
