//! The parent operator `%` at parse time: the reference's `seekParent`, `pushAncestry` and
//! `resolveAncestry`. Each `%` gets a slot; walking back up the path, the step at the slot's
//! level is marked to bind its input under the slot's label, which `%` then looks up.

use crate::ast::{Kind, Node};
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A slot label shared by a `%` node and the step that binds it (relabelled when two slots
/// resolve to the same step, as in the reference).
pub(crate) type Label = Arc<AtomicUsize>;

/// The name a label is bound under in a tuple (`!n`, which no variable can spell).
pub(crate) fn label_name(label: &Label) -> String {
    format!("!{}", label.load(Ordering::Relaxed))
}

struct Slot {
    level: u64,
    label: Label,
}

/// Most steps the slots may be walked through while parsing one expression (bounds the
/// otherwise quadratic resolution of many `%` over long paths).
const MAX_SEEK_STEPS: u64 = 1_000_000;

/// The slots of one expression's `%` nodes, indexed by their order of appearance.
#[derive(Default)]
pub(crate) struct Ancestry {
    slots: Vec<Slot>,
    seek_steps: u64,
}

impl Ancestry {
    /// A new `%` node, looking for the input of the step one level up.
    pub fn parent(&mut self, position: usize) -> Node {
        let index = self.slots.len();
        let label: Label = Arc::new(AtomicUsize::new(index));
        self.slots.push(Slot { level: 1, label: label.clone() });
        let mut node = Node::new(Kind::Parent(label), position);
        node.parent_slot = Some(index);
        node
    }

    fn level(&self, slot: usize) -> u64 {
        self.slots.get(slot).map_or(0, |s| s.level)
    }

    fn set_level(&mut self, slot: usize, level: u64) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.level = level;
        }
    }

    /// The reference's `seekParent`: moves the slot one step up through `node`.
    pub fn seek_parent(&mut self, node: &mut Node, slot: usize) -> Result<()> {
        self.seek_steps += 1;
        if self.seek_steps > MAX_SEEK_STEPS {
            return Err(Error::at(
                "U1003",
                node.position,
                format!("Resolving the parent operators % takes more than {MAX_SEEK_STEPS} steps"),
            ));
        }
        match &mut node.kind {
            Kind::Name(_) | Kind::Wildcard => {
                let level = self.level(slot).saturating_sub(1);
                self.set_level(slot, level);
                if level == 0 {
                    self.bind_to(node, slot);
                }
                Ok(())
            }
            Kind::Parent(_) => {
                self.set_level(slot, self.level(slot).saturating_add(1));
                Ok(())
            }
            Kind::Block(items) => {
                if let Some(last) = items.last_mut() {
                    node.tuple = true;
                    self.seek_parent(last, slot)?;
                }
                Ok(())
            }
            Kind::Path { steps, .. } => {
                node.tuple = true;
                for step in steps.iter_mut().rev() {
                    self.seek_parent(step, slot)?;
                    if self.level(slot) == 0 {
                        break;
                    }
                }
                Ok(())
            }

            _ => Err(Error::at(
                "S0217",
                node.position,
                "The object representing the 'parent' cannot be derived from this expression",
            )),
        }
    }

    /// Marks `node` as binding its input under the slot's label (sharing an existing label).
    fn bind_to(&mut self, node: &mut Node, slot: usize) {
        let Some(entry) = self.slots.get(slot) else { return };
        if let Some(existing) = &node.ancestor {
            entry.label.store(existing.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        node.ancestor = Some(entry.label.clone());
        node.tuple = true;
    }

    /// The slots `value` still seeks: its own list, plus its slot if it is a `%`.
    pub fn seeking(value: &Node) -> Vec<usize> {
        let mut slots = value.seeking_parent.clone();
        slots.extend(value.parent_slot);
        slots
    }

    /// The reference's `pushAncestry`: `result` inherits the slots `value` seeks.
    pub fn push(result: &mut Node, value: &Node) {
        result.seeking_parent.extend(Self::seeking(value));
    }

    /// The reference's predicate handling: a slot at level 1 binds the filtered step itself.
    pub fn resolve_predicate(&mut self, step: &mut Node, predicate: &Node) -> Result<()> {
        for &slot in &predicate.seeking_parent {
            if self.level(slot) == 1 {
                self.seek_parent(step, slot)?;
            } else {
                self.set_level(slot, self.level(slot).saturating_sub(1));
            }
        }
        Self::push(step, predicate);
        Ok(())
    }

    /// The reference's `resolveAncestry`: walks the last step's slots back up the path;
    /// slots still unresolved at the first step are left for an enclosing expression.
    pub fn resolve_path(&mut self, steps: &mut [Node], path_seeking: &mut Vec<usize>) -> Result<()> {
        let Some(last) = steps.last() else { return Ok(()) };
        for slot in Self::seeking(last) {
            let mut index = steps.len() as isize - 2;
            while self.level(slot) > 0 {
                if index < 0 {
                    path_seeking.push(slot);
                    break;
                }
                let mut step = index as usize;
                index -= 1;
                // Contiguous steps binding the focus are skipped together.
                while index >= 0 && steps[step].focus.is_some() && steps[index as usize].focus.is_some() {
                    step = index as usize;
                    index -= 1;
                }
                self.seek_parent(&mut steps[step], slot)?;
            }
        }
        Ok(())
    }
}
