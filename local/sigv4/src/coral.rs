//! SigV4 refusals in the words of AWS's JSON-protocol (Coral) services such as DynamoDB and Step
//! Functions: the `__type` and message they answer with, all with status 400.

use chrono::{DateTime, Duration, Utc};

use crate::Error;

/// The namespace of the refusals' error types.
pub const NAMESPACE: &str = "com.amazon.coral.service";

/// A refusal: the error's name (e.g. `UnrecognizedClientException`) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub message: String,
}

impl Refusal {
    /// The `__type` of the answer: `com.amazon.coral.service#<error>`.
    pub fn error_type(&self) -> String {
        format!("{NAMESPACE}#{}", self.error)
    }
}

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
     Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

fn amz(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

fn coral(error: &'static str, message: &str) -> Refusal {
    Refusal { error, message: message.to_owned() }
}

/// How a Coral JSON service refuses a request whose signature did not verify.
pub fn refusal(err: &Error, service: &str) -> Refusal {
    match err {
        Error::MissingAuthentication => {
            coral("MissingAuthenticationTokenException", "Request is missing Authentication Token")
        }
        Error::AmbiguousAuthentication => coral(
            "InvalidSignatureException",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        ),
        Error::Malformed(what) => coral("IncompleteSignatureException", &format!("Malformed authorization: {what}")),
        Error::UnsupportedAlgorithm(algorithm) => {
            coral("IncompleteSignatureException", &format!("Unsupported AWS 'algorithm': '{algorithm}'."))
        }
        Error::UnknownAccessKey(_) => {
            coral("UnrecognizedClientException", "The security token included in the request is invalid.")
        }
        Error::WrongRegion { .. } => {
            coral("InvalidSignatureException", "Credential should be scoped to a valid region. ")
        }
        Error::WrongService { .. } => coral(
            "InvalidSignatureException",
            &format!("Credential should be scoped to correct service: '{service}'. "),
        ),
        Error::ScopeDateMismatch { scope, date } => coral(
            "InvalidSignatureException",
            &format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                 '{scope}' != '{}', from '{date}'.",
                date.get(..8).unwrap_or(date)
            ),
        ),
        Error::TimeSkewed { request, server } if request > server => coral(
            "InvalidSignatureException",
            &format!(
                "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                amz(*request),
                amz(*server + Duration::minutes(15)),
                amz(*server)
            ),
        ),
        Error::TimeSkewed { request, server } => coral(
            "InvalidSignatureException",
            &format!(
                "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                amz(*request),
                amz(*server - Duration::minutes(15)),
                amz(*server)
            ),
        ),
        Error::Expired(at) => coral("InvalidSignatureException", &format!("Signature expired: {}", amz(*at))),
        Error::UnsignedHeader(header) => coral(
            "InvalidSignatureException",
            &format!("'{header}' must be a 'SignedHeader' in the AWS Authorization."),
        ),
        Error::MissingSignedHeader(_)
        | Error::UnsignedPayload
        | Error::PayloadHashMismatch
        | Error::SignatureMismatch => coral("InvalidSignatureException", SIGNATURE_MISMATCH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_coral_services() {
        let answer = refusal(&Error::UnknownAccessKey("AKIDX".into()), "dynamodb");
        assert_eq!(answer.error_type(), "com.amazon.coral.service#UnrecognizedClientException");
        assert_eq!(answer.message, "The security token included in the request is invalid.");
        let skew = Error::TimeSkewed {
            request: DateTime::parse_from_rfc3339("2015-08-30T12:36:00Z").unwrap().to_utc(),
            server: DateTime::parse_from_rfc3339("2015-08-30T13:00:00Z").unwrap().to_utc(),
        };
        assert!(refusal(&skew, "dynamodb").message.contains(
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124500Z (20150830T130000Z - 15 min.)"
        ));
        let scope = Error::WrongService { expected: "states".into(), got: "s3".into() };
        assert!(refusal(&scope, "states").message.contains("'states'"));
    }
}
