//! What the scheduled jobs (personal-data reporting, usage snapshot) share on Lambda: the typed
//! EventBridge scheduled event they are invoked with, and how a job's error reaches the runtime.

use crate::kernel::error::Error;

/// An EventBridge rule's "Scheduled Event" (`detail-type: Scheduled Event`, `source: aws.events`,
/// `time` = the scheduled time). The same payload `sam local invoke -e events/<job>/scheduled.json` sends.
pub type ScheduledEvent = aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;

/// A failed run is an invocation error: EventBridge retries it and then sends it to the
/// dead-letter queue. The type is the error's code; messages never hold accountIds.
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        Self { error_type: error.code().to_owned(), error_message: error.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_events_parse_and_errors_become_diagnostics() {
        let event: ScheduledEvent = serde_json::from_value(serde_json::json!({
            "version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-01-15T00:05:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"], "detail": {}
        }))
        .unwrap();
        assert_eq!(event.time.to_rfc3339(), "2026-01-15T00:05:00+00:00");
        let diagnostic = lambda_runtime::Diagnostic::from(Error::internal("boom"));
        assert_eq!(diagnostic.error_type, "internal");
    }
}
