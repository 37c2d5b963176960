//! Reads the signature material: the `Authorization` header or the presigned query parameters.

use http::HeaderMap;

use crate::canonical::QueryPair;
use crate::{Error, ALGORITHM, MAX_PRESIGNED_EXPIRY_SECONDS};

/// `AKID/20150830/us-east-1/service/aws4_request`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

/// What the client claims: who, when, which headers, which signature.
#[derive(Debug)]
pub(crate) struct SignedRequest {
    pub credential: Credential,
    pub amz_date: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    pub presigned: bool,
    /// X-Amz-Expires of a presigned request.
    pub expires_seconds: Option<i64>,
}

fn malformed(what: impl Into<String>) -> Error {
    Error::Malformed(what.into())
}

fn parse_credential(text: &str) -> Result<Credential, Error> {
    let parts: Vec<&str> = text.split('/').collect();
    let [access_key, date, region, service, terminator] = parts[..] else {
        return Err(malformed(format!("credential '{text}' is not KEY/DATE/REGION/SERVICE/aws4_request")));
    };
    if terminator != "aws4_request" || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!("credential '{text}' is not KEY/DATE/REGION/SERVICE/aws4_request")));
    }
    if access_key.is_empty() {
        return Err(malformed("credential has no access key"));
    }
    Ok(Credential {
        access_key: access_key.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    })
}

/// `host;x-amz-date`: lower case, sorted, no duplicates, no empty names.
fn parse_signed_headers(text: &str) -> Result<Vec<String>, Error> {
    let names: Vec<String> = text.split(';').map(str::to_owned).collect();
    let well_formed = names
        .iter()
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase() && b != b';'));
    if !well_formed || !names.windows(2).all(|w| w[0] < w[1]) {
        return Err(malformed(format!("SignedHeaders '{text}' must be lower case, sorted and unique")));
    }
    Ok(names)
}

fn check_signature_text(signature: &str) -> Result<(), Error> {
    if signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(malformed("Signature must be 64 hex digits"))
    }
}

/// Finds the signature material; refuses requests with both or neither kind.
pub(crate) fn read(headers: &HeaderMap, query: &[QueryPair]) -> Result<SignedRequest, Error> {
    let presigned = query.iter().any(|(name, _)| name == b"X-Amz-Algorithm" || name == b"X-Amz-Signature");
    let mut authorization = headers.get_all(http::header::AUTHORIZATION).iter();
    match (authorization.next(), presigned) {
        (Some(_), true) => Err(Error::AmbiguousAuthentication),
        (Some(value), false) => {
            if authorization.next().is_some() {
                return Err(malformed("more than one Authorization header"));
            }
            let value = value.to_str().map_err(|_| malformed("Authorization is not ASCII"))?;
            read_header(value, headers)
        }
        (None, true) => read_query(query),
        (None, false) => Err(Error::MissingAuthentication),
    }
}

fn read_header(authorization: &str, headers: &HeaderMap) -> Result<SignedRequest, Error> {
    let (algorithm, rest) = authorization.trim().split_once(' ').unwrap_or((authorization, ""));
    if algorithm != ALGORITHM {
        return Err(Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for param in rest.split(',') {
        let (name, value) = param.trim().split_once('=').ok_or_else(|| malformed("Authorization parameter"))?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => return Err(malformed(format!("unknown Authorization parameter '{other}'"))),
        };
        if slot.replace(value).is_some() {
            return Err(malformed(format!("Authorization parameter '{name}' given twice")));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(malformed("Authorization needs Credential, SignedHeaders and Signature"));
    };
    check_signature_text(signature)?;
    let mut dates = headers.get_all("x-amz-date").iter();
    let amz_date = match (dates.next(), dates.next()) {
        (Some(date), None) => date.to_str().map_err(|_| malformed("X-Amz-Date is not ASCII"))?.to_owned(),
        (None, _) => return Err(malformed("X-Amz-Date header is missing")),
        (Some(_), Some(_)) => return Err(malformed("more than one X-Amz-Date header")),
    };
    Ok(SignedRequest {
        credential: parse_credential(credential)?,
        amz_date,
        signed_headers: parse_signed_headers(signed_headers)?,
        signature: signature.to_owned(),
        presigned: false,
        expires_seconds: None,
    })
}

fn read_query(query: &[QueryPair]) -> Result<SignedRequest, Error> {
    let single = |name: &str| -> Result<String, Error> {
        let mut found = query.iter().filter(|(n, _)| n.as_slice() == name.as_bytes());
        match (found.next(), found.next()) {
            (Some((_, value)), None) => {
                String::from_utf8(value.clone()).map_err(|_| malformed(format!("{name} is not UTF-8")))
            }
            (None, _) => Err(malformed(format!("query parameter {name} is missing"))),
            (Some(_), Some(_)) => Err(malformed(format!("query parameter {name} given twice"))),
        }
    };
    let algorithm = single("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(Error::UnsupportedAlgorithm(algorithm));
    }
    let signature = single("X-Amz-Signature")?;
    check_signature_text(&signature)?;
    let expires = single("X-Amz-Expires")?;
    let expires_seconds =
        expires.parse::<i64>().ok().filter(|s| (1..=MAX_PRESIGNED_EXPIRY_SECONDS).contains(s)).ok_or_else(|| {
            malformed(format!("X-Amz-Expires '{expires}' must be 1..={MAX_PRESIGNED_EXPIRY_SECONDS}"))
        })?;
    Ok(SignedRequest {
        credential: parse_credential(&single("X-Amz-Credential")?)?,
        amz_date: single("X-Amz-Date")?,
        signed_headers: parse_signed_headers(&single("X-Amz-SignedHeaders")?)?,
        signature,
        presigned: true,
        expires_seconds: Some(expires_seconds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_malformed_authorization() {
        let headers = |auth: &str| {
            let mut h = HeaderMap::new();
            h.insert("authorization", auth.parse().unwrap());
            h.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
            h
        };
        let sig = "a".repeat(64);
        let good =
            format!("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=host, Signature={sig}");
        assert!(read(&headers(&good), &[]).is_ok());
        for bad in [
            "AWS4-HMAC-SHA256".to_owned(),
            format!("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/2015083/r/s/aws4_request, SignedHeaders=host, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4, SignedHeaders=host, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=x-a;host, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=Host, Signature={sig}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=host;;a, Signature={sig}"),
            "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=host, Signature=xyz".to_owned(),
            format!("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, Credential=B/20150830/r/s/aws4_request, SignedHeaders=host, Signature={sig}"),
        ] {
            assert!(matches!(read(&headers(&bad), &[]), Err(Error::Malformed(_))), "{bad}");
        }
        assert_eq!(
            read(&headers(&good.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")), &[]).unwrap_err(),
            Error::UnsupportedAlgorithm("AWS4-HMAC-SHA1".into())
        );
    }

    #[test]
    fn presigned_expiry_must_be_in_range() {
        let query = |expires: &str| -> Vec<QueryPair> {
            [
                ("X-Amz-Algorithm", ALGORITHM),
                ("X-Amz-Credential", "AK/20150830/r/s/aws4_request"),
                ("X-Amz-Date", "20150830T123600Z"),
                ("X-Amz-Expires", expires),
                ("X-Amz-SignedHeaders", "host"),
                ("X-Amz-Signature", &"b".repeat(64)),
            ]
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
        };
        assert_eq!(read(&HeaderMap::new(), &query("3600")).unwrap().expires_seconds, Some(3600));
        for bad in ["0", "-1", "604801", "1e3", ""] {
            assert!(matches!(read(&HeaderMap::new(), &query(bad)), Err(Error::Malformed(_))), "{bad}");
        }
        let mut both = HeaderMap::new();
        both.insert("authorization", "AWS4-HMAC-SHA256 x".parse().unwrap());
        assert_eq!(read(&both, &query("1")).unwrap_err(), Error::AmbiguousAuthentication);
        assert_eq!(read(&HeaderMap::new(), &[]).unwrap_err(), Error::MissingAuthentication);
    }
}
