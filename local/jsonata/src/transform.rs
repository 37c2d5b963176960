//! The transform operator `| pattern | update [, delete] |`: a function returning a copy of
//! its argument with the matched objects updated. The reference mutates the copy in place;
//! here the matches are identified by allocation in a fresh deep copy and the copy is rebuilt.

use crate::ast::TransformDef;
use crate::error::{Error, Result};
use crate::eval::Ctx;
use crate::value::{stringify, Env, Object, Val};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::rc::Rc;

/// Changes to apply to one matched object.
#[derive(Default)]
struct Change {
    update: Vec<(String, Val)>,
    delete: Vec<String>,
}

pub(crate) fn apply(ctx: &Ctx, def: &TransformDef, env: &Env, target: Val) -> Result<Val> {
    match target {
        Val::Undefined => return Ok(Val::Undefined),
        Val::Obj(_) | Val::Arr(_) => {}
        _ => return Err(Error::new("T0410", "Argument 1 of function \"transform\" does not match function signature")),
    }
    let copy = deep_copy(ctx, &target)?;
    let matches = ctx.eval(&def.pattern, &copy, env)?;
    let mut changes: HashMap<usize, Change> = HashMap::new();
    for matched in matches.items() {
        let Val::Obj(object) = &matched else { continue };
        let change = changes.entry(Rc::as_ptr(object) as usize).or_default();
        match ctx.eval(&def.update, &matched, env)? {
            Val::Undefined => {}
            Val::Obj(update) => change.update.extend(update.map.iter().map(|(k, v)| (k.clone(), v.clone()))),
            other => {
                return Err(Error::at(
                    "T2011",
                    def.update.position,
                    format!(
                        "The insert/update clause of the transform expression must evaluate to an object: {}",
                        stringify(&other, false)
                    ),
                ))
            }
        }
        if let Some(delete) = &def.delete {
            let deletions = ctx.eval(delete, &matched, env)?;
            if deletions.is_undefined() {
                continue;
            }
            for name in deletions.items() {
                match name {
                    Val::Str(s) => change.delete.push(s.to_string()),
                    _ => {
                        return Err(Error::at(
                            "T2012",
                            delete.position,
                            format!("The delete clause of the transform expression must evaluate to a string or array of strings: {}", stringify(&deletions, false)),
                        ))
                    }
                }
            }
        }
    }
    Ok(rebuild(&copy, &changes))
}

fn deep_copy(ctx: &Ctx, value: &Val) -> Result<Val> {
    Ok(match value {
        Val::Arr(a) => {
            ctx.charge(a.items.len() as u64)?;
            let items = a.items.iter().map(|v| deep_copy(ctx, v)).collect::<Result<Vec<_>>>()?;
            let mut copy = (**a).clone();
            copy.items = items;
            Val::Arr(Rc::new(copy))
        }
        Val::Obj(o) => {
            ctx.charge(o.map.len() as u64)?;
            let map = o.map.iter().map(|(k, v)| Ok((k.clone(), deep_copy(ctx, v)?))).collect::<Result<_>>()?;
            Val::Obj(Rc::new(Object { map, depth: o.depth }))
        }
        other => other.clone(),
    })
}

fn rebuild(value: &Val, changes: &HashMap<usize, Change>) -> Val {
    match value {
        Val::Arr(a) => {
            let mut copy = (**a).clone();
            copy.items = a.items.iter().map(|v| rebuild(v, changes)).collect();
            Val::Arr(Rc::new(copy))
        }
        Val::Obj(o) => {
            let mut map: IndexMap<String, Val> = o.map.iter().map(|(k, v)| (k.clone(), rebuild(v, changes))).collect();
            if let Some(change) = changes.get(&(Rc::as_ptr(o) as usize)) {
                for (key, update) in &change.update {
                    map.insert(key.clone(), update.clone());
                }
                for key in &change.delete {
                    map.shift_remove(key);
                }
            }
            Val::object(map)
        }
        other => other.clone(),
    }
}
