//! SDK errors as [`Error`]s: a failed condition is a write conflict, transient failures are
//! `unavailable`, the rest `internal`.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

use crate::kernel::error::Error;
use crate::ports::store::write_conflict;

use super::in_flight::{self, Cancellation, Refusal};

/// Error codes of DynamoDB answers that say "try again later" rather than "this is wrong".
fn is_transient_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "ServiceUnavailable"
                | "InternalServerError"
                | "TransactionInProgressException"
        )
    )
}

/// Translates an SDK error that is not a failed condition: transient failures (throttling,
/// 5xx answers, timeouts, connection failures) are `unavailable`, the rest `internal`.
pub(super) fn sdk_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(context) => {
            is_transient_code(context.err().code()) || context.raw().status().is_server_error()
        }
        SdkError::ResponseError(context) => context.raw().status().is_server_error(),
        _ => false,
    };
    let cause = format!("{operation}: {}", DisplayErrorContext(&err));
    if transient { Error::unavailable("dynamodb", cause) } else { Error::internal(cause) }
}

pub(super) fn transact_error(err: SdkError<TransactWriteItemsError, HttpResponse>) -> Refusal {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
        let codes: Vec<&str> = cancelled.cancellation_reasons().iter().filter_map(|reason| reason.code()).collect();
        match in_flight::classify(&codes) {
            Cancellation::ConditionFailed => return Refusal::Final(write_conflict()),
            Cancellation::InFlight => return Refusal::InFlight,
            Cancellation::Throttled => {
                return Refusal::Final(Error::unavailable(
                    "dynamodb",
                    format!("TransactWriteItems cancelled: {codes:?}"),
                ));
            }
            Cancellation::Other => {}
        }
    }
    Refusal::Final(sdk_error("TransactWriteItems", err))
}
