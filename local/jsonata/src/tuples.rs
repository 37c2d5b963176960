//! Tuple streams: path steps carrying `@$v` (focus) and `#$i` (index) bindings, as the
//! reference's `evaluateTupleStep` evaluates them.

use crate::ancestry::label_name;
use crate::ast::{Kind, Node};
use crate::error::Result;
use crate::eval::Ctx;
use crate::value::{Env, Val};

/// One item of a tuple stream: the context value (`@`) and the variables bound so far.
#[derive(Debug, Clone)]
pub(crate) struct Tuple {
    pub context: Val,
    pub bindings: Vec<(String, Val)>,
}

impl Tuple {
    fn bind(&mut self, name: &str, value: Val) {
        match self.bindings.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.bindings.push((name.to_string(), value)),
        }
    }
}

/// What a step inside a tuple stream produced.
enum Nested {
    Tuples(Vec<Tuple>),
    Value(Val),
}

/// An outer tuple extended by a nested path's tuple (its context and bindings win).
fn merge(outer: &Tuple, inner: Tuple) -> Tuple {
    let mut next = outer.clone();
    for (name, value) in inner.bindings {
        next.bind(&name, value);
    }
    next.context = inner.context;
    next
}

impl Ctx<'_> {
    /// A frame holding a tuple's bindings.
    pub(crate) fn tuple_frame(&self, env: &Env, tuple: &Tuple) -> Env {
        let frame = self.child_frame(env);
        for (name, value) in &tuple.bindings {
            frame.bind(name, value.clone());
        }
        frame
    }

    /// Evaluates one path step over a tuple stream (started from `input` when `tuples` is `None`).
    pub(crate) fn tuple_step(
        &self,
        step: &Node,
        input: &Val,
        tuples: Option<Vec<Tuple>>,
        env: &Env,
    ) -> Result<Vec<Tuple>> {
        if let Kind::Sort(terms) = &step.kind {
            let sorted = match tuples {
                Some(tuples) => self.sort_tuples(terms, tuples, env)?,
                None => {
                    let sorted = self.sort_items(terms, input, env).map_err(|e| e.with_position(step.position))?;
                    let mut tuples = Vec::new();
                    for (position, item) in sorted.items().into_iter().enumerate() {
                        let mut tuple = Tuple { context: item, bindings: Vec::new() };
                        if let Some(index) = &step.index {
                            tuple.bind(index, Val::Num(position as f64));
                        }
                        tuples.push(tuple);
                    }
                    tuples
                }
            };
            return self.tuple_stages(&step.stages, sorted, env);
        }
        let tuples = tuples.unwrap_or_else(|| {
            input.items().into_iter().map(|context| Tuple { context, bindings: Vec::new() }).collect()
        });
        let mut result = Vec::new();
        for tuple in &tuples {
            let frame = self.tuple_frame(env, tuple);
            let value = match self.nested_source(step, &tuple.context, &frame)? {
                Nested::Tuples(inner) => {
                    self.charge(inner.len() as u64 * (tuple.bindings.len() as u64 + 1))?;
                    result.extend(inner.into_iter().map(|found| merge(tuple, found)));
                    continue;
                }
                Nested::Value(value) => value,
            };
            let values = match value {
                Val::Undefined => continue,
                Val::Arr(a) => a.items.clone(),
                other => vec![other],
            };
            self.charge(values.len() as u64 * (tuple.bindings.len() as u64 + 1))?;
            for (position, value) in values.into_iter().enumerate() {
                let mut next = tuple.clone();
                match &step.focus {
                    Some(focus) => next.bind(focus, value),
                    None => next.context = value,
                }
                if let Some(index) = &step.index {
                    next.bind(index, Val::Num(position as f64));
                }
                if let Some(ancestor) = &step.ancestor {
                    next.bind(&label_name(ancestor), tuple.context.clone());
                }
                result.push(next);
            }
        }
        self.tuple_stages(&step.stages, result, env)
    }

    /// A step's result: the tuples of a parenthesised path that `%` reaches through (the
    /// reference's `tupleStream` results), or its value.
    fn nested_source(&self, step: &Node, input: &Val, env: &Env) -> Result<Nested> {
        if !step.tuple || step.group.is_some() || step.keep_array {
            return Ok(Nested::Value(self.eval(step, input, env)?));
        }
        let _guard = self.enter()?;
        let mut found = self.nested_kind(step, input, env)?;
        for predicate in &step.predicates {
            found = match found {
                Nested::Tuples(tuples) => Nested::Tuples(self.filter_tuples(predicate, tuples, env)?),
                Nested::Value(value) => Nested::Value(self.filter(predicate, value, env)?),
            };
        }
        Ok(match found {
            Nested::Value(value) if !step.predicates.is_empty() => {
                Nested::Value(crate::eval::finish_sequence(value, false))
            }
            other => other,
        })
    }

    /// [`Self::nested_source`] before the step's own filters.
    fn nested_kind(&self, step: &Node, input: &Val, env: &Env) -> Result<Nested> {
        match &step.kind {
            Kind::Block(items) => {
                let frame = self.child_frame(env);
                let Some((last, leading)) = items.split_last() else { return Ok(Nested::Value(Val::Undefined)) };
                for item in leading {
                    self.eval(item, input, &frame)?;
                }
                self.nested_source(last, input, &frame)
            }
            Kind::Path { steps, keep_singleton } => match self.path_steps(steps, input, env)? {
                (_, Some(tuples)) => Ok(Nested::Tuples(tuples)),
                (result, None) => {
                    let result = self.finish_path(step, result, *keep_singleton, env)?;
                    Ok(Nested::Value(crate::eval::finish_sequence(result, false)))
                }
            },
            _ => Ok(Nested::Value(self.eval(step, input, env)?)),
        }
    }

    /// Applies a step's filters and `#` stages to a tuple stream.
    fn tuple_stages(&self, stages: &[Node], mut tuples: Vec<Tuple>, env: &Env) -> Result<Vec<Tuple>> {
        for stage in stages {
            tuples = match &stage.kind {
                Kind::IndexStage(name) => {
                    for (position, tuple) in tuples.iter_mut().enumerate() {
                        tuple.bind(name, Val::Num(position as f64));
                    }
                    tuples
                }
                _ => self.filter_tuples(stage, tuples, env)?,
            };
        }
        Ok(tuples)
    }

    /// A filter over a tuple stream: the predicate sees each tuple's context and bindings.
    fn filter_tuples(&self, predicate: &Node, tuples: Vec<Tuple>, env: &Env) -> Result<Vec<Tuple>> {
        let count = tuples.len();
        let mut kept = Vec::new();
        for (position, tuple) in tuples.into_iter().enumerate() {
            let frame = self.tuple_frame(env, &tuple);
            if self.predicate_selects(predicate, &tuple.context, &frame, position, count)? {
                kept.push(tuple);
            }
        }
        Ok(kept)
    }

    /// Sorts a tuple stream, evaluating the terms with each tuple's bindings.
    fn sort_tuples(&self, terms: &[(bool, Node)], tuples: Vec<Tuple>, env: &Env) -> Result<Vec<Tuple>> {
        let mut keyed = Vec::with_capacity(tuples.len());
        for tuple in tuples {
            let frame = self.tuple_frame(env, &tuple);
            let mut keys = Vec::with_capacity(terms.len());
            for (_, term) in terms {
                keys.push(self.eval(term, &tuple.context, &frame)?);
            }
            keyed.push((tuple, keys));
        }
        let sorted = self.sort_keyed(terms, keyed)?;
        Ok(sorted)
    }
}
