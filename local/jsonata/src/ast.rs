//! The processed syntax tree the evaluator walks (the reference's post-parse form: paths as
//! step lists, predicates as stages, group-by and order-by attached to steps).

use crate::ancestry::Label;
use crate::signature::Signature;
use fancy_regex::Regex;
use std::sync::Arc;

/// One node of a processed expression.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub position: usize,
    /// Marked by `[]`: keep single results as arrays.
    pub keep_array: bool,
    /// Filters applied to this node's result.
    pub predicates: Vec<Node>,
    /// Filters applied per input item when this node is a path step.
    pub stages: Vec<Node>,
    /// A group-by object constructor applied to the result.
    pub group: Option<Arc<Group>>,
    /// An array constructor at the start or end of a path (its array is kept whole).
    pub cons_array: bool,
    /// `@$name`: bind each result to `name`, keeping the context (a tuple-stream step).
    pub focus: Option<String>,
    /// `#$name`: bind each result's position to `name` (a tuple-stream step).
    pub index: Option<String>,
    /// The step starts or continues a tuple stream (it carries `@`, `#` or `%` bindings).
    pub tuple: bool,
    /// `%` reaches this step: it binds its input under this label (a tuple-stream step).
    pub ancestor: Option<Label>,
    /// Parse time only: the `%` slots this node still seeks (the reference's `seekingParent`).
    pub seeking_parent: Vec<usize>,
    /// Parse time only: the slot of a `%` node.
    pub parent_slot: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub pairs: Vec<(Node, Node)>,
    pub position: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    And,
    Or,
    In,
    Range,
}

impl BinOp {
    pub fn from_token(op: &str) -> Option<BinOp> {
        Some(match op {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            "=" => BinOp::Eq,
            "!=" => BinOp::Ne,
            "<" => BinOp::Lt,
            "<=" => BinOp::Le,
            ">" => BinOp::Gt,
            ">=" => BinOp::Ge,
            "&" => BinOp::Concat,
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "in" => BinOp::In,
            ".." => BinOp::Range,
            _ => return None,
        })
    }

    pub fn token(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Concat => "&",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::In => "in",
            BinOp::Range => "..",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Path {
        steps: Vec<Node>,
        keep_singleton: bool,
    },
    Name(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex(Arc<Regex>),
    Wildcard,
    Descendant,
    Variable(String),
    Binary {
        op: BinOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Negate(Box<Node>),
    Array(Vec<Node>),
    Object(Arc<Group>),
    Block(Vec<Node>),
    Condition {
        condition: Box<Node>,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    Bind {
        name: String,
        value: Box<Node>,
    },
    Call {
        procedure: Box<Node>,
        args: Vec<Node>,
    },
    /// A call with `?` placeholders (`None`).
    Partial {
        procedure: Box<Node>,
        args: Vec<Option<Node>>,
    },
    Lambda(Arc<LambdaDef>),
    Apply {
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// An order-by step: `(descending, term)` pairs.
    Sort(Vec<(bool, Node)>),
    Transform(Arc<TransformDef>),
    /// `%`: the input of the step its label was bound at.
    Parent(Label),
    /// A `#$name` after a step's filters: numbers the filtered tuples (a stage only).
    IndexStage(String),
}

#[derive(Debug)]
pub(crate) struct LambdaDef {
    pub params: Vec<String>,
    pub signature: Option<Signature>,
    pub body: Node,
}

#[derive(Debug)]
pub(crate) struct TransformDef {
    pub pattern: Node,
    pub update: Node,
    pub delete: Option<Node>,
}

impl Node {
    pub fn new(kind: Kind, position: usize) -> Node {
        Node {
            kind,
            position,
            keep_array: false,
            predicates: Vec::new(),
            stages: Vec::new(),
            group: None,
            cons_array: false,
            focus: None,
            index: None,
            tuple: false,
            ancestor: None,
            seeking_parent: Vec::new(),
            parent_slot: None,
        }
    }

    /// True for a plain node without filters, grouping or `[]` (eligible for tail calls).
    pub fn is_bare(&self) -> bool {
        self.predicates.is_empty() && self.stages.is_empty() && self.group.is_none() && !self.keep_array
    }
}
