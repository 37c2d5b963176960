//! A strict multipart/form-data parser for a POST Object body that is already in memory
//! (the caller bounds its size). Like S3, everything after the `file` part is ignored.

use bytes::Bytes;
use memchr::memmem;

/// Most form parts accepted before the file (S3 forms have a dozen).
const MAX_PARTS: usize = 200;

/// The parsed form: text fields in order (names as sent) and the file part.
#[derive(Debug)]
pub(crate) struct Form {
    pub fields: Vec<(String, String)>,
    pub file: Bytes,
}

impl Form {
    /// Value of a field, name compared case-insensitively (form field names are).
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FormError {
    #[error("the body of your POST request is not well-formed multipart/form-data")]
    Malformed,
    #[error("POST requires exactly one file upload per request")]
    NoFile,
    #[error("form field '{0}' appears more than once")]
    DuplicateField(String),
    #[error("too many form fields")]
    TooManyParts,
    #[error("a form part repeats its '{0}' header")]
    DuplicateHeader(String),
}

/// The boundary parameter of a `multipart/form-data` content type, if that is what it is.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let mime = parts.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty() && value.len() <= 70).then(|| value.to_owned())
    })
}

/// Parses the body; the file part must be named `file`.
pub(crate) fn parse(body: &Bytes, boundary: &str) -> Result<Form, FormError> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let finder = memmem::Finder::new(next_delimiter.as_bytes());

    // The body starts with the first delimiter (an optional preamble ending in CRLF is allowed).
    let mut pos = if body.starts_with(delimiter.as_bytes()) {
        delimiter.len()
    } else {
        finder.find(body).ok_or(FormError::Malformed)? + next_delimiter.len()
    };

    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        // After a delimiter: "--" closes the form, CRLF starts a part.
        let rest = body.get(pos..).ok_or(FormError::Malformed)?;
        if rest.starts_with(b"--") {
            return Err(FormError::NoFile);
        }
        if !rest.starts_with(b"\r\n") {
            return Err(FormError::Malformed);
        }
        pos += 2;
        if fields.len() >= MAX_PARTS {
            return Err(FormError::TooManyParts);
        }

        let rest = body.get(pos..).ok_or(FormError::Malformed)?;
        let header_len = memmem::find(rest, b"\r\n\r\n").ok_or(FormError::Malformed)?;
        let headers = std::str::from_utf8(&rest[..header_len]).map_err(|_| FormError::Malformed)?;
        let name = part_name(headers)?;
        let content_start = pos + header_len + 4;
        let content = body.get(content_start..).ok_or(FormError::Malformed)?;
        let content_len = finder.find(content).ok_or(FormError::Malformed)?;
        let content_end = content_start + content_len;

        if name.eq_ignore_ascii_case("file") {
            return Ok(Form { fields, file: body.slice(content_start..content_end) });
        }
        if fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            return Err(FormError::DuplicateField(name));
        }
        let value = std::str::from_utf8(&body[content_start..content_end]).map_err(|_| FormError::Malformed)?;
        fields.push((name, value.to_owned()));
        pos = content_end + next_delimiter.len();
    }
}

/// The `name` of a part from its `Content-Disposition: form-data; name="..."` header. A part that
/// repeats a header (or a parameter) is refused: parsers disagree on which one counts (s3s takes
/// the last `Content-Disposition`), and the policy must be checked on what gets stored.
fn part_name(headers: &str) -> Result<String, FormError> {
    let mut seen = std::collections::HashSet::new();
    let mut disposition = None;
    for line in headers.split("\r\n") {
        let (name, value) = line.split_once(':').ok_or(FormError::Malformed)?;
        let name = name.trim();
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(FormError::DuplicateHeader(name.to_ascii_lowercase()));
        }
        if name.eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value.trim());
        }
    }
    let mut params = disposition.ok_or(FormError::Malformed)?.split(';');
    if !params.next().is_some_and(|kind| kind.trim().eq_ignore_ascii_case("form-data")) {
        return Err(FormError::Malformed);
    }
    let mut part_name = None;
    for (param, value) in params.filter_map(|param| param.split_once('=')) {
        if param.trim().eq_ignore_ascii_case("name") && part_name.replace(value.trim().trim_matches('"')).is_some() {
            return Err(FormError::DuplicateHeader("content-disposition name".into()));
        }
    }
    part_name.filter(|name| !name.is_empty()).map(str::to_owned).ok_or(FormError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, &str)], file: Option<&[u8]>) -> Bytes {
        let mut out = Vec::new();
        for (name, value) in parts {
            out.extend_from_slice(
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
            );
        }
        if let Some(file) = file {
            out.extend_from_slice(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
            );
            out.extend_from_slice(file);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        Bytes::from(out)
    }

    #[test]
    fn parses_fields_and_file() {
        let form =
            parse(&body(&[("key", "uploads/a.jpg"), ("Content-Type", "image/jpeg")], Some(b"\r\n--Xy\0\xff")), "XyZ")
                .unwrap();
        assert_eq!(form.field("KEY"), Some("uploads/a.jpg"));
        assert_eq!(form.field("content-type"), Some("image/jpeg"));
        assert_eq!(&form.file[..], b"\r\n--Xy\0\xff");
    }

    #[test]
    fn empty_file_is_a_file() {
        let form = parse(&body(&[("key", "k")], Some(b"")), "XyZ").unwrap();
        assert!(form.file.is_empty());
    }

    #[test]
    fn refuses_bad_forms() {
        assert_eq!(parse(&body(&[("key", "k")], None), "XyZ").unwrap_err(), FormError::NoFile);
        assert_eq!(
            parse(&body(&[("key", "a"), ("Key", "b")], Some(b"x")), "XyZ").unwrap_err(),
            FormError::DuplicateField("Key".into())
        );
        assert_eq!(parse(&Bytes::from_static(b"garbage"), "XyZ").unwrap_err(), FormError::Malformed);
        let truncated = body(&[("key", "k")], Some(b"data"));
        assert_eq!(parse(&truncated.slice(..truncated.len() - 12), "XyZ").unwrap_err(), FormError::Malformed);
        let no_name = Bytes::from_static(b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--\r\n");
        assert_eq!(parse(&no_name, "XyZ").unwrap_err(), FormError::Malformed);
    }

    /// Regression: the first Content-Disposition was taken (s3s takes the last), so a part could
    /// pass the policy as an ignored field while s3s stored it as the key.
    #[test]
    fn refuses_parts_with_repeated_headers() {
        let two_dispositions = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"x-ignore-a\"\r\n\
              Content-Disposition: form-data; name=\"key\"\r\n\r\nevil\r\n--XyZ--\r\n",
        );
        assert_eq!(
            parse(&two_dispositions, "XyZ").unwrap_err(),
            FormError::DuplicateHeader("content-disposition".into())
        );
        let case_differs = Bytes::from_static(
            b"--XyZ\r\ncontent-disposition: form-data; name=\"a\"\r\nCONTENT-DISPOSITION: form-data; name=\"b\"\r\n\r\nv\r\n--XyZ--\r\n",
        );
        assert!(matches!(parse(&case_differs, "XyZ").unwrap_err(), FormError::DuplicateHeader(_)));
        let two_names = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"x-ignore-a\"; name=\"key\"\r\n\r\nv\r\n--XyZ--\r\n",
        );
        assert!(matches!(parse(&two_names, "XyZ").unwrap_err(), FormError::DuplicateHeader(_)));
        let two_types = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\nv\r\n--XyZ--\r\n",
        );
        assert!(matches!(parse(&two_types, "XyZ").unwrap_err(), FormError::DuplicateHeader(_)));
        let no_colon = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\ngarbage\r\n\r\nv\r\n--XyZ--\r\n",
        );
        assert_eq!(parse(&no_colon, "XyZ").unwrap_err(), FormError::Malformed);
    }

    #[test]
    fn many_headers_in_a_part_cost_linear_time() {
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n".to_vec();
        for i in 0..10_000 {
            body.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\nv\r\n--XyZ--\r\n");
        let started = std::time::Instant::now();
        assert_eq!(parse(&Bytes::from(body), "XyZ").unwrap_err(), FormError::NoFile);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn reads_boundary() {
        assert_eq!(boundary("multipart/form-data; boundary=\"abc\"").as_deref(), Some("abc"));
        assert_eq!(boundary("Multipart/Form-Data;boundary=abc").as_deref(), Some("abc"));
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }
}
