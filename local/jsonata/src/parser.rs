//! A Pratt (top-down operator precedence) parser as the reference's, followed by the same
//! post-parse pass that turns `.` chains into paths and attaches predicates, grouping and sorting.

use crate::ancestry::Ancestry;
use crate::ast::{BinOp, Group, Kind, LambdaDef, Node, TransformDef};
use crate::error::{Error, Result};
use crate::lexer::{Lexer, Token, TokenKind};
use crate::signature::Signature;
use std::sync::Arc;

/// The parse tree before post-processing.
#[derive(Debug)]
struct Raw {
    kind: RawKind,
    position: usize,
    keep_array: bool,
    /// Height of this subtree (bounded, so that later passes cannot recurse without bound).
    height: usize,
}

#[derive(Debug)]
enum RawKind {
    Name(String),
    Variable(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex(String, String),
    Wildcard,
    Descendant,
    Parent,
    /// `and`, `or`, `in` used as names, or the `?` placeholder.
    Operator(&'static str),
    Binary(&'static str, Box<Raw>, Box<Raw>),
    Filter(Box<Raw>, Box<Raw>),
    GroupBy(Box<Raw>, Vec<(Raw, Raw)>),
    OrderBy(Box<Raw>, Vec<(bool, Raw)>),
    Negate(Box<Raw>),
    Array(Vec<Raw>),
    Object(Vec<(Raw, Raw)>),
    Block(Vec<Raw>),
    Condition(Box<Raw>, Box<Raw>, Option<Box<Raw>>),
    Call {
        procedure: Box<Raw>,
        args: Vec<Raw>,
        partial: bool,
    },
    Lambda {
        params: Vec<String>,
        signature: Option<Signature>,
        body: Box<Raw>,
    },
    Transform(Box<Raw>, Box<Raw>, Option<Box<Raw>>),
    /// The end of the expression where an operand was expected (an error once processed,
    /// unless parsing fails earlier, as in the reference).
    End,
}

fn raw(kind: RawKind, position: usize) -> Raw {
    let height = 1 + children(&kind).into_iter().map(|c| c.height).max().unwrap_or(0);
    Raw { kind, position, keep_array: false, height }
}

fn children(kind: &RawKind) -> Vec<&Raw> {
    match kind {
        RawKind::Binary(_, a, b) | RawKind::Filter(a, b) => vec![a, b],
        RawKind::GroupBy(a, pairs) => std::iter::once(&**a).chain(pairs.iter().flat_map(|(k, v)| [k, v])).collect(),
        RawKind::OrderBy(a, terms) => std::iter::once(&**a).chain(terms.iter().map(|(_, t)| t)).collect(),
        RawKind::Negate(a) => vec![a],
        RawKind::Array(items) | RawKind::Block(items) => items.iter().collect(),
        RawKind::Object(pairs) => pairs.iter().flat_map(|(k, v)| [k, v]).collect(),
        RawKind::Condition(a, b, c) => [Some(&**a), Some(&**b), c.as_deref()].into_iter().flatten().collect(),
        RawKind::Call { procedure, args, .. } => std::iter::once(&**procedure).chain(args.iter()).collect(),
        RawKind::Lambda { body, .. } => vec![body],
        RawKind::Transform(a, b, c) => [Some(&**a), Some(&**b), c.as_deref()].into_iter().flatten().collect(),
        _ => Vec::new(),
    }
}

/// Binding power of an operator token: `lbp` as the reference registers it (zero for tokens
/// that have no infix form: `:`, `;`, `,`, `..`, `|`, `**`, closing brackets).
fn binding_power(op: &str) -> u32 {
    match op {
        "." => 75,
        "[" | "(" | "@" | "#" => 80,
        "{" => 70,
        "?" => 20,
        "+" | "-" | "&" => 50,
        "*" | "/" | "%" => 60,
        "=" | "<" | ">" | "^" | "!=" | "<=" | ">=" | "~>" | "in" => 40,
        ":=" => 10,
        "and" => 30,
        "or" => 25,
        _ => 0,
    }
}

fn token_text(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Name(s) | TokenKind::Str(s) => s.clone(),
        TokenKind::Variable(s) => format!("${s}"),
        TokenKind::Num(n) => crate::value::js_number(*n),
        TokenKind::Bool(b) => b.to_string(),
        TokenKind::Null => "null".into(),
        TokenKind::Regex { pattern, .. } => pattern.clone(),
        TokenKind::Op(op) => op.to_string(),
        TokenKind::End => "(end)".into(),
    }
}

struct Parser {
    lexer: Lexer,
    node: Token,
    depth: usize,
    max_depth: usize,
}

/// Parses an expression into its processed tree; `max_depth` bounds nesting.
pub(crate) fn parse(source: &str, max_depth: usize) -> Result<Node> {
    let mut parser =
        Parser { lexer: Lexer::new(source), node: Token { kind: TokenKind::End, position: 0 }, depth: 0, max_depth };
    parser.advance(None, false)?;
    let tree = parser.expression(0)?;
    if parser.node.kind != TokenKind::End {
        return Err(parser.syntax_error());
    }
    let mut ancestry = Ancestry::default();
    let node = process(&mut ancestry, tree)?;
    if node.parent_slot.is_some() || !node.seeking_parent.is_empty() {
        return Err(Error::at(
            "S0217",
            node.position,
            "The object representing the 'parent' cannot be derived from this expression",
        ));
    }
    Ok(node)
}

impl Parser {
    fn is_op(&self, op: &str) -> bool {
        matches!(self.node.kind, TokenKind::Op(o) if o == op)
    }

    fn syntax_error(&self) -> Error {
        let token = token_text(&self.node.kind);
        Error::at("S0201", self.node.position, format!("Syntax error: \"{token}\"")).with_token(&token)
    }

    /// Moves to the next token, first checking the current one is `expected`.
    fn advance(&mut self, expected: Option<&str>, infix: bool) -> Result<Token> {
        if let Some(id) = expected {
            if !self.is_op(id) {
                let token = token_text(&self.node.kind);
                let (code, message) = if self.node.kind == TokenKind::End {
                    ("S0203", format!("Expected \"{id}\" before end of expression"))
                } else {
                    ("S0202", format!("Expected \"{id}\", got \"{token}\""))
                };
                return Err(Error::at(code, self.node.position, message).with_token(&token));
            }
        }
        let next = self.lexer.next(infix)?;
        if let TokenKind::Op(op) = next.kind {
            if matches!(op, "!" | "~") {
                return Err(Error::at("S0204", next.position, format!("Unknown operator: \"{op}\"")).with_token(op));
            }
        }
        Ok(std::mem::replace(&mut self.node, next))
    }

    fn too_deep(&self) -> Error {
        Error::at("U1001", self.node.position, format!("Expression nesting exceeds the limit of {}", self.max_depth))
    }

    fn lbp(&self) -> u32 {
        match &self.node.kind {
            TokenKind::Op(op) => binding_power(op),
            _ => 0,
        }
    }

    fn expression(&mut self, rbp: u32) -> Result<Raw> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.too_deep());
        }
        let token = self.advance(None, true)?;
        let mut left = self.nud(token)?;
        while rbp < self.lbp() {
            let token = self.advance(None, false)?;
            left = self.led(token, left)?;
            if left.height > self.max_depth {
                return Err(self.too_deep());
            }
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, token: Token) -> Result<Raw> {
        let position = token.position;
        let kind = match token.kind {
            TokenKind::Name(name) => RawKind::Name(name),
            TokenKind::Variable(name) => RawKind::Variable(name),
            TokenKind::Str(s) => RawKind::Str(s),
            TokenKind::Num(n) => RawKind::Num(n),
            TokenKind::Bool(b) => RawKind::Bool(b),
            TokenKind::Null => RawKind::Null,
            TokenKind::Regex { pattern, flags } => RawKind::Regex(pattern, flags),
            TokenKind::Op(op @ ("and" | "or" | "in")) => RawKind::Operator(op),
            TokenKind::Op("-") => RawKind::Negate(Box::new(self.expression(70)?)),
            TokenKind::Op("*") => RawKind::Wildcard,
            TokenKind::Op("**") => RawKind::Descendant,
            TokenKind::Op("%") => RawKind::Parent,
            TokenKind::Op("(") => {
                let mut expressions = Vec::new();
                while !self.is_op(")") {
                    expressions.push(self.expression(0)?);
                    if !self.is_op(";") {
                        break;
                    }
                    self.advance(Some(";"), false)?;
                }
                self.advance(Some(")"), true)?;
                RawKind::Block(expressions)
            }
            TokenKind::Op("[") => RawKind::Array(self.array_items()?),
            TokenKind::Op("{") => RawKind::Object(self.object_pairs()?),
            TokenKind::Op("|") => {
                let pattern = self.expression(0)?;
                self.advance(Some("|"), false)?;
                let update = self.expression(0)?;
                let delete = if self.is_op(",") {
                    self.advance(Some(","), false)?;
                    Some(Box::new(self.expression(0)?))
                } else {
                    None
                };
                self.advance(Some("|"), false)?;
                RawKind::Transform(Box::new(pattern), Box::new(update), delete)
            }
            TokenKind::End => RawKind::End,
            TokenKind::Op(op) => {
                return Err(Error::at(
                    "S0211",
                    position,
                    format!("The symbol \"{op}\" cannot be used as a unary operator"),
                )
                .with_token(op))
            }
        };
        Ok(raw(kind, position))
    }

    fn array_items(&mut self) -> Result<Vec<Raw>> {
        let mut items = Vec::new();
        if !self.is_op("]") {
            loop {
                let mut item = self.expression(0)?;
                if self.is_op("..") {
                    let position = self.node.position;
                    self.advance(Some(".."), false)?;
                    let rhs = self.expression(0)?;
                    item = raw(RawKind::Binary("..", Box::new(item), Box::new(rhs)), position);
                }
                items.push(item);
                if !self.is_op(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("]"), true)?;
        Ok(items)
    }

    fn object_pairs(&mut self) -> Result<Vec<(Raw, Raw)>> {
        let mut pairs = Vec::new();
        if !self.is_op("}") {
            loop {
                let key = self.expression(0)?;
                self.advance(Some(":"), false)?;
                let value = self.expression(0)?;
                pairs.push((key, value));
                if !self.is_op(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("}"), true)?;
        Ok(pairs)
    }

    fn led(&mut self, token: Token, left: Raw) -> Result<Raw> {
        let position = token.position;
        let TokenKind::Op(op) = token.kind else {
            return Err(Error::at("S0201", position, "Syntax error"));
        };
        let kind = match op {
            "(" => return self.call(left, position),
            "[" => {
                if self.is_op("]") {
                    let mut left = left;
                    mark_keep_array(&mut left);
                    self.advance(Some("]"), true)?;
                    return Ok(left);
                }
                let rhs = self.expression(0)?;
                self.advance(Some("]"), true)?;
                RawKind::Filter(Box::new(left), Box::new(rhs))
            }
            "{" => RawKind::GroupBy(Box::new(left), self.object_pairs()?),
            "^" => RawKind::OrderBy(Box::new(left), self.sort_terms()?),
            ":=" => {
                if !matches!(left.kind, RawKind::Variable(_)) {
                    return Err(Error::at(
                        "S0212",
                        left.position,
                        "The left side of := must be a variable name (start with $)",
                    ));
                }
                RawKind::Binary(":=", Box::new(left), Box::new(self.expression(binding_power(":=") - 1)?))
            }
            "@" | "#" => {
                let rhs = self.expression(binding_power(op))?;
                if !matches!(rhs.kind, RawKind::Variable(_)) {
                    return Err(Error::at(
                        "S0214",
                        rhs.position,
                        format!("The right side of {op} must be a variable name (start with $)"),
                    ));
                }
                RawKind::Binary(op, Box::new(left), Box::new(rhs))
            }
            "?" => {
                let then = self.expression(0)?;
                let otherwise = if self.is_op(":") {
                    self.advance(Some(":"), false)?;
                    Some(Box::new(self.expression(0)?))
                } else {
                    None
                };
                RawKind::Condition(Box::new(left), Box::new(then), otherwise)
            }
            "." | "+" | "-" | "*" | "/" | "%" | "=" | "<" | ">" | "!=" | "<=" | ">=" | "&" | "and" | "or" | "in"
            | "~>" => RawKind::Binary(op, Box::new(left), Box::new(self.expression(binding_power(op))?)),
            _ => return Err(Error::at("S0201", position, format!("Syntax error: \"{op}\"")).with_token(op)),
        };
        Ok(raw(kind, position))
    }

    fn sort_terms(&mut self) -> Result<Vec<(bool, Raw)>> {
        self.advance(Some("("), false)?;
        let mut terms = Vec::new();
        loop {
            let mut descending = false;
            if self.is_op("<") {
                self.advance(Some("<"), false)?;
            } else if self.is_op(">") {
                descending = true;
                self.advance(Some(">"), false)?;
            }
            terms.push((descending, self.expression(0)?));
            if !self.is_op(",") {
                break;
            }
            self.advance(Some(","), false)?;
        }
        self.advance(Some(")"), false)?;
        Ok(terms)
    }

    fn call(&mut self, procedure: Raw, position: usize) -> Result<Raw> {
        let mut args = Vec::new();
        let mut partial = false;
        if !self.is_op(")") {
            loop {
                if self.is_op("?") {
                    partial = true;
                    let placeholder = raw(RawKind::Operator("?"), self.node.position);
                    self.advance(Some("?"), false)?;
                    args.push(placeholder);
                } else {
                    args.push(self.expression(0)?);
                }
                if !self.is_op(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some(")"), true)?;
        let is_lambda = matches!(&procedure.kind, RawKind::Name(n) if n == "function" || n == "\u{3bb}");
        if !is_lambda {
            return Ok(raw(RawKind::Call { procedure: Box::new(procedure), args, partial }, position));
        }
        let mut params = Vec::new();
        for (index, arg) in args.into_iter().enumerate() {
            match arg.kind {
                RawKind::Variable(name) => params.push(name),
                _ => {
                    return Err(Error::at(
                        "S0208",
                        arg.position,
                        format!(
                            "Parameter {} of function definition must be a variable name (start with $)",
                            index + 1
                        ),
                    ))
                }
            }
        }
        let signature = if self.is_op("<") {
            let text = self.lexer.take_signature().ok_or_else(|| {
                Error::at("S0401", self.node.position, "Type parameters can only be applied to functions and arrays")
            })?;
            let signature =
                Signature::parse(&format!("<{text}")).map_err(|e| Error::at(e.code, self.node.position, e.message))?;
            self.advance(Some("<"), false)?;
            Some(signature)
        } else {
            None
        };
        self.advance(Some("{"), false)?;
        let body = self.expression(0)?;
        self.advance(Some("}"), false)?;
        Ok(raw(RawKind::Lambda { params, signature, body: Box::new(body) }, position))
    }
}

fn mark_keep_array(node: &mut Raw) {
    let mut step = node;
    while let RawKind::Filter(lhs, _) = &mut step.kind {
        step = lhs;
    }
    step.keep_array = true;
}

/// The post-parse pass (the reference's `processAST`).
fn process(anc: &mut Ancestry, tree: Raw) -> Result<Node> {
    let keep_array = tree.keep_array;
    let position = tree.position;
    let mut node = match tree.kind {
        RawKind::Binary(".", lhs, rhs) => process_path(anc, *lhs, *rhs, position)?,
        RawKind::Binary(":=", lhs, rhs) => {
            let RawKind::Variable(name) = lhs.kind else {
                return Err(Error::at("S0212", position, "The left side of := must be a variable name"));
            };
            let value = process(anc, *rhs)?;
            let seeking = Ancestry::seeking(&value);
            let mut node = Node::new(Kind::Bind { name, value: Box::new(value) }, position);
            node.seeking_parent = seeking;
            node
        }
        RawKind::Binary("~>", lhs, rhs) => {
            let lhs = process(anc, *lhs)?;
            let rhs = process(anc, *rhs)?;
            let mut node = Node::new(Kind::Apply { lhs: Box::new(lhs), rhs: Box::new(rhs) }, position);
            if let Kind::Apply { lhs, rhs } = &node.kind {
                node.keep_array = lhs.keep_array || rhs.keep_array;
            }
            node
        }
        RawKind::Binary("@", lhs, rhs) => process_focus(anc, *lhs, *rhs, position)?,
        RawKind::Binary("#", lhs, rhs) => process_index(anc, *lhs, *rhs, position)?,
        RawKind::Binary(op, lhs, rhs) => {
            let op = BinOp::from_token(op).ok_or_else(|| Error::at("S0201", position, "Syntax error"))?;
            let (lhs, rhs) = (process(anc, *lhs)?, process(anc, *rhs)?);
            let mut seeking = Node::new(Kind::Null, position);
            Ancestry::push(&mut seeking, &lhs);
            Ancestry::push(&mut seeking, &rhs);
            let mut node = Node::new(Kind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, position);
            node.seeking_parent = seeking.seeking_parent;
            node
        }
        RawKind::Filter(lhs, rhs) => {
            let mut result = process(anc, *lhs)?;
            let predicate = process(anc, *rhs)?;
            let step = match &mut result.kind {
                Kind::Path { steps, .. } => {
                    let last = steps.last_mut().ok_or_else(|| Error::at("S0201", position, "Syntax error"))?;
                    if last.group.is_some() {
                        return Err(group_then_filter(position));
                    }
                    anc.resolve_predicate(last, &predicate)?;
                    last.stages.push(predicate);
                    None
                }
                _ => Some(predicate),
            };
            if let Some(predicate) = step {
                if result.group.is_some() {
                    return Err(group_then_filter(position));
                }
                anc.resolve_predicate(&mut result, &predicate)?;
                result.predicates.push(predicate);
            }
            result
        }
        RawKind::GroupBy(lhs, pairs) => {
            let mut result = process(anc, *lhs)?;
            if result.group.is_some() {
                return Err(Error::at("S0210", position, "Each step can only have one grouping expression"));
            }
            result.group = Some(Arc::new(Group { pairs: process_pairs(anc, pairs, None)?, position }));
            result
        }
        RawKind::OrderBy(lhs, terms) => {
            let mut result = process(anc, *lhs)?;
            if !matches!(result.kind, Kind::Path { .. }) {
                let position = result.position;
                result = Node::new(Kind::Path { steps: vec![result], keep_singleton: false }, position);
            }
            let mut sort = Node::new(Kind::Null, position);
            let mut processed = Vec::with_capacity(terms.len());
            for (descending, term) in terms {
                let term = process(anc, term)?;
                Ancestry::push(&mut sort, &term);
                processed.push((descending, term));
            }
            sort.kind = Kind::Sort(processed);
            if let Kind::Path { steps, .. } = &mut result.kind {
                steps.push(sort);
                anc.resolve_path(steps, &mut result.seeking_parent)?;
            }
            result
        }
        RawKind::Negate(inner) => {
            let inner = process(anc, *inner)?;
            match inner.kind {
                Kind::Num(n) if inner.is_bare() => Node::new(Kind::Num(-n), inner.position),
                _ => {
                    let mut node = Node::new(Kind::Null, position);
                    Ancestry::push(&mut node, &inner);
                    node.kind = Kind::Negate(Box::new(inner));
                    node
                }
            }
        }
        RawKind::Array(items) => {
            let mut node = Node::new(Kind::Null, position);
            let items = process_items(anc, items, &mut node)?;
            node.kind = Kind::Array(items);
            node
        }
        RawKind::Object(pairs) => {
            let mut node = Node::new(Kind::Null, position);
            let pairs = process_pairs(anc, pairs, Some(&mut node))?;
            node.kind = Kind::Object(Arc::new(Group { pairs, position }));
            node
        }
        RawKind::Block(items) => {
            let mut seeking = Node::new(Kind::Null, position);
            let items = process_items(anc, items, &mut seeking)?;
            let cons_array = items.iter().any(|item| {
                item.cons_array
                    || matches!(&item.kind, Kind::Path { steps, .. } if steps.first().is_some_and(|s| s.cons_array))
            });
            let mut node = Node::new(Kind::Block(items), position);
            node.cons_array = cons_array;
            node.seeking_parent = seeking.seeking_parent;
            node
        }
        RawKind::Condition(condition, then, otherwise) => {
            let mut node = Node::new(Kind::Null, position);
            let condition = process(anc, *condition)?;
            Ancestry::push(&mut node, &condition);
            let then = process(anc, *then)?;
            Ancestry::push(&mut node, &then);
            let otherwise = match otherwise {
                Some(o) => {
                    let o = process(anc, *o)?;
                    Ancestry::push(&mut node, &o);
                    Some(Box::new(o))
                }
                None => None,
            };
            node.kind = Kind::Condition { condition: Box::new(condition), then: Box::new(then), otherwise };
            node
        }
        RawKind::Call { procedure, args, partial } => {
            let mut node = Node::new(Kind::Null, position);
            if partial {
                let mut processed = Vec::with_capacity(args.len());
                for arg in args {
                    processed.push(match arg.kind {
                        RawKind::Operator("?") => None,
                        _ => Some(process(anc, arg)?),
                    });
                }
                processed.iter().flatten().for_each(|arg| Ancestry::push(&mut node, arg));
                let procedure = Box::new(process(anc, *procedure)?);
                node.kind = Kind::Partial { procedure, args: processed };
            } else {
                let args = process_items(anc, args, &mut node)?;
                let procedure = Box::new(process(anc, *procedure)?);
                node.kind = Kind::Call { procedure, args };
            }
            node
        }
        RawKind::Lambda { params, signature, body } => {
            Node::new(Kind::Lambda(Arc::new(LambdaDef { params, signature, body: process(anc, *body)? })), position)
        }
        RawKind::Transform(pattern, update, delete) => Node::new(
            Kind::Transform(Arc::new(TransformDef {
                pattern: process(anc, *pattern)?,
                update: process(anc, *update)?,
                delete: delete.map(|d| process(anc, *d)).transpose()?,
            })),
            position,
        ),
        RawKind::Name(name) => name_path(name, position, keep_array),
        RawKind::Operator(op @ ("and" | "or" | "in")) => name_path(op.to_string(), position, keep_array),
        RawKind::Operator(op) => {
            return Err(Error::at("S0201", position, format!("Syntax error: \"{op}\"")).with_token(op))
        }
        RawKind::Parent => anc.parent(position),
        RawKind::End => return Err(Error::at("S0207", position, "Unexpected end of expression").with_token("(end)")),
        RawKind::Variable(name) => Node::new(Kind::Variable(name), position),
        RawKind::Str(s) => Node::new(Kind::Str(s), position),
        RawKind::Num(n) => Node::new(Kind::Num(n), position),
        RawKind::Bool(b) => Node::new(Kind::Bool(b), position),
        RawKind::Null => Node::new(Kind::Null, position),
        RawKind::Wildcard => Node::new(Kind::Wildcard, position),
        RawKind::Descendant => Node::new(Kind::Descendant, position),
        RawKind::Regex(pattern, flags) => {
            Node::new(Kind::Regex(Arc::new(crate::functions::compile_js_regex(&pattern, &flags, position)?)), position)
        }
    };
    if keep_array {
        node.keep_array = true;
    }
    Ok(node)
}

/// The name of the variable on the right of `@` or `#`.
fn binding_name(rhs: Raw, op: &str) -> Result<String> {
    match rhs.kind {
        RawKind::Variable(name) => Ok(name),
        _ => {
            Err(Error::at("S0214", rhs.position, format!("The right side of {op} must be a variable name"))
                .with_token(op))
        }
    }
}

/// `step@$name` (the reference's processAST for `@`).
fn process_focus(anc: &mut Ancestry, lhs: Raw, rhs: Raw, position: usize) -> Result<Node> {
    let keep_array = lhs.keep_array;
    let name = binding_name(rhs, "@")?;
    let mut result = process(anc, lhs)?;
    let step = match &mut result.kind {
        Kind::Path { steps, .. } => steps.last_mut().ok_or_else(|| Error::at("S0201", position, "Syntax error"))?,
        _ => &mut result,
    };
    if !step.stages.is_empty() || !step.predicates.is_empty() {
        return Err(Error::at("S0215", position, "A context variable binding must precede any predicates on a step"));
    }
    if matches!(step.kind, Kind::Sort(_)) {
        return Err(Error::at(
            "S0216",
            position,
            "A context variable binding must precede the 'order-by' clause on a step",
        ));
    }
    if keep_array {
        step.keep_array = true;
    }
    step.focus = Some(name);
    step.tuple = true;
    Ok(result)
}

/// `step#$name` (the reference's processAST for `#`).
fn process_index(anc: &mut Ancestry, lhs: Raw, rhs: Raw, position: usize) -> Result<Node> {
    let name = binding_name(rhs, "#")?;
    let mut result = process(anc, lhs)?;
    if !matches!(result.kind, Kind::Path { .. }) {
        let mut step = result;
        step.stages.append(&mut step.predicates);
        let step_position = step.position;
        result = Node::new(Kind::Path { steps: vec![step], keep_singleton: false }, step_position);
    }
    let Kind::Path { steps, .. } = &mut result.kind else {
        return Err(Error::at("S0201", position, "Syntax error"));
    };
    let step = steps.last_mut().ok_or_else(|| Error::at("S0201", position, "Syntax error"))?;
    if step.stages.is_empty() {
        step.index = Some(name);
    } else {
        step.stages.push(Node::new(Kind::IndexStage(name), position));
    }
    step.tuple = true;
    Ok(result)
}

fn group_then_filter(position: usize) -> Error {
    Error::at("S0209", position, "A predicate cannot follow a grouping expression in a step")
}

/// Processes object pairs; `seeking` (an object constructor, not a group-by) inherits their `%` slots.
fn process_pairs(
    anc: &mut Ancestry,
    pairs: Vec<(Raw, Raw)>,
    mut seeking: Option<&mut Node>,
) -> Result<Vec<(Node, Node)>> {
    let mut processed = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        let key = process(anc, key)?;
        let value = process(anc, value)?;
        if let Some(node) = seeking.as_deref_mut() {
            Ancestry::push(node, &key);
            Ancestry::push(node, &value);
        }
        processed.push((key, value));
    }
    Ok(processed)
}

/// Processes a list of expressions, `seeking` inheriting their `%` slots.
fn process_items(anc: &mut Ancestry, items: Vec<Raw>, seeking: &mut Node) -> Result<Vec<Node>> {
    let mut processed = Vec::with_capacity(items.len());
    for item in items {
        let item = process(anc, item)?;
        Ancestry::push(seeking, &item);
        processed.push(item);
    }
    Ok(processed)
}

fn name_path(name: String, position: usize, keep_array: bool) -> Node {
    let mut step = Node::new(Kind::Name(name), position);
    step.keep_array = keep_array;
    Node::new(Kind::Path { steps: vec![step], keep_singleton: keep_array }, position)
}

fn process_path(anc: &mut Ancestry, lhs: Raw, rhs: Raw, position: usize) -> Result<Node> {
    let left = process(anc, lhs)?;
    // A path on the left is extended in place, keeping its grouping (as the reference does).
    let mut path = match left.kind {
        Kind::Path { .. } => left,
        _ => {
            let position = left.position;
            let slot = left.parent_slot;
            let mut path = Node::new(Kind::Path { steps: vec![left], keep_singleton: false }, position);
            path.seeking_parent.extend(slot);
            path
        }
    };
    let Kind::Path { steps, keep_singleton } = &mut path.kind else {
        return Err(Error::at("S0201", position, "Syntax error"));
    };
    let mut rest = process(anc, rhs)?;
    match rest.kind {
        Kind::Path { steps: more, .. } => steps.extend(more),
        _ => {
            rest.stages.append(&mut rest.predicates);
            steps.push(rest);
        }
    }
    for step in steps.iter_mut() {
        match &step.kind {
            Kind::Num(_) | Kind::Bool(_) | Kind::Null => {
                return Err(Error::at(
                    "S0213",
                    step.position,
                    "The literal value cannot be used as a step within a path expression",
                ))
            }
            Kind::Str(s) => step.kind = Kind::Name(s.clone()),
            _ => {}
        }
    }
    if steps.iter().any(|s| s.keep_array) {
        *keep_singleton = true;
    }
    if let Some(first) = steps.first_mut() {
        if matches!(first.kind, Kind::Array(_)) {
            first.cons_array = true;
        }
    }
    if let Some(last) = steps.last_mut() {
        if matches!(last.kind, Kind::Array(_)) {
            last.cons_array = true;
        }
    }
    anc.resolve_path(steps, &mut path.seeking_parent)?;
    Ok(path)
}
