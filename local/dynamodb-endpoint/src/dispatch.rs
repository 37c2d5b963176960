//! Runs one DynamoDB JSON 1.0 operation on the dynoxide [`Database`] in this process.
//!
//! dynoxide's own HTTP server has no per-request entry point (its router is private and it serves
//! only a `TcpListener` of its own), and an inner listener would be reachable by anyone on the
//! host without the signature check. So the endpoint calls dynoxide's public operation API here.

use dynoxide::{Database, DynoxideError};

/// `X-Amz-Target` prefix of DynamoDB operations.
const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// A JSON body and its status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub(crate) fn ok(body: String) -> Self {
        Self { status: 200, body }
    }

    /// An error envelope: `{"__type": <type>, "message": <message>}`.
    pub(crate) fn error(status: u16, error_type: &str, message: &str) -> Self {
        #[derive(serde::Serialize)]
        struct Envelope<'a> {
            #[serde(rename = "__type")]
            error_type: &'a str,
            message: &'a str,
        }
        let body = serde_json::to_string(&Envelope { error_type, message }).unwrap_or_default();
        Self { status, body }
    }

    fn bare(error_type: &str) -> Self {
        Self { status: 400, body: format!("{{\"__type\":\"{error_type}\"}}") }
    }

    fn from_error(err: &DynoxideError) -> Self {
        Self { status: err.status_code(), body: err.to_json() }
    }
}

/// Maps a serde failure to the DynamoDB error class, as dynoxide's server does for the plain cases.
fn decode_error(err: &serde_json::Error) -> DynoxideError {
    let message = err.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    for (marker, validation) in [
        ("VALIDATION_REQUEST:", true),
        ("VALIDATION_AS_READ:", true),
        ("VALIDATION:", true),
        ("SERIALIZATION_AS_READ:", false),
        ("SERIALIZATION:", false),
    ] {
        if let Some(rest) = message.strip_prefix(marker) {
            return if validation {
                DynoxideError::ValidationException(rest.to_owned())
            } else {
                DynoxideError::SerializationException(rest.to_owned())
            };
        }
    }
    if message.contains("missing field")
        || message.contains("unknown variant")
        || message.contains("invalid type: null")
    {
        DynoxideError::ValidationException(message.to_owned())
    } else {
        DynoxideError::SerializationException(message.to_owned())
    }
}

/// Decodes the request, runs the operation and encodes the response.
macro_rules! run {
    ($db:expr, $body:expr, $method:ident) => {
        match serde_json::from_str($body) {
            Ok(request) => $db.$method(request).and_then(|response| {
                serde_json::to_string(&response).map_err(|e| DynoxideError::InternalServerError(e.to_string()))
            }),
            Err(err) => Err(decode_error(&err)),
        }
    };
}

/// Runs the operation named by `target` with JSON `body`. Blocking: call it off the async threads.
pub(crate) fn dispatch(db: &Database, target: Option<&str>, body: &str) -> Answer {
    if !body.is_empty() && serde_json::from_str::<serde::de::IgnoredAny>(body).is_err() {
        return Answer::bare("com.amazon.coral.service#SerializationException");
    }
    let Some(operation) = target.and_then(|t| t.strip_prefix(TARGET_PREFIX)) else {
        return Answer::bare("com.amazon.coral.service#UnknownOperationException");
    };
    if body.is_empty() {
        return Answer::bare("com.amazon.coral.service#SerializationException");
    }
    let result = match operation {
        "CreateTable" => run!(db, body, create_table),
        "DeleteTable" => run!(db, body, delete_table),
        "DescribeTable" => run!(db, body, describe_table),
        "ListTables" => run!(db, body, list_tables),
        "UpdateTable" => run!(db, body, update_table),
        "PutItem" => run!(db, body, put_item),
        "GetItem" => run!(db, body, get_item),
        "DeleteItem" => run!(db, body, delete_item),
        "UpdateItem" => run!(db, body, update_item),
        "Query" => run!(db, body, query),
        "Scan" => run!(db, body, scan),
        "BatchGetItem" => run!(db, body, batch_get_item),
        "BatchWriteItem" => run!(db, body, batch_write_item),
        "TransactWriteItems" => run!(db, body, transact_write_items),
        "TransactGetItems" => run!(db, body, transact_get_items),
        "UpdateTimeToLive" => run!(db, body, update_time_to_live),
        "DescribeTimeToLive" => run!(db, body, describe_time_to_live),
        "ExecuteStatement" => run!(db, body, execute_statement),
        "ExecuteTransaction" => run!(db, body, execute_transaction),
        "BatchExecuteStatement" => run!(db, body, batch_execute_statement),
        "TagResource" => run!(db, body, tag_resource),
        "UntagResource" => run!(db, body, untag_resource),
        "ListTagsOfResource" => run!(db, body, list_tags_of_resource),
        _ => return Answer::bare("com.amazon.coral.service#UnknownOperationException"),
    };
    match result {
        Ok(json) => Answer::ok(json),
        Err(err) => Answer::from_error(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_dynamodb_refuses() {
        let db = Database::memory().unwrap();
        let target = Some("DynamoDB_20120810.ListTables");
        assert_eq!(dispatch(&db, target, "{}"), Answer::ok("{\"TableNames\":[]}".into()));
        let serialization = "{\"__type\":\"com.amazon.coral.service#SerializationException\"}";
        assert_eq!(dispatch(&db, target, "{not json").body, serialization);
        assert_eq!(dispatch(&db, target, "").body, serialization);
        let unknown = "{\"__type\":\"com.amazon.coral.service#UnknownOperationException\"}";
        assert_eq!(dispatch(&db, None, "{}").body, unknown);
        assert_eq!(dispatch(&db, Some("DynamoDB_20120810.DropEverything"), "{}").body, unknown);
        assert_eq!(dispatch(&db, Some("ListTables"), "{}").body, unknown);

        let missing = dispatch(&db, Some("DynamoDB_20120810.GetItem"), "{\"Key\":{}}");
        assert_eq!(missing.status, 400);
        assert!(missing.body.contains("ValidationException"), "{}", missing.body);
        let wrong_type = dispatch(&db, Some("DynamoDB_20120810.GetItem"), "{\"TableName\":5,\"Key\":{}}");
        assert_eq!(wrong_type.status, 400);
        assert!(wrong_type.body.contains("SerializationException"), "{}", wrong_type.body);
        let no_table =
            dispatch(&db, Some("DynamoDB_20120810.GetItem"), "{\"TableName\":\"nope\",\"Key\":{\"k\":{\"S\":\"v\"}}}");
        assert!(no_table.body.contains("ResourceNotFoundException"), "{}", no_table.body);
        // deeply nested JSON is an error, not a stack overflow
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(dispatch(&db, target, &deep).status, 400);
    }
}
