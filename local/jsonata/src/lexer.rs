//! Splits an expression into tokens, as the reference tokenizer does (a `/` starts a regular
//! expression only where an operand is expected).

use crate::error::{Error, Result};

/// One token; `position` is the character offset just after it (the reference's convention).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Name(String),
    Variable(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex { pattern: String, flags: String },
    Op(&'static str),
    End,
}

const MULTI_CHAR_OPERATORS: [&str; 7] = ["..", ":=", "!=", ">=", "<=", "**", "~>"];
const SINGLE_CHAR_OPERATORS: &str = ".[]{}(),@#;:?+-*/%|=<>^&!~";

/// The characters that end a name: whitespace and the single-character operators.
fn ends_name(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}') || SINGLE_CHAR_OPERATORS.contains(c)
}

pub(crate) struct Lexer {
    chars: Vec<char>,
    position: usize,
}

impl Lexer {
    pub fn new(source: &str) -> Self {
        Lexer { chars: source.chars().collect(), position: 0 }
    }

    fn at(&self, index: usize) -> Option<char> {
        self.chars.get(index).copied()
    }

    fn token(&self, kind: TokenKind) -> Token {
        Token { kind, position: self.position }
    }

    /// The next token; `infix` is true where an operator is expected (so `/` divides).
    pub fn next(&mut self, infix: bool) -> Result<Token> {
        loop {
            self.skip_whitespace();
            if self.at(self.position) == Some('/') && self.at(self.position + 1) == Some('*') {
                self.skip_comment()?;
            } else {
                break;
            }
        }
        let Some(c) = self.at(self.position) else {
            return Ok(self.token(TokenKind::End));
        };
        if !infix && c == '/' {
            self.position += 1;
            return self.scan_regex();
        }
        for op in MULTI_CHAR_OPERATORS {
            let mut ops = op.chars();
            if ops.next() == Some(c) && ops.next() == self.at(self.position + 1) {
                self.position += 2;
                return Ok(self.token(TokenKind::Op(op)));
            }
        }
        if let Some(index) = SINGLE_CHAR_OPERATORS.find(c) {
            self.position += 1;
            return Ok(self.token(TokenKind::Op(&SINGLE_CHAR_OPERATORS[index..index + 1])));
        }
        if c == '"' || c == '\'' {
            self.position += 1;
            return self.scan_string(c);
        }
        if c.is_ascii_digit() {
            return self.scan_number();
        }
        if c == '`' {
            self.position += 1;
            let start = self.position;
            while let Some(ch) = self.at(self.position) {
                if ch == '`' {
                    let name: String = self.chars[start..self.position].iter().collect();
                    self.position += 1;
                    return Ok(self.token(TokenKind::Name(name)));
                }
                self.position += 1;
            }
            return Err(Error::at(
                "S0105",
                self.position,
                "Quoted property name must be terminated with a backquote (`)",
            ));
        }
        self.scan_name()
    }

    fn skip_whitespace(&mut self) {
        while let Some(c) = self.at(self.position) {
            if matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}') {
                self.position += 1;
            } else {
                break;
            }
        }
    }

    fn skip_comment(&mut self) -> Result<()> {
        let start = self.position;
        self.position += 2;
        while self.position < self.chars.len() {
            if self.at(self.position) == Some('*') && self.at(self.position + 1) == Some('/') {
                self.position += 2;
                return Ok(());
            }
            self.position += 1;
        }
        Err(Error::at("S0106", start, "Comment has no closing tag"))
    }

    fn scan_string(&mut self, quote: char) -> Result<Token> {
        let mut value = String::new();
        while let Some(c) = self.at(self.position) {
            self.position += 1;
            if c == quote {
                return Ok(self.token(TokenKind::Str(value)));
            }
            if c != '\\' {
                value.push(c);
                continue;
            }
            let Some(escaped) = self.at(self.position) else { break };
            self.position += 1;
            match escaped {
                '"' | '\\' | '/' => value.push(escaped),
                'b' => value.push('\u{8}'),
                'f' => value.push('\u{c}'),
                'n' => value.push('\n'),
                'r' => value.push('\r'),
                't' => value.push('\t'),
                'u' => value.push(self.scan_unicode_escape()?),
                other => {
                    return Err(Error::at("S0103", self.position, format!("Unsupported escape sequence: \\{other}"))
                        .with_token(&other.to_string()))
                }
            }
        }
        Err(Error::at("S0101", self.position, "String literal must be terminated by a matching quote"))
    }

    /// `\uXXXX`, combining a surrogate pair when a second escape follows.
    fn scan_unicode_escape(&mut self) -> Result<char> {
        let unit = self.hex4()?;
        if (0xD800..0xDC00).contains(&unit)
            && self.at(self.position) == Some('\\')
            && self.at(self.position + 1) == Some('u')
        {
            let saved = self.position;
            self.position += 2;
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            self.position = saved;
        }
        Ok(char::from_u32(unit).unwrap_or('\u{FFFD}'))
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits: String = self.chars.iter().skip(self.position).take(4).collect();
        if digits.len() == 4 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
            self.position += 4;
            return u32::from_str_radix(&digits, 16).map_err(|_| {
                Error::at("S0104", self.position, "The escape sequence \\u must be followed by 4 hex digits")
            });
        }
        Err(Error::at("S0104", self.position, "The escape sequence \\u must be followed by 4 hex digits"))
    }

    /// `(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?`
    fn scan_number(&mut self) -> Result<Token> {
        let start = self.position;
        let digits = |lexer: &Lexer, mut i: usize| {
            while lexer.at(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            }
            i
        };
        let mut end = if self.at(start) == Some('0') { start + 1 } else { digits(self, start) };
        if self.at(end) == Some('.') && self.at(end + 1).is_some_and(|c| c.is_ascii_digit()) {
            end = digits(self, end + 1);
        }
        if matches!(self.at(end), Some('e' | 'E')) {
            let mut exponent = end + 1;
            if matches!(self.at(exponent), Some('+' | '-')) {
                exponent += 1;
            }
            if self.at(exponent).is_some_and(|c| c.is_ascii_digit()) {
                end = digits(self, exponent);
            }
        }
        let text: String = self.chars[start..end].iter().collect();
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => {
                self.position = end;
                Ok(self.token(TokenKind::Num(value)))
            }
            _ => Err(Error::at("S0102", end, format!("Number out of range: {text}")).with_token(&text)),
        }
    }

    fn scan_name(&mut self) -> Result<Token> {
        let start = self.position;
        let mut end = start;
        while self.at(end).is_some_and(|c| !ends_name(c)) {
            end += 1;
        }
        let text: String = self.chars[start..end].iter().collect();
        self.position = end;
        if let Some(variable) = text.strip_prefix('$') {
            return Ok(self.token(TokenKind::Variable(variable.to_string())));
        }
        let kind = match text.as_str() {
            "and" => TokenKind::Op("and"),
            "or" => TokenKind::Op("or"),
            "in" => TokenKind::Op("in"),
            "true" => TokenKind::Bool(true),
            "false" => TokenKind::Bool(false),
            "null" => TokenKind::Null,
            _ => TokenKind::Name(text),
        };
        Ok(self.token(kind))
    }

    fn scan_regex(&mut self) -> Result<Token> {
        let start = self.position;
        let mut depth: i64 = 0;
        while let Some(c) = self.at(self.position) {
            if c == '/' && depth == 0 && self.backslashes_before(self.position).is_multiple_of(2) {
                let pattern: String = self.chars[start..self.position].iter().collect();
                if pattern.is_empty() {
                    return Err(Error::at("S0301", self.position, "Empty regular expressions are not allowed"));
                }
                self.position += 1;
                let flags_start = self.position;
                while matches!(self.at(self.position), Some('i' | 'm')) {
                    self.position += 1;
                }
                let flags: String = self.chars[flags_start..self.position].iter().collect();
                return Ok(self.token(TokenKind::Regex { pattern, flags }));
            }
            let escaped = self.position > 0 && self.at(self.position - 1) == Some('\\');
            if matches!(c, '(' | '[' | '{') && !escaped {
                depth += 1;
            }
            if matches!(c, ')' | ']' | '}') && !escaped {
                depth -= 1;
            }
            self.position += 1;
        }
        Err(Error::at("S0302", self.position, "No terminating / in regular expression"))
    }

    /// The rest of a function signature after its opening `<`, through the matching `>`.
    pub fn take_signature(&mut self) -> Option<String> {
        let start = self.position;
        let mut depth = 1;
        while let Some(c) = self.at(self.position) {
            self.position += 1;
            match c {
                '<' => depth += 1,
                '>' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(self.chars[start..self.position].iter().collect());
                    }
                }
                '{' => return None,
                _ => {}
            }
        }
        None
    }

    fn backslashes_before(&self, position: usize) -> usize {
        self.chars[..position].iter().rev().take_while(|&&c| c == '\\').count()
    }
}
