//! S3-shaped error responses produced by the front door (before s3s sees a request).

use bytes::Bytes;
use http::{header, Response, StatusCode};

/// A refusal answered the way S3 answers: status plus an `<Error>` XML body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Failure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra elements S3 adds for some codes (e.g. ProposedSize, MaxSizeAllowed).
    pub extra: Vec<(&'static str, String)>,
}

impl S3Failure {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), extra: Vec::new() }
    }

    pub(crate) fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }

    /// 403 AccessDenied "Invalid according to Policy: ..." (a POST policy refused the form).
    pub(crate) fn policy(reason: impl std::fmt::Display) -> Self {
        Self::access_denied(format!("Invalid according to Policy: {reason}"))
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    pub(crate) fn invalid_policy(message: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidPolicyDocument", format!("Invalid Policy: {message}"))
    }

    pub(crate) fn malformed_post(message: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MalformedPOSTRequest", message.to_string())
    }

    /// 400 EntityTooLarge; `proposed` is None when the body was cut off before its end.
    pub(crate) fn too_large(proposed: Option<u64>, max: u64) -> Self {
        let mut failure = Self::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        );
        if let Some(size) = proposed {
            failure.extra.push(("ProposedSize", size.to_string()));
        }
        failure.extra.push(("MaxSizeAllowed", max.to_string()));
        failure
    }

    /// 400 RequestTimeout: the body did not arrive in time.
    pub(crate) fn request_timeout() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period. \
             Idle connections will be closed.",
        )
    }

    pub(crate) fn too_small(proposed: u64, min: u64) -> Self {
        let mut failure = Self::new(
            StatusCode::BAD_REQUEST,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
        );
        failure.extra.push(("ProposedSize", proposed.to_string()));
        failure.extra.push(("MinSizeAllowed", min.to_string()));
        failure
    }

    /// The XML body S3 sends with this error.
    pub(crate) fn xml(&self, resource: &str) -> String {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        push_element(&mut xml, "Code", self.code);
        push_element(&mut xml, "Message", &self.message);
        for (name, value) in &self.extra {
            push_element(&mut xml, name, value);
        }
        push_element(&mut xml, "Resource", resource);
        xml.push_str("</Error>");
        xml
    }

    /// The HTTP response; `close` asks the client to drop the connection (unread body).
    pub(crate) fn into_response(self, resource: &str, close: bool) -> Response<Bytes> {
        let mut response = Response::new(Bytes::from(self.xml(resource)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/xml"));
        if close {
            headers.insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        }
        response
    }
}

fn push_element(xml: &mut String, name: &str, value: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    for c in value.chars() {
        match c {
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '&' => xml.push_str("&amp;"),
            '"' => xml.push_str("&quot;"),
            '\'' => xml.push_str("&apos;"),
            c => xml.push(c),
        }
    }
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped_and_has_extras() {
        let xml = S3Failure::too_large(Some(11), 10).xml("/b");
        assert!(xml.contains("<Code>EntityTooLarge</Code>"));
        assert!(xml.contains("<ProposedSize>11</ProposedSize><MaxSizeAllowed>10</MaxSizeAllowed>"));
        let xml = S3Failure::policy("Policy Condition failed: [\"eq\", \"$key\", \"a<b\"]").xml("/b");
        assert!(xml.contains("Policy Condition failed: [&quot;eq&quot;, &quot;$key&quot;, &quot;a&lt;b&quot;]"));
    }
}
