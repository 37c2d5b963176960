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
            let value = self.eval(step, &tuple.context, &frame)?;
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
