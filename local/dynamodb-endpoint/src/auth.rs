//! SigV4 refusals in DynamoDB's words (all status 400, `com.amazon.coral.service#...`), as
//! [`sigv4::coral`] words them for every Coral JSON service.

use sigv4::Error;

use crate::dispatch::Answer;

/// The DynamoDB answer for a request whose signature did not verify.
pub(crate) fn refusal(err: &Error, service: &str) -> Answer {
    let refusal = sigv4::coral::refusal(err, service);
    Answer::error(400, &refusal.error_type(), &refusal.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_dynamodb() {
        let answer = refusal(&Error::UnknownAccessKey("AKIDX".into()), "dynamodb");
        assert_eq!(answer.status, 400);
        assert_eq!(
            answer.body,
            "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\",\
             \"message\":\"The security token included in the request is invalid.\"}"
        );
    }
}
