//! What a command (or the suite) hands back to `main` to print.

/// A command's result: the JSON object printed with `--json`, and the
/// readable report printed otherwise.
#[derive(Debug, Clone)]
pub struct Report {
    /// The machine-readable result.
    pub json: serde_json::Value,
    /// The human-readable result.
    pub text: String,
}
