//! GraphQL types of Test Connection (SPEC §12): the answer and its steps.

use async_graphql::SimpleObject;

use crate::code::Code;

/// What `testIPackInstanceOauthConnection` found.
#[derive(SimpleObject, Debug)]
pub struct ConnectionTest {
    /// True when every step passed.
    pub ok: bool,
    /// The steps run, in order; a failed step is the last one.
    pub steps: Vec<ConnectionTestStep>,
}

/// One step of a connection test.
#[derive(SimpleObject, Debug)]
pub struct ConnectionTestStep {
    /// `details`, `clientSecret`, `token` or `testRequest`.
    pub name: String,
    pub ok: bool,
    /// A SPEC §7 code when the step failed.
    pub code: Option<String>,
    /// What the step found or why it failed; never a secret.
    pub message: Option<String>,
    /// How long the step took.
    pub duration_ms: i32,
}

/// Why a step failed: a code and a message fit for the caller.
#[derive(Debug)]
pub struct StepFailure {
    pub code: Code,
    pub message: String,
}

impl StepFailure {
    /// A failure with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
