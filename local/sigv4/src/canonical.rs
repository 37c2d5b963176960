//! The canonical request of SigV4: URI, query string, headers.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>.

use http::HeaderMap;

use crate::Error;

/// How the path is put in canonical form: S3 encodes the decoded path once, every other service
/// encodes the path as sent again ("double encoding").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathEncoding {
    Single,
    Double,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Percent-encodes every byte but the unreserved ones (and `/` when `keep_slash`).
pub(crate) fn uri_encode(bytes: &[u8], keep_slash: bool, out: &mut String) {
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&format!("{b:02X}"));
        }
    }
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits is malformed.
pub(crate) fn percent_decode(text: &str) -> Result<Vec<u8>, Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(|| Error::Malformed("bad percent escape".into()))?;
            let value = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::Malformed("bad percent escape".into()))?;
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

pub(crate) fn canonical_uri(path: &str, encoding: PathEncoding) -> Result<String, Error> {
    let path = if path.is_empty() { "/" } else { path };
    let mut out = String::with_capacity(path.len() * 2);
    match encoding {
        PathEncoding::Single => uri_encode(&percent_decode(path)?, true, &mut out),
        PathEncoding::Double => uri_encode(path.as_bytes(), true, &mut out),
    }
    Ok(out)
}

/// One decoded query parameter: (name, value).
pub(crate) type QueryPair = (Vec<u8>, Vec<u8>);

/// The decoded query parameters, in order.
pub(crate) fn query_pairs(query: &str) -> Result<Vec<QueryPair>, Error> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Ok((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

/// Sorted, encoded `name=value` pairs joined by `&`, without the parameter named `skip`.
pub(crate) fn canonical_query(pairs: &[QueryPair], skip: Option<&str>) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .filter(|(name, _)| skip.is_none_or(|skip| name.as_slice() != skip.as_bytes()))
        .map(|(name, value)| {
            let (mut n, mut v) = (String::new(), String::new());
            uri_encode(name, false, &mut n);
            uri_encode(value, false, &mut v);
            (n, v)
        })
        .collect();
    encoded.sort();
    let parts: Vec<String> = encoded.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
    parts.join("&")
}

/// Trims a header value and collapses runs of spaces into one.
fn trim_collapse(value: &[u8], out: &mut Vec<u8>) {
    let mut last_space = true; // drops leading spaces
    let start = out.len();
    for &b in value {
        let space = b == b' ' || b == b'\t';
        if space {
            if !last_space {
                out.push(b' ');
            }
        } else {
            out.push(b);
        }
        last_space = space;
    }
    while out.len() > start && out.last() == Some(&b' ') {
        out.pop();
    }
}

/// The canonical headers block (each `name:value\n`) for the signed header names (lower case, sorted).
pub(crate) fn canonical_headers(headers: &HeaderMap, signed: &[String]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for name in signed {
        let mut values = headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            return Err(Error::MissingSignedHeader(name.clone()));
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut first = true;
        for value in values {
            if !first {
                out.push(b',');
            }
            first = false;
            trim_collapse(value.as_bytes(), &mut out);
        }
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_paths_per_service() {
        assert_eq!(canonical_uri("", PathEncoding::Double).unwrap(), "/");
        assert_eq!(canonical_uri("/a%3Db c", PathEncoding::Double).unwrap(), "/a%253Db%20c");
        assert_eq!(canonical_uri("/a%3Db%7E", PathEncoding::Single).unwrap(), "/a%3Db~");
        assert!(canonical_uri("/bad%zz", PathEncoding::Single).is_err());
        assert!(canonical_uri("/cut%4", PathEncoding::Single).is_err());
    }

    #[test]
    fn sorts_and_encodes_query() {
        let pairs = query_pairs("b=2&a=%7e&a=1&flag&&X-Amz-Signature=x").unwrap();
        assert_eq!(canonical_query(&pairs, Some("X-Amz-Signature")), "a=1&a=~&b=2&flag=");
        assert!(query_pairs("a=%").is_err());
    }

    #[test]
    fn trims_header_values() {
        let mut out = Vec::new();
        trim_collapse(b"  a \t  b   c  ", &mut out);
        assert_eq!(out, b"a b c");
    }
}
