//! What every function's `main` shares: [`run`] serves a [`Function`] on the Lambda runtime and
//! maps its errors, once for all functions, to a `Diagnostic` whose `errorType` is the error's
//! stable [`ErrorType::error_type`].

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;

/// A stable name for an error, for Lambda's `errorType` (what alarms and operators key on).
pub trait ErrorType {
    fn error_type(&self) -> &'static str;
}

/// A function's handler: one invocation's event in, its summary or a typed error out.
pub trait Function: Sync {
    type Output: Serialize + Send;
    type Error: ErrorType + Display + Send;

    fn handle(
        &self,
        event: LambdaEvent<Value>,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;
}

/// The `Diagnostic` Lambda reports for `error`.
pub fn diagnostic<E: ErrorType + Display>(error: &E) -> Diagnostic {
    Diagnostic {
        error_type: error.error_type().to_owned(),
        error_message: error.to_string(),
    }
}

/// Serves `function` until the runtime stops: one invocation at a time, or as many at once as
/// Lambda Managed Instances' `AWS_LAMBDA_MAX_CONCURRENCY` says (the functions hold no state
/// between invocations but what the dedup table keeps with conditional writes, so concurrent
/// invocations are as safe in one process as in many). With the variable unset or 1, as on
/// classic Lambda and under cargo-lambda's emulator, the runtime polls sequentially, quietly.
pub async fn run<F: Function + Send + 'static>(function: F) -> Result<(), lambda_runtime::Error> {
    let function = Arc::new(function);
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Value>| {
        let function = Arc::clone(&function);
        async move {
            // Boxed: the handler future is deep enough (SDK calls inside the router) that its
            // layout, nested in the runtime's, would exceed the compiler's default query depth.
            Box::pin(function.handle(event))
                .await
                .map_err(|e| diagnostic(&e))
        }
    }))
    .await
}
