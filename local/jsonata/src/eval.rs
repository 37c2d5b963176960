//! The evaluator: walks the processed tree over values with JSONata's sequence semantics,
//! counting steps and depth so that no expression runs unbounded.

use crate::ast::{BinOp, Group, Kind, Node, TransformDef};
use crate::error::{Error, Result};
use crate::value::{boolean, deep_equal, js_number, stringify, to_precision_15, Env, Frame, Func, Val};
use crate::Limits;
use indexmap::IndexMap;
use rand::rngs::StdRng;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

/// Per-evaluation state: limits and the counters checked against them.
pub(crate) struct Ctx<'l> {
    limits: &'l Limits,
    steps: Cell<u64>,
    depth: Cell<usize>,
    /// `$now()` and `$millis()` are fixed for one evaluation, as in the reference.
    pub now_millis: i64,
    /// Frames captured by closures, cleared at the end to break reference cycles.
    captured: RefCell<Vec<Env>>,
    pub rng: RefCell<StdRng>,
    started: Instant,
}

/// What a function body evaluates to: a value, or a call in tail position to run next.
pub(crate) enum Outcome {
    Value(Val),
    TailCall(Val, Vec<Val>),
}

pub(crate) struct DepthGuard<'a>(&'a Cell<usize>);

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        for frame in self.captured.borrow_mut().drain(..) {
            frame.vars.borrow_mut().clear();
        }
    }
}

fn not_numeric(code: &'static str, side: &str, op: BinOp) -> Error {
    Error::new(code, format!("The {side} side of the \"{}\" operator must evaluate to a number", op.token()))
}

/// A number usable in arithmetic; infinite values are errors (D1001), as in the reference.
fn numeric(value: &Val) -> Result<Option<f64>> {
    match value {
        Val::Num(n) if n.is_infinite() => Err(Error::new("D1001", format!("Number out of range: {}", js_number(*n)))),
        Val::Num(n) if !n.is_nan() => Ok(Some(*n)),
        _ => Ok(None),
    }
}

/// `fn.append`: concatenates, treating non-arrays as one-item arrays, ignoring undefined.
pub(crate) fn append(a: Val, b: Val) -> Val {
    match (&a, &b) {
        (Val::Undefined, _) => b,
        (_, Val::Undefined) => a,
        _ => {
            let mut items = a.items();
            match b {
                Val::Arr(arr) => items.extend(arr.items.iter().cloned()),
                other => items.push(other),
            }
            Val::array(items)
        }
    }
}

/// Field lookup over a value or (recursively) the items of an array.
pub(crate) fn lookup(input: &Val, key: &str) -> Val {
    match input {
        Val::Arr(a) => {
            let mut out = Vec::new();
            for item in &a.items {
                match lookup(item, key) {
                    Val::Undefined => {}
                    Val::Arr(found) => out.extend(found.items.iter().cloned()),
                    other => out.push(other),
                }
            }
            Val::sequence(out)
        }
        Val::Obj(o) => o.map.get(key).cloned().unwrap_or(Val::Undefined),
        _ => Val::Undefined,
    }
}

fn flatten_into(value: &Val, out: &mut Vec<Val>) {
    match value {
        Val::Arr(a) => a.items.iter().for_each(|v| flatten_into(v, out)),
        other => out.push(other.clone()),
    }
}

fn wildcard(input: &Val) -> Val {
    let input = match input {
        Val::Arr(a) if a.outer_wrapper && !a.items.is_empty() => &a.items[0],
        other => other,
    };
    let values: Vec<&Val> = match input {
        Val::Obj(o) => o.map.values().collect(),
        Val::Arr(a) => a.items.iter().collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    let mut sequence = true;
    for value in values {
        if value.is_array() {
            flatten_into(value, &mut out);
            sequence = false;
        } else {
            out.push(value.clone());
        }
    }
    if sequence {
        Val::sequence(out)
    } else {
        Val::array(out)
    }
}

fn descendants_into(value: &Val, out: &mut Vec<Val>) {
    match value {
        Val::Arr(a) => a.items.iter().for_each(|v| descendants_into(v, out)),
        Val::Obj(o) => {
            out.push(value.clone());
            o.map.values().for_each(|v| descendants_into(v, out));
        }
        other => out.push(other.clone()),
    }
}

/// Unwraps a finished result sequence: empty is undefined, one item is that item unless kept.
pub(crate) fn finish_sequence(result: Val, keep_array: bool) -> Val {
    let Val::Arr(a) = &result else { return result };
    if !a.sequence {
        return result;
    }
    let keep = a.keep_singleton || keep_array;
    match a.items.len() {
        0 => Val::Undefined,
        1 if !keep => a.items[0].clone(),
        _ if keep_array && !a.keep_singleton => result.with_array_flags(|a| a.keep_singleton = true),
        _ => result,
    }
}

/// The number of parameters a function takes (how many arguments higher-order functions pass).
pub(crate) fn arity(func: &Val) -> usize {
    match func {
        Val::Func(f) => match &**f {
            Func::Lambda { def, .. } => def.params.len(),
            Func::Builtin(b) => b.arity,
            Func::Partial { args, .. } => args.iter().filter(|a| a.is_none()).count(),
            Func::Chain(..) | Func::Regex(_) | Func::Transform { .. } => 1,
        },
        _ => 0,
    }
}

impl<'l> Ctx<'l> {
    pub fn new(limits: &'l Limits, now_millis: i64, rng: StdRng) -> Self {
        Ctx {
            limits,
            steps: Cell::new(0),
            depth: Cell::new(0),
            now_millis,
            captured: RefCell::new(Vec::new()),
            rng: RefCell::new(rng),
            started: Instant::now(),
        }
    }

    pub fn limits(&self) -> &Limits {
        self.limits
    }

    /// Counts `units` of work against the step budget.
    pub fn charge(&self, units: u64) -> Result<()> {
        let before = self.steps.get();
        let total = before.saturating_add(units);
        self.steps.set(total);
        if total > self.limits.max_steps {
            return Err(Error::new(
                "U1002",
                format!("Evaluation exceeded the limit of {} steps", self.limits.max_steps),
            ));
        }
        if total / 1024 != before / 1024 {
            self.check_time()?;
        }
        Ok(())
    }

    /// Fails once the evaluation has run longer than [`Limits::max_duration`].
    pub fn check_time(&self) -> Result<()> {
        if self.started.elapsed() > self.limits.max_duration {
            return Err(Error::new(
                "U1002",
                format!("Evaluation exceeded the time limit of {} ms", self.limits.max_duration.as_millis()),
            ));
        }
        Ok(())
    }

    /// Checks a string being built against the size limit (without charging for it).
    pub fn check_string_size(&self, s: &str) -> Result<()> {
        if s.len() > self.limits.max_string_bytes {
            return Err(Error::new(
                "U1003",
                format!("A string would exceed the limit of {} bytes", self.limits.max_string_bytes),
            ));
        }
        Ok(())
    }

    /// Charges for a produced string and checks its size.
    pub fn check_string(&self, s: &str) -> Result<()> {
        self.check_string_size(s)?;
        self.charge(s.len() as u64 / 64)
    }

    /// Checks a produced value's nesting depth and charges for its size.
    pub fn check_value(&self, value: &Val) -> Result<()> {
        if value.depth() as usize > self.limits.max_value_depth {
            return Err(Error::new(
                "U1004",
                format!("A value would nest deeper than the limit of {}", self.limits.max_value_depth),
            ));
        }
        Ok(())
    }

    pub(crate) fn enter(&self) -> Result<DepthGuard<'_>> {
        let depth = self.depth.get() + 1;
        if depth > self.limits.max_depth {
            return Err(Error::new(
                "U1001",
                format!(
                    "Stack overflow: evaluation nested deeper than {} (check for non-terminating recursion)",
                    self.limits.max_depth
                ),
            ));
        }
        self.depth.set(depth);
        self.charge(1)?;
        Ok(DepthGuard(&self.depth))
    }

    pub fn child_frame(&self, parent: &Env) -> Env {
        Rc::new(Frame { vars: RefCell::default(), parent: Some(parent.clone()) })
    }

    pub fn eval(&self, node: &Node, input: &Val, env: &Env) -> Result<Val> {
        let _guard = self.enter()?;
        let mut result = self.eval_kind(node, input, env).map_err(|e| e.with_position(node.position))?;
        for predicate in &node.predicates {
            result = self.filter(predicate, result, env)?;
        }
        if !matches!(node.kind, Kind::Path { .. }) {
            if let Some(group) = &node.group {
                result = self.group(group, &result, env)?;
            }
        }
        Ok(finish_sequence(result, node.keep_array))
    }

    fn eval_kind(&self, node: &Node, input: &Val, env: &Env) -> Result<Val> {
        Ok(match &node.kind {
            Kind::Path { steps, keep_singleton } => self.eval_path(node, steps, *keep_singleton, input, env)?,
            Kind::IndexStage(_) => Val::Undefined,
            Kind::Parent(label) => env.lookup(&crate::ancestry::label_name(label)),
            Kind::Name(name) => lookup(input, name),
            Kind::Str(s) => Val::str(s),
            Kind::Num(n) => Val::Num(*n),
            Kind::Bool(b) => Val::Bool(*b),
            Kind::Null => Val::Null,
            Kind::Regex(re) => Val::func(Func::Regex(re.clone())),
            Kind::Wildcard => wildcard(input),
            Kind::Descendant => {
                if input.is_undefined() {
                    return Ok(Val::Undefined);
                }
                let mut out = Vec::new();
                descendants_into(input, &mut out);
                if out.len() == 1 {
                    out.swap_remove(0)
                } else {
                    Val::sequence(out)
                }
            }
            Kind::Variable(name) if name.is_empty() => match input {
                Val::Arr(a) if a.outer_wrapper => a.items.first().cloned().unwrap_or(Val::Undefined),
                other => other.clone(),
            },
            Kind::Variable(name) => env.lookup(name),
            Kind::Binary { op, lhs, rhs } => self.eval_binary(*op, lhs, rhs, input, env)?,
            Kind::Negate(inner) => match self.eval(inner, input, env)? {
                Val::Undefined => Val::Undefined,
                value => match numeric(&value)? {
                    Some(n) => Val::Num(-n),
                    None => return Err(Error::new("D1002", "Cannot negate a non-numeric value").with_token("-")),
                },
            },
            Kind::Array(items) => self.eval_array(node, items, input, env)?,
            Kind::Object(group) => self.group(group, input, env)?,
            Kind::Block(items) => {
                let frame = self.child_frame(env);
                let mut result = Val::Undefined;
                for item in items {
                    result = self.eval(item, input, &frame)?;
                }
                result
            }
            Kind::Condition { condition, then, otherwise } => {
                if boolean(&self.eval(condition, input, env)?).unwrap_or(false) {
                    self.eval(then, input, env)?
                } else if let Some(otherwise) = otherwise {
                    self.eval(otherwise, input, env)?
                } else {
                    Val::Undefined
                }
            }
            Kind::Bind { name, value } => {
                let value = self.eval(value, input, env)?;
                env.bind(name, value.clone());
                value
            }
            Kind::Call { procedure, args } => self.eval_call(procedure, args, input, env, None)?,
            Kind::Partial { procedure, args } => self.eval_partial(procedure, args, input, env)?,
            Kind::Lambda(def) => {
                self.captured.borrow_mut().push(env.clone());
                Val::func(Func::Lambda { def: def.clone(), env: env.clone(), input: input.clone() })
            }
            Kind::Apply { lhs, rhs } => self.eval_apply(lhs, rhs, input, env)?,
            Kind::Sort(terms) => self.sort_items(terms, input, env)?,
            Kind::Transform(def) => {
                self.captured.borrow_mut().push(env.clone());
                Val::func(Func::Transform { def: def.clone(), env: env.clone() })
            }
        })
    }

    fn eval_path(&self, node: &Node, steps: &[Node], keep_singleton: bool, input: &Val, env: &Env) -> Result<Val> {
        let result = match self.path_steps(steps, input, env)? {
            (_, Some(tuples)) => Val::sequence(tuples.into_iter().map(|t| t.context).collect()),
            (result, None) => result,
        };
        self.finish_path(node, result, keep_singleton, env)
    }

    /// Runs a path's steps: the result, and the tuple stream when the path became one.
    pub(crate) fn path_steps(
        &self,
        steps: &[Node],
        input: &Val,
        env: &Env,
    ) -> Result<(Val, Option<Vec<crate::tuples::Tuple>>)> {
        let first_is_variable = matches!(steps.first().map(|s| &s.kind), Some(Kind::Variable(_)));
        let mut current =
            if input.is_array() && !first_is_variable { input.clone() } else { Val::sequence(vec![input.clone()]) };
        let mut result = Val::Undefined;
        let mut tuples: Option<Vec<crate::tuples::Tuple>> = None;
        let mut is_tuple_stream = false;
        for (i, step) in steps.iter().enumerate() {
            is_tuple_stream |= step.tuple;
            if i == 0 && step.cons_array {
                result = self.eval(step, &current, env)?;
            } else if is_tuple_stream {
                tuples = Some(self.tuple_step(step, &current, tuples.take(), env)?);
            } else {
                result = self.eval_step(step, &current, env, i == steps.len() - 1)?;
            }
            if !is_tuple_stream {
                match &result {
                    Val::Undefined => break,
                    Val::Arr(a) if a.items.is_empty() => break,
                    _ => {}
                }
            }
            if step.focus.is_none() {
                current = result.clone();
            }
        }
        if is_tuple_stream {
            return Ok((result, Some(tuples.unwrap_or_default())));
        }
        Ok((result, None))
    }

    /// A path's `[]` and group-by, applied to its result.
    pub(crate) fn finish_path(&self, node: &Node, mut result: Val, keep_singleton: bool, env: &Env) -> Result<Val> {
        if keep_singleton {
            if let Val::Arr(a) = &result {
                if a.cons && !a.sequence {
                    result = Val::sequence(vec![result.clone()]);
                }
            }
            result = result.with_array_flags(|a| a.keep_singleton = true);
        }
        if let Some(group) = &node.group {
            result = self.group(group, &result, env)?;
        }
        Ok(result)
    }

    fn eval_step(&self, step: &Node, input: &Val, env: &Env, last: bool) -> Result<Val> {
        if let Kind::Sort(terms) = &step.kind {
            let mut result = self.sort_items(terms, input, env).map_err(|e| e.with_position(step.position))?;
            for stage in &step.stages {
                result = self.filter(stage, result, env)?;
            }
            return Ok(result);
        }
        let mut results = Vec::new();
        for item in input.items() {
            let mut value = self.eval(step, &item, env)?;
            for stage in &step.stages {
                value = self.filter(stage, value, env)?;
            }
            if !value.is_undefined() {
                results.push(value);
            }
        }
        if last && results.len() == 1 && results[0].is_array() && !results[0].is_sequence() {
            return Ok(results.swap_remove(0));
        }
        let mut flattened = Vec::new();
        for value in results {
            match value {
                Val::Arr(a) if !a.cons => flattened.extend(a.items.iter().cloned()),
                other => flattened.push(other),
            }
        }
        self.charge(flattened.len() as u64)?;
        Ok(Val::sequence(flattened))
    }

    pub fn filter(&self, predicate: &Node, input: Val, env: &Env) -> Result<Val> {
        let items = match &input {
            Val::Arr(a) => a.items.clone(),
            Val::Undefined => Vec::new(),
            other => vec![other.clone()],
        };
        let mut results = Vec::new();
        if let (Kind::Num(n), true) = (&predicate.kind, predicate.is_bare()) {
            let index = resolve_index(*n, items.len());
            if let Some(item) = index.and_then(|i| items.get(i)) {
                if item.is_array() {
                    return Ok(item.clone());
                }
                results.push(item.clone());
            }
            return Ok(Val::sequence(results));
        }
        for (index, item) in items.iter().enumerate() {
            if self.predicate_selects(predicate, item, env, index, items.len())? {
                results.push(item.clone());
            }
        }
        Ok(Val::sequence(results))
    }

    /// Whether a filter keeps the item at `index` of `count` (a number selects by position).
    pub(crate) fn predicate_selects(
        &self,
        predicate: &Node,
        item: &Val,
        env: &Env,
        index: usize,
        count: usize,
    ) -> Result<bool> {
        let value = self.eval(predicate, item, env)?;
        let indexes: Option<Vec<f64>> = match &value {
            Val::Num(n) => Some(vec![*n]),
            Val::Arr(a) if !a.items.is_empty() && a.items.iter().all(|v| matches!(v, Val::Num(_))) => {
                Some(a.items.iter().filter_map(Val::as_num).collect())
            }
            _ => None,
        };
        Ok(match indexes {
            Some(indexes) => indexes.iter().any(|n| resolve_index(*n, count) == Some(index)),
            None => boolean(&value).unwrap_or(false),
        })
    }

    fn eval_array(&self, node: &Node, items: &[Node], input: &Val, env: &Env) -> Result<Val> {
        let mut result = Vec::new();
        for item in items {
            let value = self.eval(item, input, env)?;
            match value {
                Val::Undefined => {}
                Val::Arr(a) if !matches!(item.kind, Kind::Array(_)) => result.extend(a.items.iter().cloned()),
                other => result.push(other),
            }
        }
        self.charge(result.len() as u64)?;
        let value = Val::array(result).with_array_flags(|a| a.cons = node.cons_array);
        self.check_value(&value)?;
        Ok(value)
    }

    pub fn group(&self, group: &Group, input: &Val, env: &Env) -> Result<Val> {
        let mut items = match input {
            Val::Arr(a) => a.items.clone(),
            other => vec![other.clone()],
        };
        if items.is_empty() {
            items.push(Val::Undefined);
        }
        let mut groups: IndexMap<String, (Val, usize)> = IndexMap::new();
        for item in &items {
            for (index, (key_node, _)) in group.pairs.iter().enumerate() {
                let key = match self.eval(key_node, item, env)? {
                    Val::Str(s) => s.to_string(),
                    Val::Undefined => continue,
                    other => {
                        return Err(Error::at(
                            "T1003",
                            group.position,
                            format!(
                                "Key in object structure must evaluate to a string; got: {}",
                                stringify(&other, false)
                            ),
                        ))
                    }
                };
                match groups.get_mut(&key) {
                    Some((data, existing)) => {
                        if *existing != index {
                            return Err(Error::at(
                                "D1009",
                                group.position,
                                format!("Multiple key definitions evaluate to same key: \"{key}\""),
                            ));
                        }
                        *data = append(std::mem::replace(data, Val::Undefined), item.clone());
                    }
                    None => {
                        groups.insert(key, (item.clone(), index));
                    }
                }
            }
        }
        let mut result = IndexMap::new();
        for (key, (data, index)) in groups {
            let value = self.eval(&group.pairs[index].1, &data, env)?;
            if !value.is_undefined() {
                result.insert(key, value);
            }
        }
        self.charge(result.len() as u64)?;
        let value = Val::object(result);
        self.check_value(&value)?;
        Ok(value)
    }

    fn eval_binary(&self, op: BinOp, lhs: &Node, rhs: &Node, input: &Val, env: &Env) -> Result<Val> {
        let left = self.eval(lhs, input, env)?;
        if matches!(op, BinOp::And | BinOp::Or) {
            let left = boolean(&left).unwrap_or(false);
            if (op == BinOp::And && !left) || (op == BinOp::Or && left) {
                return Ok(Val::Bool(left));
            }
            return Ok(Val::Bool(boolean(&self.eval(rhs, input, env)?).unwrap_or(false)));
        }
        let right = self.eval(rhs, input, env)?;
        self.binary_values(op, left, right).map_err(|e| e.with_token(op.token()))
    }

    fn binary_values(&self, op: BinOp, left: Val, right: Val) -> Result<Val> {
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                let l = numeric(&left)?;
                if !left.is_undefined() && l.is_none() {
                    return Err(not_numeric("T2001", "left", op));
                }
                let r = numeric(&right)?;
                if !right.is_undefined() && r.is_none() {
                    return Err(not_numeric("T2002", "right", op));
                }
                let (Some(l), Some(r)) = (l, r) else { return Ok(Val::Undefined) };
                Ok(Val::Num(match op {
                    BinOp::Add => l + r,
                    BinOp::Sub => l - r,
                    BinOp::Mul => l * r,
                    BinOp::Div => l / r,
                    _ => l % r,
                }))
            }
            BinOp::Eq | BinOp::Ne => {
                if left.is_undefined() || right.is_undefined() {
                    return Ok(Val::Bool(false));
                }
                Ok(Val::Bool(deep_equal(&left, &right) == (op == BinOp::Eq)))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => compare(op, &left, &right),
            BinOp::Concat => {
                let mut s = string_of(&left)?.unwrap_or_default();
                s.push_str(&string_of(&right)?.unwrap_or_default());
                self.check_string(&s)?;
                Ok(Val::string(s))
            }
            BinOp::Range => self.range(&left, &right),
            BinOp::In => {
                if left.is_undefined() || right.is_undefined() {
                    return Ok(Val::Bool(false));
                }
                Ok(Val::Bool(right.items().iter().any(|v| same_primitive(v, &left))))
            }
            BinOp::And | BinOp::Or => Ok(Val::Undefined),
        }
    }

    fn range(&self, left: &Val, right: &Val) -> Result<Val> {
        let integer = |v: &Val| matches!(v, Val::Num(n) if n.fract() == 0.0 && n.is_finite());
        if !left.is_undefined() && !integer(left) {
            return Err(Error::new("T2003", "The left side of the range operator (..) must evaluate to an integer"));
        }
        if !right.is_undefined() && !integer(right) {
            return Err(Error::new("T2004", "The right side of the range operator (..) must evaluate to an integer"));
        }
        let (Val::Num(from), Val::Num(to)) = (left, right) else { return Ok(Val::Undefined) };
        if from > to {
            return Ok(Val::Undefined);
        }
        let size = to - from + 1.0;
        if size > 1e7 {
            return Err(Error::new(
                "D2014",
                format!("The size of the sequence allocated by the range operator (..) must not exceed 1e7.  Attempted to allocate {}.", js_number(size)),
            ));
        }
        self.charge(size as u64)?;
        let (from, to) = (*from as i64, *to as i64);
        Ok(Val::sequence((from..=to).map(|n| Val::Num(n as f64)).collect()))
    }

    fn eval_call(&self, procedure: &Node, args: &[Node], input: &Val, env: &Env, context: Option<Val>) -> Result<Val> {
        let (func, args) = self.prepare_call(procedure, args, input, env, context)?;
        let name = procedure_name(procedure);
        let result = self.apply(&func, args, input, env).map_err(|e| e.with_token(&name))?;
        self.check_value(&result)?;
        Ok(result)
    }

    fn prepare_call(
        &self,
        procedure: &Node,
        args: &[Node],
        input: &Val,
        env: &Env,
        context: Option<Val>,
    ) -> Result<(Val, Vec<Val>)> {
        let func = self.eval(procedure, input, env)?;
        if func.is_undefined() {
            if let Kind::Path { steps, .. } = &procedure.kind {
                if let Some(Kind::Name(name)) = steps.first().map(|s| &s.kind) {
                    if !env.lookup(name).is_undefined() {
                        return Err(Error::at(
                            "T1005",
                            procedure.position,
                            format!("Attempted to invoke a non-function. Did you mean ${name}?"),
                        )
                        .with_token(name));
                    }
                }
            }
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        values.extend(context);
        for arg in args {
            values.push(self.eval(arg, input, env)?);
        }
        Ok((func, values))
    }

    fn eval_partial(&self, procedure: &Node, args: &[Option<Node>], input: &Val, env: &Env) -> Result<Val> {
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(match arg {
                Some(node) => Some(self.eval(node, input, env)?),
                None => None,
            });
        }
        let func = self.eval(procedure, input, env)?;
        if !func.is_function() {
            let name = procedure_name(procedure);
            let is_name_of_function = matches!(&procedure.kind, Kind::Path { .. }) && !env.lookup(&name).is_undefined();
            let (code, message) = if is_name_of_function {
                ("T1007", format!("Attempted to partially apply a non-function. Did you mean ${name}?"))
            } else {
                ("T1008", "Attempted to partially apply a non-function".to_string())
            };
            return Err(Error::new(code, message).with_token(&name));
        }
        Ok(Val::func(Func::Partial { func, args: values }))
    }

    fn eval_apply(&self, lhs: &Node, rhs: &Node, input: &Val, env: &Env) -> Result<Val> {
        let left = self.eval(lhs, input, env)?;
        if let Kind::Call { procedure, args } = &rhs.kind {
            return self.eval_call(procedure, args, input, env, Some(left));
        }
        let func = self.eval(rhs, input, env)?;
        if !func.is_function() {
            return Err(Error::new(
                "T2006",
                "The right side of the function application operator ~> must be a function",
            )
            .with_token("~>"));
        }
        if left.is_function() {
            return Ok(Val::func(Func::Chain(left, func)));
        }
        self.apply(&func, vec![left], &Val::Undefined, env)
    }

    /// Calls a function value, running tail calls in a loop rather than recursing.
    pub fn apply(&self, func: &Val, args: Vec<Val>, input: &Val, env: &Env) -> Result<Val> {
        let _guard = self.enter()?;
        let mut outcome = self.apply_once(func, args, input, env)?;
        loop {
            match outcome {
                Outcome::Value(value) => return Ok(value),
                Outcome::TailCall(func, args) => {
                    self.charge(1)?;
                    outcome = self.apply_once(&func, args, input, env)?;
                }
            }
        }
    }

    fn apply_once(&self, func: &Val, args: Vec<Val>, input: &Val, env: &Env) -> Result<Outcome> {
        let Val::Func(f) = func else {
            return Err(Error::new("T1006", "Attempted to invoke a non-function"));
        };
        match &**f {
            Func::Lambda { def, env: closure, input: captured_input } => {
                let args = match &def.signature {
                    Some(signature) => signature.validate(args, input)?,
                    None => args,
                };
                let frame = self.child_frame(closure);
                for (i, param) in def.params.iter().enumerate() {
                    frame.bind(param, args.get(i).cloned().unwrap_or(Val::Undefined));
                }
                self.eval_tail(&def.body, captured_input, &frame)
            }
            Func::Builtin(builtin) => {
                let args = builtin.signature.validate(args, input)?;
                Ok(Outcome::Value((builtin.implementation)(self, args, input, env)?))
            }
            Func::Partial { func, args: bound } => {
                let mut supplied = args.into_iter();
                let full = bound
                    .iter()
                    .map(|a| a.clone().unwrap_or_else(|| supplied.next().unwrap_or(Val::Undefined)))
                    .collect();
                Ok(Outcome::TailCall(func.clone(), full))
            }
            Func::Chain(first, second) => {
                let value = self.apply(first, args.into_iter().take(1).collect(), input, env)?;
                Ok(Outcome::TailCall(second.clone(), vec![value]))
            }
            Func::Regex(re) => {
                let text = match args.first() {
                    Some(Val::Str(s)) => s.clone(),
                    _ => return Ok(Outcome::Value(Val::Undefined)),
                };
                Ok(Outcome::Value(crate::functions::regex_match_object(self, re, &text)?))
            }
            Func::Transform { def, env } => {
                let target = args.into_iter().next().unwrap_or(Val::Undefined);
                Ok(Outcome::Value(self.transform(def, env, target)?))
            }
        }
    }

    /// Evaluates a function body, returning a call in tail position instead of making it.
    fn eval_tail(&self, node: &Node, input: &Val, env: &Env) -> Result<Outcome> {
        if !node.is_bare() {
            return Ok(Outcome::Value(self.eval(node, input, env)?));
        }
        match &node.kind {
            Kind::Call { procedure, args } => {
                let _guard = self.enter()?;
                let (func, args) =
                    self.prepare_call(procedure, args, input, env, None).map_err(|e| e.with_position(node.position))?;
                if !func.is_function() {
                    return Err(Error::at("T1006", node.position, "Attempted to invoke a non-function")
                        .with_token(&procedure_name(procedure)));
                }
                Ok(Outcome::TailCall(func, args))
            }
            Kind::Condition { condition, then, otherwise } => {
                if boolean(&self.eval(condition, input, env)?).unwrap_or(false) {
                    self.eval_tail(then, input, env)
                } else if let Some(otherwise) = otherwise {
                    self.eval_tail(otherwise, input, env)
                } else {
                    Ok(Outcome::Value(Val::Undefined))
                }
            }
            Kind::Block(items) if !items.is_empty() => {
                let frame = self.child_frame(env);
                let (last, rest) = items.split_last().ok_or_else(|| Error::new("S0201", "Empty block"))?;
                for item in rest {
                    self.eval(item, input, &frame)?;
                }
                self.eval_tail(last, input, &frame)
            }
            _ => Ok(Outcome::Value(self.eval(node, input, env)?)),
        }
    }

    /// Calls `func` from a higher-order function with as many of `args` as it takes.
    pub fn call_hof(&self, func: &Val, mut args: Vec<Val>, env: &Env) -> Result<Val> {
        args.truncate(arity(func).max(1));
        self.apply(func, args, &Val::Undefined, env)
    }

    /// Order-by: a stable merge sort of the input on the sort terms.
    pub(crate) fn sort_items(&self, terms: &[(bool, Node)], input: &Val, env: &Env) -> Result<Val> {
        let items = match input {
            Val::Arr(a) if a.items.len() > 1 => a.items.clone(),
            _ => return Ok(input.clone()),
        };
        let mut keyed = Vec::with_capacity(items.len());
        for item in items {
            let mut keys = Vec::with_capacity(terms.len());
            for (_, term) in terms {
                keys.push(self.eval(term, &item, env)?);
            }
            keyed.push((item, keys));
        }
        let sorted = self.sort_keyed(terms, keyed)?;
        Ok(Val::array(sorted))
    }

    /// Stable merge sort of items keyed by their order-by terms' values.
    pub(crate) fn sort_keyed<T: Clone>(&self, terms: &[(bool, Node)], keyed: Vec<(T, Vec<Val>)>) -> Result<Vec<T>> {
        let sorted = merge_sort(self, keyed, &mut |a: &(T, Vec<Val>), b: &(T, Vec<Val>)| {
            for (index, (descending, _)) in terms.iter().enumerate() {
                let (x, y) = (&a.1[index], &b.1[index]);
                let comparison = match (x, y) {
                    (Val::Undefined, Val::Undefined) => continue,
                    (Val::Undefined, _) => return Ok(true),
                    (_, Val::Undefined) => return Ok(false),
                    (Val::Num(p), Val::Num(q)) => p.partial_cmp(q),
                    (Val::Str(p), Val::Str(q)) => Some(p.cmp(q)),
                    (Val::Num(_) | Val::Str(_), Val::Num(_) | Val::Str(_)) => {
                        return Err(Error::new("T2007", "Type mismatch when comparing values in order-by clause"))
                    }
                    _ => {
                        return Err(Error::new(
                            "T2008",
                            "The expressions within an order-by clause must evaluate to numeric or string values",
                        ))
                    }
                };
                match comparison {
                    Some(std::cmp::Ordering::Equal) | None => continue,
                    Some(ordering) => {
                        let greater = ordering == std::cmp::Ordering::Greater;
                        return Ok(greater != *descending);
                    }
                }
            }
            Ok(false)
        })?;
        Ok(sorted.into_iter().map(|(item, _)| item).collect())
    }

    fn transform(&self, def: &TransformDef, env: &Env, target: Val) -> Result<Val> {
        crate::transform::apply(self, def, env, target)
    }
}

/// The reference's merge sort: `swap(a, b)` true puts `b` first. Stable.
pub(crate) fn merge_sort<T: Clone>(
    ctx: &Ctx,
    items: Vec<T>,
    swap: &mut dyn FnMut(&T, &T) -> Result<bool>,
) -> Result<Vec<T>> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let mut right = items;
    let left = right.drain(..right.len() / 2).collect();
    let left = merge_sort(ctx, left, swap)?;
    let right = merge_sort(ctx, right, swap)?;
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        ctx.charge(1)?;
        match (l.peek(), r.peek()) {
            (None, _) => {
                merged.extend(r);
                break;
            }
            (_, None) => {
                merged.extend(l);
                break;
            }
            (Some(a), Some(b)) => {
                if swap(a, b)? {
                    merged.extend(r.next());
                } else {
                    merged.extend(l.next());
                }
            }
        }
    }
    Ok(merged)
}

fn resolve_index(n: f64, len: usize) -> Option<usize> {
    let mut index = n.floor();
    if index < 0.0 {
        index += len as f64;
    }
    if index >= 0.0 && index < len as f64 {
        Some(index as usize)
    } else {
        None
    }
}

fn same_primitive(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Arr(x), Val::Arr(y)) => Rc::ptr_eq(x, y),
        (Val::Obj(x), Val::Obj(y)) => Rc::ptr_eq(x, y),
        (Val::Func(x), Val::Func(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

fn compare(op: BinOp, left: &Val, right: &Val) -> Result<Val> {
    let comparable = |v: &Val| matches!(v, Val::Undefined | Val::Str(_) | Val::Num(_));
    if !comparable(left) || !comparable(right) {
        return Err(Error::new(
            "T2010",
            format!(
                "The expressions either side of operator \"{}\" must evaluate to numeric or string values",
                op.token()
            ),
        ));
    }
    let ordering = match (left, right) {
        (Val::Undefined, _) | (_, Val::Undefined) => return Ok(Val::Undefined),
        (Val::Num(a), Val::Num(b)) => a.partial_cmp(b),
        (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
        _ => {
            return Err(Error::new(
                "T2009",
                format!("The values either side of operator \"{}\" must be of the same data type", op.token()),
            ))
        }
    };
    use std::cmp::Ordering::*;
    Ok(Val::Bool(match (op, ordering) {
        (_, None) => false,
        (BinOp::Lt, Some(o)) => o == Less,
        (BinOp::Le, Some(o)) => o != Greater,
        (BinOp::Gt, Some(o)) => o == Greater,
        (_, Some(o)) => o != Less,
    }))
}

/// `$string` of a value (`None` for undefined); infinite numbers are an error (D3001).
pub(crate) fn string_of(value: &Val) -> Result<Option<String>> {
    Ok(Some(match value {
        Val::Undefined => return Ok(None),
        Val::Str(s) => s.to_string(),
        Val::Func(_) => String::new(),
        Val::Num(n) if !n.is_finite() => {
            return Err(Error::new("D3001", "Attempting to invoke string function on Infinity or NaN"))
        }
        Val::Num(n) => js_number(to_precision_15(*n)),
        Val::Arr(a) if a.outer_wrapper => stringify(a.items.first().unwrap_or(&Val::Undefined), false),
        other => stringify(other, false),
    }))
}

fn procedure_name(procedure: &Node) -> String {
    match &procedure.kind {
        Kind::Path { steps, .. } => match steps.first().map(|s| &s.kind) {
            Some(Kind::Name(name)) => name.clone(),
            _ => String::new(),
        },
        Kind::Variable(name) => name.clone(),
        _ => String::new(),
    }
}
