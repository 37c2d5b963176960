//! JSONata, at the version AWS Step Functions pins (2.0.6), evaluated over [`serde_json::Value`].
//!
//! ```
//! use serde_json::{json, Map};
//! let expression = jsonata::Expression::parse("$sum(orders.(price * quantity))").unwrap();
//! let input = json!({"orders": [{"price": 2, "quantity": 3}, {"price": 5, "quantity": 1}]});
//! assert_eq!(expression.evaluate(Some(&input), &Map::new()).unwrap(), Some(json!(11)));
//! ```
//!
//! The parser is a Pratt parser with the reference's post-parse pass, and the evaluator keeps
//! JSONata's sequence semantics (singleton unwrapping, undefined apart from null, flattening of
//! path results, `[]` keeping singleton arrays), and the tuple streams behind the focus and
//! index bindings `@$v`, `#$i` and the parent operator `%`. Results are checked against the
//! reference implementation (the `jsonata` npm package, 2.0.6) over a corpus in
//! `tests/jsonata-reference`.
//!
//! Step Functions' changes to the library are applied: `$eval` is absent, and `$partition`,
//! `$range`, `$hash`, `$random([seed])`, `$uuid` and `$parse` are present. Their argument errors
//! use the code `U1005`.
//!
//! # Not supported
//! - `$formatNumber` options other than strings (code `U1000`); exponent pictures applied to
//!   zero or a negative number, which the reference never finishes, end with `U1002`;
//! - regular expression match positions count code points, not UTF-16 units, and `\b` and
//!   case folding under the `i` flag follow Unicode rather than JavaScript's ASCII rules, and
//!   `\p{…}` is a Unicode class where JavaScript (without the `u` flag) reads the letters;
//! - a group-by (`path{…}`) over a path with `@` or `#` bindings groups the plain values: its key
//!   and value expressions do not see the bindings, which the reference passes through;
//! - function-valued results convert to nothing (undefined) in the JSON result.
//!
//! # Limits
//! Every evaluation is bounded ([`Limits`]): expression length and nesting, evaluation depth
//! (`U1001`), total steps (`U1002`, also charged per item produced) and time (`U1002`, 10 s by
//! default), string size (`U1003`) and value nesting (`U1004`); resolving the parent operators `%` at parse time is bounded too
//! (`U1003`). The range operator refuses more than 10^7 items (`D2014`), as the
//! reference does. XPath pictures (`$formatNumber`, `$formatInteger`, `$parseInteger`,
//! `$fromMillis`, `$now`, `$toMillis`) follow the reference, quirks included, in time linear in
//! the picture and the text; their padding and widths are bounded by the string size limit
//! (`U1003`) where the reference would build strings of any size, and irregular grouping
//! separators that would take more than 5·10^7 unit moves, and pictures of more than 1000 parts
//! given to `$toMillis`, end with `U1002`; roman numerals of more than 8,000 thousands, beyond
//! the reference's recursion depth, end with `U1001`. Regular expressions are JavaScript's
//! (look-around and back-references included; inline flag groups such as `(?i)`, which
//! JavaScript refuses, end with `S0303`); those that need backtracking stop after 10^6
//! backtracking steps per search with `U1002`, the others run in linear time. Custom matcher
//! functions are charged a step per call, so one that never ends stops with `U1002`.
//! Nothing panics or recurses without bound on any input.

mod ancestry;
mod ast;
mod error;
mod eval;
mod functions;
mod lexer;
mod parser;
mod signature;
mod transform;
mod tuples;
mod value;

pub use error::{Error, Result};

use rand::SeedableRng as _;
use serde_json::{Map, Value};
use std::rc::Rc;
use value::{Array, Frame, Val};

/// Resource bounds for parsing and evaluating one expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest expression accepted, in characters.
    pub max_expression_chars: usize,
    /// Deepest nesting of the expression's syntax tree.
    pub max_nesting: usize,
    /// Deepest nesting of evaluation (recursion that is not a tail call counts here).
    pub max_depth: usize,
    /// Total evaluation steps, including one per item produced.
    pub max_steps: u64,
    /// Longest string an evaluation may build, in bytes.
    pub max_string_bytes: usize,
    /// Deepest nesting of arrays and objects an evaluation may build.
    pub max_value_depth: usize,
    /// Longest an evaluation may run, by the clock: checked every 1024 steps and before each
    /// regular expression search, whose backtracking the step count cannot see.
    pub max_duration: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_expression_chars: 100_000,
            max_nesting: 200,
            max_depth: 1_000,
            max_steps: 2_000_000,
            max_string_bytes: 4 << 20,
            max_value_depth: 200,
            max_duration: std::time::Duration::from_secs(10),
        }
    }
}

/// Options for one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Resource bounds.
    pub limits: Limits,
    /// The time `$now()` and `$millis()` report, in milliseconds since the epoch (default: now).
    pub now_millis: Option<i64>,
}

/// Stack for parsing and evaluation: deep enough for the nesting limits in unoptimized builds.
const STACK_BYTES: usize = 64 << 20;

/// Runs `work` on a thread with a stack sized for the nesting limits.
fn on_big_stack<T: Send>(work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("jsonata".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, work)
            .map_err(|e| Error::new("U1006", format!("Could not start the evaluation thread: {e}")))?;
        handle.join().map_err(|_| Error::new("U1006", "The evaluation thread failed"))?
    })
}

/// A parsed JSONata expression; parse once, evaluate many times (it is `Send` and `Sync`).
#[derive(Debug)]
pub struct Expression {
    root: ast::Node,
}

impl Expression {
    /// Parses `source` with the default [`Limits`].
    pub fn parse(source: &str) -> Result<Expression> {
        Self::parse_with_limits(source, &Limits::default())
    }

    /// Parses `source`, refusing expressions longer or more deeply nested than `limits` allow.
    pub fn parse_with_limits(source: &str, limits: &Limits) -> Result<Expression> {
        let length = source.chars().count();
        if length > limits.max_expression_chars {
            return Err(Error::new(
                "U1003",
                format!(
                    "The expression has {length} characters, more than the limit of {}",
                    limits.max_expression_chars
                ),
            ));
        }
        let max_nesting = limits.max_nesting;
        let root = on_big_stack(|| parser::parse(source, max_nesting))?;
        Ok(Expression { root })
    }

    /// Evaluates against `input` (the context `$`, none for undefined) with `bindings` as
    /// variables (`{"states": ...}` binds `$states`). `Ok(None)` is an undefined result.
    pub fn evaluate(&self, input: Option<&Value>, bindings: &Map<String, Value>) -> Result<Option<Value>> {
        self.evaluate_with(input, bindings, &Options::default())
    }

    /// [`Expression::evaluate`] with explicit [`Options`].
    pub fn evaluate_with(
        &self,
        input: Option<&Value>,
        bindings: &Map<String, Value>,
        options: &Options,
    ) -> Result<Option<Value>> {
        on_big_stack(|| self.evaluate_here(input, bindings, options))
    }

    fn evaluate_here(
        &self,
        input: Option<&Value>,
        bindings: &Map<String, Value>,
        options: &Options,
    ) -> Result<Option<Value>> {
        let now = options.now_millis.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let ctx = eval::Ctx::new(&options.limits, now, rand::rngs::StdRng::from_entropy());
        let mut input = input.map(Val::from_json).unwrap_or(Val::Undefined);
        if input.is_array() {
            let wrapper = Array { sequence: true, outer_wrapper: true, ..Array::new(vec![input]) };
            input = Val::Arr(Rc::new(wrapper));
        }
        let root = Rc::new(Frame::default());
        root.bind("$", input.clone());
        for (name, value) in bindings {
            root.bind(name, Val::from_json(value));
        }
        let result = ctx.eval(&self.root, &input, &root)?;
        root.vars.borrow_mut().clear();
        Ok(result.to_json())
    }
}

#[cfg(test)]
mod tests;
