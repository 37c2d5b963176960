//! The sign-in page and error pages. Every echoed value goes through [`escape`].

use std::fmt::Write as _;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}\
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}\
button{margin-top:1.2rem;padding:.5rem 1.2rem}.error{color:#b00020}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        title = escape(title)
    )
}

/// The sign-in form. `hidden` are the authorization request's parameters, posted back with the
/// credentials; `username` refills the field after a failed attempt.
pub(crate) fn sign_in_form(hidden: &[(&str, &str)], username: &str, error: Option<&str>) -> String {
    let mut body = String::from("<h1>Sign in</h1>");
    if let Some(error) = error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", escape(error));
    }
    body.push_str("<form method=\"post\" action=\"authorize\">");
    for (name, value) in hidden {
        let _ = write!(body, "<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value));
    }
    let _ = write!(
        body,
        "<label for=\"username\">Username</label>\
<input id=\"username\" name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" required maxlength=\"128\" value=\"{}\">\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"256\">\
<button type=\"submit\">Sign in</button></form>",
        escape(username)
    );
    page("Sign in", &body)
}

/// A page for an error that must not be sent back to the client (unknown client, bad callback).
pub(crate) fn error_page(message: &str) -> String {
    page("Sign-in error", &format!("<h1>Sign-in error</h1><p class=\"error\">{}</p>", escape(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_inert() {
        let hostile = "\"><script>alert(1)</script><a x='";
        let html = sign_in_form(&[("state", hostile)], hostile, Some(hostile));
        assert!(!html.contains("<script>"));
        assert!(!html.contains(hostile));
        assert!(html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;a x=&#39;"));
        assert!(!error_page("<b>x</b>").contains("<b>"));
    }
}
