//! Path authorization: which node may write which part of a deal document.
//!
//! Every Automerge object in a deal gets an owner class when the change that creates it is
//! accepted. A change is authorized by walking its decoded operations (`obj`, `key`, `action`)
//! against that table: no apply-and-diff, so authorization costs about one extra decode per
//! change. Objects created inside an owned object inherit its owner; the genesis change fixes
//! the classes of the top-level objects. The table only grows and classes never change, and the
//! participant set only grows, so a change accepted by one honest replica is accepted by every
//! honest replica that has its causal past (the rule table is in SECURITY.md).

use automerge::legacy::{ElementId, Key, ObjectId, Op, OpId, OpType};
use automerge::{ActorId, ChangeHash, ExpandedChange, ObjType, ScalarValue};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::deal::{keys, ParticipantStatus, Role};
use crate::identity::NodeId;
use crate::kind::{self, KindSpec, StepValue};
use crate::limits::PARTICIPANTS_MAX;

/// Why a change was not allowed to touch a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// Human-readable path, e.g. `sections/12D3KooW…/next_step` or `shared/title`.
    pub path: String,
    /// The rule that refused it.
    pub rule: &'static str,
}

/// The class of a per-node container: maps keyed by node id, where each node writes its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    Sections,
    Claims,
    Decisions,
    Proposals,
    Acceptances,
}

impl Container {
    fn name(self) -> &'static str {
        match self {
            Container::Sections => "sections",
            Container::Claims => "registration/claims",
            Container::Decisions => "registration/decisions",
            Container::Proposals => "attribution/proposals",
            Container::Acceptances => "attribution/acceptances",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// The document root: written by the genesis change only.
    Root,
    /// Written by the origin only (`shared` and everything inside it, attribution fields).
    Origin,
    /// The participant list: the origin adds entries; nobody removes one.
    Participants,
    /// One participant's entry (by participant index): name and role by the origin, status by
    /// the participant.
    Participant(u32),
    /// A map keyed by node id where each node writes only its own key.
    PerNode(Container),
    /// Owned by one node (by participant index): that node writes everything inside.
    Owned(u32),
    /// `registration`: its children are fixed by the genesis change.
    Registration,
    /// `attribution`: verdict fields by the origin; per-node children fixed by genesis.
    Attribution,
    /// `steps` of a declared kind: steps are inserted, each a map (see [`crate::kind`]).
    Steps,
    /// One step: written whole by the change that creates it, checked against the kind's
    /// declaration when that change is complete, never changed afterwards.
    Step,
}

/// Facts the authorizer keeps about one participant.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParticipantFacts {
    pub role: Option<Role>,
}

/// The ownership table of one document.
///
/// Objects are keyed by (counter, actor index) and nodes by participant index, so checking an
/// operation allocates nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Authority {
    origin: Option<NodeId>,
    /// The declared kind the genesis named, if any.
    kind: Option<&'static KindSpec>,
    /// Every object with its owner class and its kind (map or list).
    objects: HashMap<(u64, u32), (Class, ObjType)>,
    /// Participants in the order they were added; `Class` refers to them by index.
    nodes: Vec<(NodeId, ParticipantFacts)>,
    by_node: BTreeMap<NodeId, u32>,
    /// Actor ids seen in accepted changes, with their index, last sequence number and the
    /// counter of the last operation of their last change.
    actors: HashMap<ActorId, (u32, u64, u64)>,
    /// The counter of the last operation of every accepted change (its start op minus one when
    /// it has none). Since every accepted change starts after each of its dependencies' last
    /// operation ([`Authority::check_counters`]), the largest of its dependencies' entries is the
    /// largest counter of its whole causal past.
    max_ops: HashMap<ChangeHash, u64>,
    /// The operations that ever put a value at a map key, and the elements ever inserted into a
    /// list: what a predecessor or an insert position may name (see [`Authority::check_ids`]).
    slots: HashMap<Slot, HashSet<(u64, u32)>>,
    /// For each accepted change with a removal in its causal past (itself included): the
    /// participants (by index) the origin removed there. A removal is final for its participant:
    /// no change of the removed node descending from it is accepted, whoever relays it. Judged
    /// on the causal past, not on what this replica happens to hold, so every honest replica
    /// decides alike (a change concurrent with the removal is accepted everywhere; the view
    /// reads the participant as removed either way). Changes without a removal in their past
    /// have no entry.
    removals: HashMap<ChangeHash, Arc<BTreeSet<u32>>>,
}

/// A map key of an object (`None`: the root), or a list's elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Slot {
    object: Option<(u64, u32)>,
    key: Option<String>,
}

/// The effect of one authorized change, applied to the table only once the whole change passed.
#[derive(Default)]
struct Delta {
    origin: Option<NodeId>,
    kind: Option<&'static KindSpec>,
    /// The steps this change creates, with the values put into each.
    steps: Vec<((u64, u32), BTreeMap<String, ScalarValue>)>,
    objects: Vec<((u64, u32), (Class, ObjType))>,
    /// New participants; they get indices `nodes.len()`, `nodes.len() + 1`, ….
    participants: Vec<NodeId>,
    roles: Vec<(u32, Role)>,
    slots: HashMap<Slot, HashSet<(u64, u32)>>,
    /// Participants the change removes.
    removed: Vec<u32>,
}

impl Authority {
    pub fn origin(&self) -> Option<&NodeId> {
        self.origin.as_ref()
    }

    pub fn is_participant(&self, node: &NodeId) -> bool {
        self.by_node.contains_key(node)
    }

    /// Every node [`Authority::is_participant`] holds for (removed ones too).
    pub fn participants(&self) -> impl Iterator<Item = &NodeId> {
        self.by_node.keys()
    }

    pub fn role_of(&self, node: &NodeId) -> Option<Role> {
        let index = *self.by_node.get(node)?;
        self.nodes.get(index as usize)?.1.role
    }

    /// The sequence number the next change of `actor` must have.
    pub fn next_seq(&self, actor: &ActorId) -> u64 {
        self.actors.get(actor).map_or(0, |&(_, seq, _)| seq) + 1
    }

    /// Whether an accepted change has `actor` as its actor.
    pub fn knows_actor(&self, actor: &ActorId) -> bool {
        self.actors.contains_key(actor)
    }

    /// Checks that `change`'s operation counters follow its causal past, as Automerge numbers
    /// every change it makes: its first operation after every operation of its dependencies
    /// (the Lamport clock; with this rule held by every accepted change, the largest last
    /// counter among its dependencies is the largest of its causal past) and after its actor's
    /// previous change, and each predecessor and insert position before the operation that
    /// names it (an honest change only names what it has seen). Automerge 0.12 checks none of
    /// this when it applies a change, but rebuilds changes from the operations assuming it:
    /// an actor's changes must take increasing, disjoint counter ranges in sequence order, and
    /// an operation's predecessors must sort before it at its key. A change breaking it applies,
    /// and every later `get_changes` (listing, sync, storage) panics or rebuilds other bytes.
    /// Dependencies must be accepted already (the caller checks). Returns what is wrong.
    pub fn check_counters(&self, change: &ExpandedChange) -> Result<(), String> {
        let start_op = change.start_op.get();
        let after_deps = change
            .deps
            .iter()
            .filter_map(|dep| self.max_ops.get(dep))
            .max()
            .copied()
            .unwrap_or(0);
        if start_op <= after_deps {
            return Err(format!(
                "the first operation is {start_op}, but its dependencies reach {after_deps}"
            ));
        }
        if let Some(&(_, _, previous)) = self.actors.get(&change.actor_id) {
            if start_op <= previous {
                return Err(format!(
                    "the first operation is {start_op}, but the actor's previous change reaches \
                     {previous}"
                ));
            }
        }
        for (n, op) in change.operations.iter().enumerate() {
            let counter = start_op.saturating_add(n as u64);
            let after = match &op.key {
                Key::Seq(ElementId::Id(after)) => Some(after.counter()),
                _ => None,
            };
            let named = op.pred.iter().map(OpId::counter).chain(after);
            if let Some(later) = named.filter(|&c| c >= counter).max() {
                return Err(format!(
                    "operation {counter} names operation {later}, which does not come before it"
                ));
            }
        }
        Ok(())
    }

    /// The declared kind of the document, if its genesis named one.
    pub fn kind(&self) -> Option<&'static KindSpec> {
        self.kind
    }

    pub fn is_genesis_pending(&self) -> bool {
        self.origin.is_none()
    }

    /// The participants removed in the causal past of `deps` (a change's dependencies, or a
    /// document's heads).
    fn removed_before(&self, deps: &[ChangeHash]) -> Option<Arc<BTreeSet<u32>>> {
        let mut sets = deps.iter().filter_map(|d| self.removals.get(d));
        let first = sets.next()?;
        let mut merged: Option<BTreeSet<u32>> = None;
        for set in sets {
            if !set.is_subset(merged.as_ref().unwrap_or(first)) {
                merged
                    .get_or_insert_with(|| (**first).clone())
                    .extend(set.iter().copied());
            }
        }
        Some(merged.map_or_else(|| first.clone(), Arc::new))
    }

    /// Whether the origin removed `node` in the causal past of `heads`: then it writes nothing
    /// more there.
    pub fn is_removed(&self, heads: &[ChangeHash], node: &NodeId) -> bool {
        let Some(&index) = self.by_node.get(node) else {
            return false;
        };
        self.removed_before(heads)
            .is_some_and(|set| set.contains(&index))
    }

    /// Checks every operation of `change` (authored by `author`, with hash `hash`) and, if all
    /// pass, records the objects and participants it creates. `change` is the genesis change iff
    /// the table is still empty.
    pub fn authorize(
        &mut self,
        change: &ExpandedChange,
        hash: ChangeHash,
        author: &NodeId,
    ) -> Result<(), Denied> {
        let genesis = self.origin.is_none();
        let mut delta = Delta::default();
        // The genesis author gets the first participant index before any operation is read, so
        // whatever it creates is owned by an index that exists, whichever order its operations
        // come in; the genesis must still list the author (checked below).
        let author_index = match self.by_node.get(author) {
            Some(&i) => i,
            None if genesis => {
                delta.participants.push(author.clone());
                index_u32(self.nodes.len()).ok_or(Denied {
                    path: keys::PARTICIPANTS.to_string(),
                    rule: "too many participants",
                })?
            }
            None => {
                return Err(Denied {
                    path: String::new(),
                    rule: "author is not a participant",
                })
            }
        };
        let removed_before = self.removed_before(&change.deps);
        if removed_before
            .as_ref()
            .is_some_and(|set| set.contains(&author_index))
        {
            return Err(Denied {
                path: format!("{}/{author}", keys::PARTICIPANTS),
                rule: "the origin removed this participant: it writes nothing more to the deal",
            });
        }
        let next_actor = u32::try_from(self.actors.len()).unwrap_or(u32::MAX);
        let actor_index = self
            .actors
            .get(&change.actor_id)
            .map_or(next_actor, |&(i, _, _)| i);
        let mut author = Author {
            id: author,
            index: author_index,
            listed: !genesis,
        };
        let start_op = change.start_op.get();
        for (n, op) in change.operations.iter().enumerate() {
            let (class, kind) = self.class_of(&op.obj, &change.actor_id, actor_index, &delta)?;
            check_shape(kind, op)?;
            let id = (start_op + n as u64, actor_index);
            self.check_ids(op, id, &change.actor_id, actor_index, &mut delta)?;
            if class == Class::Step {
                self.step_value(op, &change.actor_id, actor_index, &mut delta)?;
                continue;
            }
            let created =
                self.check_op(genesis, &mut author, class, &op.key, &op.action, &mut delta)?;
            if let (Some(child), OpType::Make(kind)) = (created, &op.action) {
                let object = (start_op + n as u64, actor_index);
                delta.objects.push((object, (child, *kind)));
                if child == Class::Step {
                    delta.steps.push((object, BTreeMap::new()));
                }
            }
        }
        self.check_steps(&author, &delta)?;
        if genesis {
            if delta.origin.as_ref() != Some(author.id) {
                return Err(Denied {
                    path: keys::ORIGIN.to_string(),
                    rule: "the genesis change must name its author as origin",
                });
            }
            if !author.listed {
                return Err(Denied {
                    path: keys::PARTICIPANTS.to_string(),
                    rule: "the origin must be a participant",
                });
            }
        }
        let removed = match (removed_before, delta.removed.is_empty()) {
            (before, true) => before,
            (before, false) => {
                let mut set = before.map(|s| (*s).clone()).unwrap_or_default();
                set.extend(delta.removed.iter().copied());
                Some(Arc::new(set))
            }
        };
        if let Some(set) = removed {
            self.removals.insert(hash, set);
        }
        self.commit(delta);
        let ops = u64::try_from(change.operations.len()).unwrap_or(u64::MAX);
        let max_op = (change.start_op.get() - 1).saturating_add(ops);
        self.max_ops.insert(hash, max_op);
        self.actors
            .insert(change.actor_id.clone(), (actor_index, change.seq, max_op));
        Ok(())
    }

    fn commit(&mut self, delta: Delta) {
        if let Some(origin) = delta.origin {
            self.origin = Some(origin);
        }
        if let Some(kind) = delta.kind {
            self.kind = Some(kind);
        }
        for (id, object) in delta.objects {
            self.objects.insert(id, object);
        }
        for node in delta.participants {
            // Indices were handed out under PARTICIPANTS_MAX, so this never saturates.
            let index = index_u32(self.nodes.len()).unwrap_or(u32::MAX);
            self.by_node.insert(node.clone(), index);
            self.nodes.push((node, ParticipantFacts::default()));
        }
        for (index, role) in delta.roles {
            if let Some((_, facts)) = self.nodes.get_mut(index as usize) {
                facts.role = Some(role);
            }
        }
        for (slot, ids) in delta.slots {
            self.slots.entry(slot).or_default().extend(ids);
        }
    }

    /// An operation id as (counter, actor index), if its actor has a change here (or is the
    /// change's own actor).
    fn index_id(
        &self,
        id: &OpId,
        change_actor: &ActorId,
        change_actor_index: u32,
    ) -> Option<(u64, u32)> {
        if id.1 == *change_actor {
            return Some((id.0, change_actor_index));
        }
        self.actors.get(&id.1).map(|&(index, _, _)| (id.0, index))
    }

    fn holds(&self, slot: &Slot, id: (u64, u32), delta: &Delta) -> bool {
        let has = |slots: &HashMap<Slot, HashSet<(u64, u32)>>| {
            slots.get(slot).is_some_and(|ids| ids.contains(&id))
        };
        has(&self.slots) || has(&delta.slots)
    }

    /// Checks the operation ids `op` names: each predecessor is an operation that put a value
    /// at the same map key, and an insert goes after the head or an element of the same list.
    /// Automerge ignores a predecessor it cannot find there and then rebuilds the change as
    /// other bytes (or panics rebuilding it), and an insert after an element it cannot find
    /// leaves the operation without a position. Records the value `op` puts (operation `id`).
    fn check_ids(
        &self,
        op: &Op,
        id: (u64, u32),
        change_actor: &ActorId,
        change_actor_index: u32,
        delta: &mut Delta,
    ) -> Result<(), Denied> {
        let deny = |rule| {
            Err(Denied {
                path: key_text(&op.key),
                rule,
            })
        };
        let object = match &op.obj {
            ObjectId::Root => None,
            ObjectId::Id(obj) => match self.index_id(obj, change_actor, change_actor_index) {
                Some(obj) => Some(obj),
                None => return deny("the change writes to an object this document does not have"),
            },
        };
        let slot = Slot {
            object,
            key: map_key(&op.key).map(str::to_string),
        };
        let named = |target: &OpId| self.index_id(target, change_actor, change_actor_index);
        match &op.key {
            Key::Map(_) => {
                // Automerge keeps a delete only as its predecessors' successor: one that names
                // none leaves no operation, and the change no longer rebuilds (MissingOps).
                if matches!(op.action, OpType::Delete) && op.pred.is_empty() {
                    return deny("a delete must name the value it deletes");
                }
                for pred in op.pred.iter() {
                    if !named(pred).is_some_and(|pred| self.holds(&slot, pred, delta)) {
                        return deny("a predecessor must be a value at the same key");
                    }
                }
                if !matches!(op.action, OpType::Delete) {
                    delta.slots.entry(slot).or_default().insert(id);
                }
            }
            Key::Seq(after) => {
                if let ElementId::Id(after) = after {
                    if !named(after).is_some_and(|after| self.holds(&slot, after, delta)) {
                        return deny("an insert goes after an element of the same list");
                    }
                }
                delta.slots.entry(slot).or_default().insert(id);
            }
        }
        Ok(())
    }

    /// The participant with `index`, recorded or about to be added by `delta`.
    fn node<'a>(&'a self, index: u32, delta: &'a Delta) -> Option<&'a NodeId> {
        let index = index as usize;
        match self.nodes.get(index) {
            Some((node, _)) => Some(node),
            None => delta.participants.get(index.checked_sub(self.nodes.len())?),
        }
    }

    /// The participant with `index` as path text (`?` if there is none, which the indices the
    /// table hands out rule out).
    fn node_text<'a>(&'a self, index: u32, delta: &'a Delta) -> &'a str {
        self.node(index, delta).map_or("?", NodeId::as_str)
    }

    fn index_of(&self, node: &NodeId, delta: &Delta) -> Option<u32> {
        if let Some(&i) = self.by_node.get(node) {
            return Some(i);
        }
        let offset = delta.participants.iter().position(|n| n == node)?;
        index_u32(self.nodes.len() + offset)
    }

    fn class_of(
        &self,
        obj: &ObjectId,
        change_actor: &ActorId,
        change_actor_index: u32,
        delta: &Delta,
    ) -> Result<(Class, ObjType), Denied> {
        let unknown = Denied {
            path: String::new(),
            rule: "the change writes to an object this document does not have",
        };
        let op = match obj {
            ObjectId::Root => return Ok((Class::Root, ObjType::Map)),
            ObjectId::Id(op) => op,
        };
        let actor_index = if op.1 == *change_actor {
            change_actor_index
        } else {
            self.actors.get(&op.1).ok_or(unknown.clone())?.0
        };
        let key = (op.0, actor_index);
        if let Some(object) = self.objects.get(&key) {
            return Ok(*object);
        }
        delta
            .objects
            .iter()
            .rev()
            .find(|(id, _)| *id == key)
            .map(|(_, object)| *object)
            .ok_or(unknown)
    }

    /// Records a value `op` puts into a step: only into a step this same change creates, and
    /// only plain values (a step is immutable once its change is accepted).
    fn step_value(
        &self,
        op: &Op,
        change_actor: &ActorId,
        change_actor_index: u32,
        delta: &mut Delta,
    ) -> Result<(), Denied> {
        let path = || format!("{}/{}", kind::STEPS_KEY, key_text(&op.key));
        let step = match &op.obj {
            ObjectId::Id(obj) => self.index_id(obj, change_actor, change_actor_index),
            ObjectId::Root => None,
        };
        let Some(index) = step.and_then(|id| delta.steps.iter().position(|(s, _)| *s == id)) else {
            return Err(Denied {
                path: path(),
                rule: "a step is written whole by the change that creates it",
            });
        };
        match (&op.action, map_key(&op.key)) {
            (OpType::Put(value), Some(name)) => {
                delta.steps[index].1.insert(name.to_string(), value.clone());
                Ok(())
            }
            _ => Err(Denied {
                path: path(),
                rule: "a step holds plain values",
            }),
        }
    }

    /// Checks every step `delta` creates against the kind's declaration.
    fn check_steps(&self, author: &Author<'_>, delta: &Delta) -> Result<(), Denied> {
        let Some(spec) = self.kind.or(delta.kind) else {
            return Ok(());
        };
        let is_origin = self.is_origin(author, delta);
        let is_vendor = self.role_known(author.index, delta) == Some(Role::Vendor);
        for (_, raw) in &delta.steps {
            let (transition, from, values) = step_parts(raw, author.id)?;
            spec.check_step_by(
                &transition,
                &from,
                author.id.as_str(),
                is_origin,
                is_vendor,
                &values,
            )
            .map_err(|d| Denied {
                path: format!("{}/{}/{}", kind::STEPS_KEY, transition, d.field),
                rule: d.rule,
            })?;
        }
        Ok(())
    }

    fn role_known(&self, index: u32, delta: &Delta) -> Option<Role> {
        self.nodes
            .get(index as usize)
            .and_then(|(_, facts)| facts.role)
            .or_else(|| {
                delta
                    .roles
                    .iter()
                    .find(|(n, _)| *n == index)
                    .map(|(_, r)| *r)
            })
    }

    fn is_origin(&self, author: &Author<'_>, delta: &Delta) -> bool {
        self.origin.as_ref().or(delta.origin.as_ref()) == Some(author.id)
    }

    /// Checks one operation; returns the class of the object it creates, if it creates one.
    fn check_op(
        &self,
        genesis: bool,
        author: &mut Author<'_>,
        class: Class,
        key: &Key,
        action: &OpType,
        delta: &mut Delta,
    ) -> Result<Option<Class>, Denied> {
        let made = match action {
            OpType::Make(obj_type) => Some(*obj_type),
            _ => None,
        };
        let deny = |path: String, rule: &'static str| Err(Denied { path, rule });
        match class {
            Class::Root => {
                let name = map_key(key).ok_or(Denied {
                    path: "/".into(),
                    rule: "the root is a map",
                })?;
                if !genesis {
                    return deny(
                        name.to_string(),
                        "top-level keys are fixed by the genesis change",
                    );
                }
                let child = match (name, made) {
                    (keys::ORIGIN, None) => {
                        let Some(origin) = put_str(action).and_then(|s| NodeId::parse(s).ok())
                        else {
                            return deny(name.into(), "origin must be a node id");
                        };
                        delta.origin = Some(origin);
                        None
                    }
                    (keys::CREATED_AT | keys::SCHEMA, None) => None,
                    (keys::PARTICIPANTS, Some(ObjType::Map)) => Some(Class::Participants),
                    (keys::SHARED, Some(ObjType::Map)) => Some(Class::Origin),
                    (keys::SECTIONS, Some(ObjType::Map)) => {
                        Some(Class::PerNode(Container::Sections))
                    }
                    (keys::REGISTRATION, Some(ObjType::Map)) => Some(Class::Registration),
                    (keys::ATTRIBUTION, Some(ObjType::Map)) => Some(Class::Attribution),
                    (kind::KIND_KEY, None) => {
                        let Some(spec) = put_str(action).and_then(kind::lookup) else {
                            return deny(name.into(), "not a declared kind");
                        };
                        delta.kind = Some(spec);
                        None
                    }
                    (kind::STEPS_KEY, Some(ObjType::List)) => Some(Class::Steps),
                    _ => return deny(name.into(), "not a deal document key"),
                };
                Ok(child)
            }
            Class::Origin => {
                if !self.is_origin(author, delta) {
                    return deny(
                        format!("shared/{}", key_text(key)),
                        "only the origin writes shared fields",
                    );
                }
                Ok(made.map(|_| Class::Origin))
            }
            Class::Participants => {
                let name = map_key(key).unwrap_or("");
                let path = format!("participants/{name}");
                if !self.is_origin(author, delta) {
                    return deny(path, "only the origin changes the participant list");
                }
                let Ok(node) = NodeId::parse(name) else {
                    return deny(path, "participant keys are node ids");
                };
                if made != Some(ObjType::Map) {
                    return deny(path, "participants are added, never removed or replaced");
                }
                // The genesis author already has its index; this is its entry.
                if &node == author.id && !author.listed {
                    author.listed = true;
                    return Ok(Some(Class::Participant(author.index)));
                }
                if self.index_of(&node, delta).is_some() {
                    return deny(path, "participants are added, never removed or replaced");
                }
                if self.nodes.len() + delta.participants.len() >= PARTICIPANTS_MAX {
                    return deny(path, "too many participants");
                }
                let Some(index) = index_u32(self.nodes.len() + delta.participants.len()) else {
                    return deny(path, "too many participants");
                };
                delta.participants.push(node);
                Ok(Some(Class::Participant(index)))
            }
            Class::Participant(node) => {
                let name = map_key(key).unwrap_or("");
                let path = || format!("participants/{}/{name}", self.node_text(node, delta));
                let by_origin = self.is_origin(author, delta);
                match name {
                    keys::NAME if by_origin && made.is_none() => Ok(None),
                    keys::ROLE if by_origin => {
                        let role = put_str(action).and_then(|s| Role::parse(s).ok());
                        match role {
                            Some(role) if self.role_known(node, delta).is_none() => {
                                delta.roles.push((node, role));
                                Ok(None)
                            }
                            Some(_) => deny(path(), "a participant's role is set once"),
                            None => deny(path(), "not a role"),
                        }
                    }
                    keys::STATUS => {
                        let status = put_str(action).and_then(|s| ParticipantStatus::parse(s).ok());
                        let allowed = match status {
                            Some(ParticipantStatus::Accepted | ParticipantStatus::Declined) => {
                                author.index == node
                            }
                            Some(
                                ParticipantStatus::Invited
                                | ParticipantStatus::Expired
                                | ParticipantStatus::Removed,
                            ) => by_origin,
                            None => false,
                        };
                        if allowed {
                            if status == Some(ParticipantStatus::Removed) {
                                delta.removed.push(node);
                            }
                            Ok(None)
                        } else {
                            deny(path(), "a participant answers its own invitation; the origin invites, expires and removes")
                        }
                    }
                    keys::DECLINE_REASON
                        if author.index == node && made.is_none() && put_str(action).is_some() =>
                    {
                        Ok(None)
                    }
                    keys::DECLINE_REASON => deny(
                        path(),
                        "only a participant writes its own decline reason, as text",
                    ),
                    _ => deny(
                        path(),
                        "only the origin writes a participant's name and role",
                    ),
                }
            }
            Class::PerNode(container) => {
                let name = map_key(key).unwrap_or("");
                let path = || format!("{}/{name}", container.name());
                if name != author.id.as_str() {
                    return deny(path(), "a node writes only its own entry");
                }
                if container == Container::Decisions
                    && self.role_known(author.index, delta) != Some(Role::Vendor)
                {
                    return deny(path(), "only a vendor decides registrations");
                }
                Ok(made.map(|_| Class::Owned(author.index)))
            }
            Class::Owned(owner) => {
                if owner != author.index {
                    let path = format!("{}/…/{}", self.node_text(owner, delta), key_text(key));
                    return deny(path, "a node writes only what it owns");
                }
                Ok(made.map(|_| Class::Owned(owner)))
            }
            Class::Registration => {
                let name = map_key(key).unwrap_or("");
                let path = format!("registration/{name}");
                if !genesis {
                    return deny(path, "registration slots are fixed by the genesis change");
                }
                match (name, made) {
                    (keys::CLAIMS, Some(ObjType::Map)) => {
                        Ok(Some(Class::PerNode(Container::Claims)))
                    }
                    (keys::DECISIONS, Some(ObjType::Map)) => {
                        Ok(Some(Class::PerNode(Container::Decisions)))
                    }
                    _ => deny(path, "not a registration slot"),
                }
            }
            Class::Steps => {
                if self.kind.or(delta.kind).is_none() {
                    return deny(kind::STEPS_KEY.into(), "steps need a declared kind");
                }
                match made {
                    Some(ObjType::Map) => Ok(Some(Class::Step)),
                    _ => deny(kind::STEPS_KEY.into(), "a step is a map"),
                }
            }
            // Handled by `step_value` before `check_op` is reached.
            Class::Step => deny(kind::STEPS_KEY.into(), "a step holds plain values"),
            Class::Attribution => {
                let name = map_key(key).unwrap_or("");
                let path = format!("attribution/{name}");
                match (name, made) {
                    (keys::PROPOSALS, Some(ObjType::Map)) if genesis => {
                        Ok(Some(Class::PerNode(Container::Proposals)))
                    }
                    (keys::ACCEPTANCES, Some(ObjType::Map)) if genesis => {
                        Ok(Some(Class::PerNode(Container::Acceptances)))
                    }
                    (keys::SOURCED_BY | keys::INFLUENCED_BY, _)
                        if self.is_origin(author, delta) =>
                    {
                        Ok(made.map(|_| Class::Origin))
                    }
                    _ => deny(
                        path,
                        "only the origin records attribution; proposals go in one's own entry",
                    ),
                }
            }
        }
    }
}

/// The author of the change being checked, with its participant index (for the genesis
/// author, the index it is given before the change's operations are read).
struct Author<'a> {
    id: &'a NodeId,
    index: u32,
    /// Whether the participant list has the author: always after the genesis, and in the genesis
    /// once its `participants/<author>` entry is read.
    listed: bool,
}

/// Checks that `op` is one a deal document is made of, on an object of the right kind: maps,
/// lists and plain values (what the typed API writes), map keys on maps, elements on lists.
/// Automerge panics on some other shapes a change can carry (a map key on a list), and text,
/// tables, counters and marks have no place in a deal.
fn check_shape(kind: ObjType, op: &Op) -> Result<(), Denied> {
    let deny = |rule| {
        Err(Denied {
            path: key_text(&op.key),
            rule,
        })
    };
    let allowed = match &op.action {
        OpType::Make(ObjType::Map | ObjType::List) | OpType::Delete => true,
        OpType::Put(v) => !matches!(v, ScalarValue::Counter(_) | ScalarValue::Unknown { .. }),
        _ => false,
    };
    if !allowed {
        return deny("a deal holds maps, lists and plain values only");
    }
    match (kind, &op.key, op.insert, &op.action) {
        (ObjType::Map, Key::Map(_), false, _) => Ok(()),
        // Lists only grow, as the typed API writes them: an element is inserted (a value or an
        // object), never replaced or deleted.
        (ObjType::List, Key::Seq(_), true, OpType::Put(_) | OpType::Make(_))
            if op.pred.is_empty() =>
        {
            Ok(())
        }
        (ObjType::Map, ..) => deny("a map takes keys"),
        _ => deny("a list takes inserted elements only"),
    }
}

/// A step's transition, the state it names and its field values; its `by` must be `author`
/// and its `at` a time.
fn step_parts(
    raw: &BTreeMap<String, ScalarValue>,
    author: &NodeId,
) -> Result<(String, String, BTreeMap<String, StepValue>), Denied> {
    let deny = |key: &str, rule| {
        Err(Denied {
            path: format!("{}/{key}", kind::STEPS_KEY),
            rule,
        })
    };
    let text = |key: &str| match raw.get(key) {
        Some(ScalarValue::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    let Some(transition) = text(kind::STEP_KEY) else {
        return deny(kind::STEP_KEY, "a step names its transition");
    };
    let from = text(kind::FROM_KEY).unwrap_or_default();
    if text(kind::BY_KEY).as_deref() != Some(author.as_str()) {
        return deny(kind::BY_KEY, "a step names its signer as author");
    }
    if !matches!(raw.get(kind::AT_KEY), Some(ScalarValue::Uint(_))) {
        return deny(kind::AT_KEY, "a step carries its time");
    }
    let mut values = BTreeMap::new();
    for (key, value) in raw {
        if [kind::STEP_KEY, kind::FROM_KEY, kind::BY_KEY, kind::AT_KEY].contains(&key.as_str()) {
            continue;
        }
        let value = match value {
            ScalarValue::Str(s) => StepValue::Text(s.to_string()),
            ScalarValue::Bytes(b) => StepValue::Bytes(b.clone()),
            _ => return deny(key, "a step's field is text or bytes"),
        };
        values.insert(key.clone(), value);
    }
    Ok((transition, from, values))
}

/// A participant index, if it fits (participants are bounded far below `u32::MAX`).
fn index_u32(index: usize) -> Option<u32> {
    u32::try_from(index).ok()
}

fn map_key(key: &Key) -> Option<&str> {
    match key {
        Key::Map(name) => Some(name.as_str()),
        Key::Seq(_) => None,
    }
}

fn key_text(key: &Key) -> String {
    match key {
        Key::Map(name) => name.to_string(),
        Key::Seq(_) => "[]".to_string(),
    }
}

fn put_str(action: &OpType) -> Option<&str> {
    match action {
        OpType::Put(ScalarValue::Str(s)) => Some(s.as_str()),
        _ => None,
    }
}
