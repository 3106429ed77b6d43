//! Receiving signed changes: decode, check signature and author, authorize by path, hold changes
//! whose dependencies are missing, and apply the rest in one batch.
//!
//! Signatures: a change hash covers the change's dependencies, so a valid signature on an author's
//! change also vouches for every earlier change of the same author it descends from. Within one
//! batch only each author's *tips* (changes no later change of the same author in the batch
//! descends from) are verified, all of them across all documents in one ed25519 batch
//! verification. If the batch fails, each tip is verified on its own to find the bad ones, and a
//! change whose covering tip is bad is verified on its own. Authorization is still checked change
//! by change.
//!
//! A covered change counts as signed only if its covering tip is *accepted* in the same batch
//! (signature and authorization): otherwise the stored envelope would carry a signature nobody
//! checked, and honest nodes it is relayed to would reject it and everything after it. When a
//! covering tip is not accepted, the document's batch is judged again from the same starting
//! state with the changes it covered verified on their own signatures (and, should that still
//! leave one, a third time with every change on its own signature).

use automerge::{Automerge, Change, ChangeHash};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use std::collections::{HashMap, HashSet};

use crate::auth::Denied;
use crate::chunk::declared_size;
use crate::deal::{DealDoc, DealId, VerifiedChange};
use crate::envelope::{signing_message, SignedChange};
use crate::identity::{actor_public_key, NodeId};
use crate::limits::{
    CHANGE_BYTES_MAX, CHANGE_OPS_MAX, CHANGE_PREDS_MAX, PENDING_BYTES_MAX, PENDING_CHANGES_MAX,
};

/// Why a change was not applied. Rejected changes are never applied; the node logs them with the
/// peer they came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// Over a size limit: bytes, or the operations or predecessors a change declares.
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// Not an uncompressed Automerge change chunk.
    #[error("not a valid change: {0}")]
    Malformed(String),
    /// A change feature cosell does not accept (compression, author footers, extra bytes).
    #[error("unsupported change: {0}")]
    Unsupported(&'static str),
    /// The signature does not verify against the author's key.
    #[error("signature does not verify")]
    BadSignature,
    /// The change's actor is not the claimed author's key.
    #[error("the change's actor is not the author's key")]
    ActorMismatch,
    /// The author is not a participant of the deal.
    #[error("the author is not a participant")]
    NotParticipant,
    /// A genesis change of another deal, or a second root.
    #[error("not this deal's genesis change")]
    WrongGenesis,
    /// The author may not touch a path the change touches.
    #[error("not allowed to write {path}: {rule}")]
    Unauthorized { path: String, rule: &'static str },
    /// The change's operation counters do not follow its causal past: its first operation must
    /// come after every operation of its dependencies (Automerge's Lamport clock) and after its
    /// actor's previous change, each predecessor or insert position before the operation naming
    /// it. Automerge applies such a change but cannot list the document's changes afterwards.
    #[error("operation counters out of causal order: {0}")]
    OutOfOrder(String),
    /// The change's sequence number does not follow its actor's previous change.
    #[error("sequence number {found} where {expected} was expected")]
    BadSequence { expected: u64, found: u64 },
    /// A dependency of the change was rejected.
    #[error("depends on a rejected change")]
    DependsOnRejected,
    /// The pending queue for missing dependencies is full.
    #[error("too many changes waiting for their dependencies")]
    PendingFull,
    /// The peer's sync message could not be read.
    #[error("bad sync message: {0}")]
    Sync(String),
    /// Automerge refused a change that passed every check (an internal error).
    #[error("document refused the change: {0}")]
    Apply(String),
}

/// One rejected change (or message) with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The change hash, when the bytes parsed far enough to have one.
    pub hash: Option<ChangeHash>,
    /// The claimed author, when known.
    pub author: Option<NodeId>,
    pub reason: RejectReason,
}

/// The outcome of receiving changes: partial success is explicit.
#[derive(Debug, Default)]
pub struct Ingested {
    /// Changes now in the document, to persist (in causal order).
    pub applied: Vec<VerifiedChange>,
    /// Changes refused, with reasons.
    pub rejected: Vec<Rejected>,
    /// Changes already in the document or already waiting (replays are not errors).
    pub duplicates: usize,
}

/// Changes waiting for their dependencies, bounded by count and bytes. Each passed every check
/// that needs no dependency; `own_signature` says whether its own signature was verified (a
/// change that was only covered by a later change waits unverified and is judged again, like any
/// received change, when its dependencies arrive).
#[derive(Debug, Default, Clone)]
pub(crate) struct Pending {
    changes: HashMap<ChangeHash, Waiting>,
    bytes: usize,
}

#[derive(Debug, Clone)]
struct Waiting {
    change: Change,
    envelope: SignedChange,
    own_signature: bool,
}

impl Pending {
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Dependencies of waiting changes that are neither in the document nor waiting themselves:
    /// what to ask peers for.
    pub fn missing_deps(&self, has_change: impl Fn(&ChangeHash) -> bool) -> Vec<ChangeHash> {
        let mut missing: Vec<ChangeHash> = self
            .changes
            .values()
            .flat_map(|waiting| waiting.change.deps().iter().copied())
            .filter(|dep| !self.changes.contains_key(dep) && !has_change(dep))
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    fn contains(&self, hash: &ChangeHash) -> bool {
        self.changes.contains_key(hash)
    }

    /// Whether a change of `bytes` fits once `more` changes of `more_bytes` were added.
    fn has_room(&self, more: usize, more_bytes: usize, bytes: usize) -> bool {
        self.changes.len() + more < PENDING_CHANGES_MAX
            && self.bytes + more_bytes + bytes <= PENDING_BYTES_MAX
    }

    fn insert(&mut self, change: Change, envelope: SignedChange, own_signature: bool) {
        self.bytes += envelope.change_bytes().len();
        let waiting = Waiting {
            change,
            envelope,
            own_signature,
        };
        self.changes.insert(waiting.change.hash(), waiting);
    }

    fn take_all(&mut self) -> Vec<Waiting> {
        self.bytes = 0;
        self.changes.drain().map(|(_, v)| v).collect()
    }
}

impl DealDoc {
    /// Rebuilds a deal from its stored envelopes (as [`DealDoc::envelopes`] returned them, or
    /// in any order) after a restart. Every envelope is verified again, so storage is not
    /// trusted more than a peer; with one signature per author (tips cover the rest) this costs
    /// about one parse and decode per change. Fails if any envelope is refused or left waiting.
    pub fn restore(id: DealId, envelopes: Vec<SignedChange>) -> Result<DealDoc, Vec<Rejected>> {
        let mut doc = DealDoc::replica(id);
        let outcome = doc.ingest(envelopes);
        if !outcome.rejected.is_empty() {
            return Err(outcome.rejected);
        }
        if doc.pending_len() > 0 {
            return Err(vec![Rejected {
                hash: None,
                author: None,
                reason: RejectReason::Sync("stored changes are missing dependencies".into()),
            }]);
        }
        Ok(doc)
    }

    /// Bytes of the changes waiting for their dependencies.
    pub fn pending_bytes(&self) -> usize {
        self.pending.bytes
    }

    /// Drops the changes waiting for their dependencies (a node over its budget for them; a
    /// peer sends them again once it sees they are missing).
    pub fn drop_pending(&mut self) {
        self.pending.take_all();
    }

    /// Whether the document has this change. Every applied change has its envelope kept, so the
    /// envelope map answers without asking Automerge.
    pub(crate) fn has_change(&self, hash: &ChangeHash) -> bool {
        self.envelopes.contains_key(hash)
    }

    /// Verifies, authorizes and applies `envelopes` received from any peer (the author, or a relay).
    pub fn ingest(&mut self, envelopes: Vec<SignedChange>) -> Ingested {
        ingest_batch(vec![(self, envelopes)])
            .pop()
            .unwrap_or_default()
    }
}

/// A change that parsed and passed the author check, waiting for its signature verdict.
struct Candidate {
    change: Change,
    envelope: SignedChange,
    /// Its own signature was verified before it waited in the pending queue.
    verified: bool,
    /// Index of the same-author tip whose signature covers this change, if not a tip itself.
    covered_by: Option<usize>,
}

/// What a candidate's signature is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signed {
    /// Its own signature verifies.
    Own,
    /// Vouched for by the good signature of candidate `.0`, a later change of the same author
    /// descending from it; it counts only if that candidate is accepted in the same batch.
    CoveredBy(usize),
    /// Its own signature does not verify.
    Bad,
}

/// What the batch does with a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Accept,
    /// Dependencies missing: it waits in the pending queue.
    Wait,
    Reject(RejectReason),
}

/// [`DealDoc::ingest`] for several documents at once: one batch signature verification for all.
pub fn ingest_batch(items: Vec<(&mut DealDoc, Vec<SignedChange>)>) -> Vec<Ingested> {
    let mut docs = Vec::with_capacity(items.len());
    let mut outcomes = Vec::with_capacity(items.len());
    let mut candidates = Vec::with_capacity(items.len());
    for (doc, envelopes) in items {
        let mut outcome = Ingested::default();
        let mut list = parse_candidates(doc, envelopes, &mut outcome);
        list.extend(doc.pending.take_all().into_iter().map(|w| Candidate {
            change: w.change,
            envelope: w.envelope,
            verified: w.own_signature,
            covered_by: None,
        }));
        let order = topo_order(&list);
        plan_signatures(&mut list, &order);
        docs.push(doc);
        outcomes.push(outcome);
        candidates.push((list, order));
    }
    let signed = verify_signatures(&candidates);
    for (((doc, outcome), (list, order)), signed) in docs
        .into_iter()
        .zip(outcomes.iter_mut())
        .zip(candidates)
        .zip(signed)
    {
        apply_candidates(doc, list, &order, signed, outcome);
    }
    outcomes
}

fn reject(outcome: &mut Ingested, hash: Option<ChangeHash>, author: &NodeId, reason: RejectReason) {
    outcome.rejected.push(Rejected {
        hash,
        author: Some(author.clone()),
        reason,
    });
}

/// Parses each envelope's change and checks what needs no signature: size, shape, duplicates and
/// that the actor is the author's key.
fn parse_candidates(
    doc: &DealDoc,
    envelopes: Vec<SignedChange>,
    outcome: &mut Ingested,
) -> Vec<Candidate> {
    let mut seen = HashSet::new();
    let mut list = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        let bytes = envelope.change_bytes();
        let author = envelope.author();
        if bytes.len() > CHANGE_BYTES_MAX {
            reject(outcome, None, author, RejectReason::TooLarge("change"));
            continue;
        }
        // Byte 8 is the chunk type: 1 is an uncompressed change. Compressed chunks are refused
        // so a small envelope cannot inflate into a large change.
        if bytes.get(8) != Some(&1) {
            reject(
                outcome,
                None,
                author,
                RejectReason::Unsupported("not an uncompressed change chunk"),
            );
            continue;
        }
        // Automerge expands every run-length encoded column while parsing, so a change of a
        // hundred bytes could declare 2^60 operations: bound what the chunk declares first.
        let too_large = match declared_size(bytes) {
            Err(why) => {
                reject(
                    outcome,
                    None,
                    author,
                    RejectReason::Malformed(why.to_string()),
                );
                continue;
            }
            Ok(declared) if declared.ops > CHANGE_OPS_MAX as u64 => Some("operations"),
            Ok(declared) if declared.preds > CHANGE_PREDS_MAX as u64 => Some("predecessors"),
            Ok(declared) if !declared.counters_fit() => {
                let why = "operation counter out of range".to_string();
                reject(outcome, None, author, RejectReason::Malformed(why));
                continue;
            }
            Ok(_) => None,
        };
        if let Some(what) = too_large {
            reject(outcome, None, author, RejectReason::TooLarge(what));
            continue;
        }
        let change = match Change::try_from(bytes) {
            Ok(c) => c,
            Err(e) => {
                reject(
                    outcome,
                    None,
                    author,
                    RejectReason::Malformed(e.to_string()),
                );
                continue;
            }
        };
        let hash = change.hash();
        if doc.has_change(&hash) || doc.pending.contains(&hash) || !seen.insert(hash) {
            outcome.duplicates += 1;
            continue;
        }
        if !change.extra_bytes().is_empty() {
            reject(
                outcome,
                Some(hash),
                author,
                RejectReason::Unsupported("extra bytes"),
            );
            continue;
        }
        if change.len() > CHANGE_OPS_MAX {
            reject(
                outcome,
                Some(hash),
                author,
                RejectReason::TooLarge("operations"),
            );
            continue;
        }
        if actor_public_key(change.actor_id()) != Some(author.public_key()) {
            reject(outcome, Some(hash), author, RejectReason::ActorMismatch);
            continue;
        }
        list.push(Candidate {
            change,
            envelope,
            verified: false,
            covered_by: None,
        });
    }
    list
}

/// Candidates in an order where every in-batch dependency comes first.
fn topo_order(list: &[Candidate]) -> Vec<usize> {
    let index: HashMap<ChangeHash, usize> = list
        .iter()
        .enumerate()
        .map(|(i, c)| (c.change.hash(), i))
        .collect();
    let mut waiting = vec![0usize; list.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); list.len()];
    for (i, c) in list.iter().enumerate() {
        for dep in c.change.deps() {
            if let Some(&j) = index.get(dep) {
                waiting[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut order: Vec<usize> = (0..list.len()).filter(|&i| waiting[i] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let i = order[next];
        next += 1;
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                order.push(d);
            }
        }
    }
    // Hashes cannot form cycles, so every candidate is ordered.
    debug_assert_eq!(order.len(), list.len());
    order
}

/// Marks which candidates need their own signature checked: walking from descendants to
/// ancestors, a change is covered when a later change of the same author descends from it (an
/// unverified tip, or a change whose own signature was verified before it waited).
fn plan_signatures(list: &mut [Candidate], order: &[usize]) {
    let index: HashMap<ChangeHash, usize> = list
        .iter()
        .enumerate()
        .map(|(i, c)| (c.change.hash(), i))
        .collect();
    // For each candidate: (author key, covering tip) pairs inherited from its descendants.
    let mut covers: Vec<Vec<([u8; 32], usize)>> = vec![Vec::new(); list.len()];
    for &i in order.iter().rev() {
        let author = list[i].envelope.author().public_key();
        let covered_by = covers[i]
            .iter()
            .find(|(a, _)| *a == author)
            .map(|&(_, tip)| tip);
        let mut inherited = std::mem::take(&mut covers[i]);
        if list[i].verified {
            // A verified signature is the nearest and surest cover for its ancestors.
            inherited.retain(|(a, _)| *a != author);
            inherited.push((author, i));
        } else {
            list[i].covered_by = covered_by;
            if covered_by.is_none() {
                inherited.push((author, i));
            }
        }
        for dep in list[i].change.deps() {
            if let Some(&j) = index.get(dep) {
                for &(a, t) in &inherited {
                    if !covers[j].iter().any(|(b, _)| *b == a) {
                        covers[j].push((a, t));
                    }
                }
            }
        }
    }
}

/// Verifies every tip across all documents in one batch; returns per document, per candidate,
/// what its signature is worth: its own, its covering tip's, or bad.
fn verify_signatures(docs: &[(Vec<Candidate>, Vec<usize>)]) -> Vec<Vec<Signed>> {
    let mut messages = Vec::new();
    let mut signatures = Vec::new();
    let mut keys: Vec<VerifyingKey> = Vec::new();
    let mut positions = Vec::new();
    let mut authors = KeyCache::default();
    for (d, (list, _)) in docs.iter().enumerate() {
        for (i, c) in list.iter().enumerate() {
            if !c.verified && c.covered_by.is_none() {
                // A key that is not a curve point cannot sign: its tips fail below.
                let Some(key) = authors.get(c.envelope.author()) else {
                    continue;
                };
                messages.push(signing_message(&c.change.hash()));
                signatures.push(Signature::from_bytes(c.envelope.signature()));
                keys.push(key);
                positions.push((d, i));
            }
        }
    }
    let mut tip_ok: Vec<Vec<bool>> = docs.iter().map(|(l, _)| vec![false; l.len()]).collect();
    let refs: Vec<&[u8]> = messages.iter().map(|m| m.as_slice()).collect();
    // Nothing to verify (a sync message without changes) costs nothing: a batch verification
    // of no signatures still does a scalar multiplication.
    let all_good =
        !refs.is_empty() && ed25519_dalek::verify_batch(&refs, &signatures, &keys).is_ok();
    for (n, &(d, i)) in positions.iter().enumerate() {
        tip_ok[d][i] = all_good || keys[n].verify(&messages[n], &signatures[n]).is_ok();
    }
    docs.iter()
        .zip(tip_ok)
        .map(|((list, _), tips)| {
            list.iter()
                .enumerate()
                .map(|(i, c)| match (c.verified, c.covered_by) {
                    (true, _) => Signed::Own,
                    (false, None) if tips[i] => Signed::Own,
                    (false, None) => Signed::Bad,
                    (false, Some(tip)) if list[tip].verified || tips[tip] => Signed::CoveredBy(tip),
                    (false, Some(_)) => own_signature(c),
                })
                .collect()
        })
        .collect()
}

/// Verifying keys already decompressed in one batch: a batch names few authors many times, and
/// decompressing a curve point costs about as much as a tenth of a verification.
#[derive(Default)]
struct KeyCache {
    known: Vec<([u8; 32], Option<VerifyingKey>)>,
}

impl KeyCache {
    /// Most distinct authors remembered; beyond that keys are decompressed each time.
    const AUTHORS_MAX: usize = 64;

    fn get(&mut self, author: &NodeId) -> Option<VerifyingKey> {
        let public = author.public_key();
        if let Some((_, key)) = self.known.iter().find(|(p, _)| *p == public) {
            return *key;
        }
        let key = author.verifying_key();
        if self.known.len() < Self::AUTHORS_MAX {
            self.known.push((public, key));
        }
        key
    }
}

/// Verifies one candidate's own signature.
fn own_signature(c: &Candidate) -> Signed {
    let message = signing_message(&c.change.hash());
    let signature = Signature::from_bytes(c.envelope.signature());
    let good = c
        .envelope
        .author()
        .verifying_key()
        .is_some_and(|key| key.verify(&message, &signature).is_ok());
    if good {
        Signed::Own
    } else {
        Signed::Bad
    }
}

/// Authorizes candidates in causal order, queues those with missing dependencies and applies the
/// accepted ones to the document in one batch. A covered candidate counts only if its covering
/// tip is accepted: if one is not, the batch is judged again from the same authorization state
/// with the candidates it covered on their own signatures (at most three rounds: the last has no
/// covered candidate left). The accepted changes are applied to a copy of the document first: a
/// change Automerge would not rebuild as its own bytes is refused, and the batch judged again
/// without it (see [`trial_apply`]).
fn apply_candidates(
    doc: &mut DealDoc,
    list: Vec<Candidate>,
    order: &[usize],
    mut signed: Vec<Signed>,
    outcome: &mut Ingested,
) {
    // Authorization records what it accepts; another round starts from the state before.
    let before = doc.authority.clone();
    let mut round = 0;
    let mut misencoded = vec![false; list.len()];
    let (verdicts, trial) = loop {
        let verdicts = judge(doc, &list, order, &signed, &misencoded);
        let unvouched = |tip: usize| verdicts[tip] != Verdict::Accept;
        let broken = signed.iter().zip(&verdicts).any(|(s, v)| {
            matches!(s, Signed::CoveredBy(tip) if unvouched(*tip)) && *v == Verdict::Accept
        });
        if broken {
            doc.authority = before.clone();
            for (i, s) in signed.iter_mut().enumerate() {
                if let Signed::CoveredBy(tip) = *s {
                    if round > 0 || unvouched(tip) {
                        *s = own_signature(&list[i]);
                    }
                }
            }
            round += 1;
            continue;
        }
        // Each such round refuses at least one more candidate, so the loop ends.
        match trial_apply(doc, &list, order, &verdicts) {
            Trial::Misencoded(bad) => {
                doc.authority = before.clone();
                for i in bad {
                    misencoded[i] = true;
                }
            }
            trial => break (verdicts, trial),
        }
    };
    let failed = match trial {
        Trial::Applied(applied) => {
            doc.doc = *applied;
            None
        }
        Trial::Failed(why) => {
            // Every check Automerge makes on apply (dependencies, sequence numbers, author
            // footers) was made above, so this is a broken invariant of this module, reported
            // rather than panicking on peer input. Nothing was applied.
            doc.authority = before;
            Some(RejectReason::Apply(why))
        }
        Trial::Nothing | Trial::Misencoded(_) => None,
    };
    let mut slots: Vec<Option<Candidate>> = list.into_iter().map(Some).collect();
    for &i in order {
        let Some(c) = slots[i].take() else { continue };
        let hash = c.change.hash();
        match (&verdicts[i], &failed) {
            (Verdict::Accept, None) => {
                doc.envelopes.insert(hash, c.envelope.clone());
                outcome.applied.push(VerifiedChange::new(hash, c.envelope));
            }
            (Verdict::Accept, Some(reason)) | (Verdict::Reject(reason), _) => {
                reject(outcome, Some(hash), c.envelope.author(), reason.clone());
            }
            (Verdict::Wait, _) => {
                let own_signature = signed[i] == Signed::Own;
                doc.pending.insert(c.change, c.envelope, own_signature);
            }
        }
    }
}

/// The hashes Automerge gives the changes it rebuilds from `doc`'s operations: those after
/// `before` (the heads before `hashes` were applied). Release builds take Automerge's change
/// collector, which `get_changes` and sync use. With debug assertions that collector checks
/// itself against a bundle of the same changes and panics when a change rebuilds as other bytes,
/// so debug builds rebuild a bundle of `hashes` instead: the same hashes, at about twice the cost.
fn rebuilt_hashes(
    doc: &Automerge,
    before: &[ChangeHash],
    hashes: &[ChangeHash],
) -> HashSet<ChangeHash> {
    if cfg!(debug_assertions) {
        match doc
            .bundle(hashes.iter().copied())
            .and_then(|b| b.to_changes())
        {
            Ok(changes) => changes.iter().map(Change::hash).collect(),
            // Nothing rebuilt, nothing vouched for.
            Err(_) => HashSet::new(),
        }
    } else {
        doc.get_changes(before).iter().map(Change::hash).collect()
    }
}

/// What applying a batch's accepted changes to a copy of the document gave.
enum Trial {
    /// No change was accepted.
    Nothing,
    /// The document with the changes applied, each rebuilt as its own bytes.
    Applied(Box<Automerge>),
    /// Automerge refused the batch (why).
    Failed(String),
    /// Candidates (by index) that Automerge rebuilds as other bytes.
    Misencoded(Vec<usize>),
}

/// Applies the accepted candidates to a copy of the document and checks that Automerge rebuilds
/// each of them as the bytes that were signed. Automerge keeps operations, not change bytes, and
/// rebuilds a change from them whenever it sends or saves it; it reads changes it cannot rebuild
/// the same (a column with more items than the operations use, a predecessor that is no
/// operation at that key): such a change then has another hash in the document than in the
/// change graph, and Automerge panics on a missing dependency (debug builds) or hands out bytes
/// nobody signed, and a stored deal no longer restores (fuzz/regressions/change/).
fn trial_apply(doc: &DealDoc, list: &[Candidate], order: &[usize], verdicts: &[Verdict]) -> Trial {
    let accepted: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| verdicts[i] == Verdict::Accept)
        .collect();
    if accepted.is_empty() {
        return Trial::Nothing;
    }
    let mut trial = doc.doc.clone();
    let changes = accepted.iter().map(|&i| list[i].change.clone());
    if let Err(e) = trial.apply_changes(changes) {
        return Trial::Failed(e.to_string());
    }
    let hashes: Vec<ChangeHash> = accepted.iter().map(|&i| list[i].change.hash()).collect();
    let rebuilt = rebuilt_hashes(&trial, &doc.doc.get_heads(), &hashes);
    let bad: Vec<usize> = accepted
        .into_iter()
        .filter(|&i| !rebuilt.contains(&list[i].change.hash()))
        .collect();
    if bad.is_empty() {
        Trial::Applied(Box::new(trial))
    } else {
        Trial::Misencoded(bad)
    }
}

/// Decides every candidate in causal order: signature, dependencies, room to wait,
/// authorization. Records accepted changes in the authorization table only; the document, the
/// envelopes and the pending queue are left to the caller.
fn judge(
    doc: &mut DealDoc,
    list: &[Candidate],
    order: &[usize],
    signed: &[Signed],
    misencoded: &[bool],
) -> Vec<Verdict> {
    let mut verdicts = vec![Verdict::Wait; list.len()];
    let mut accepted: HashSet<ChangeHash> = HashSet::new();
    let mut refused: HashSet<ChangeHash> = HashSet::new();
    let (mut waiting, mut waiting_bytes) = (0, 0);
    for &i in order {
        let c = &list[i];
        let hash = c.change.hash();
        let verdict = if signed[i] == Signed::Bad {
            Verdict::Reject(RejectReason::BadSignature)
        } else if misencoded[i] {
            Verdict::Reject(RejectReason::Unsupported(
                "Automerge would rebuild it as other bytes",
            ))
        } else {
            let mut missing = false;
            let mut dep_refused = false;
            for dep in c.change.deps() {
                if refused.contains(dep) {
                    dep_refused = true;
                } else if !accepted.contains(dep) && !doc.has_change(dep) {
                    missing = true;
                }
            }
            let bytes = c.envelope.change_bytes().len();
            if dep_refused {
                Verdict::Reject(RejectReason::DependsOnRejected)
            } else if missing && doc.pending.has_room(waiting, waiting_bytes, bytes) {
                waiting += 1;
                waiting_bytes += bytes;
                Verdict::Wait
            } else if missing {
                Verdict::Reject(RejectReason::PendingFull)
            } else {
                match authorize(doc, &c.change, c.envelope.author()) {
                    Ok(()) => Verdict::Accept,
                    Err(reason) => Verdict::Reject(reason),
                }
            }
        };
        match verdict {
            Verdict::Accept => {
                accepted.insert(hash);
            }
            Verdict::Reject(_) => {
                refused.insert(hash);
            }
            Verdict::Wait => {}
        }
        verdicts[i] = verdict;
    }
    verdicts
}

fn authorize(doc: &mut DealDoc, change: &Change, author: &NodeId) -> Result<(), RejectReason> {
    let genesis = doc.authority.is_genesis_pending();
    let is_root = change.deps().is_empty();
    if genesis != is_root || (genesis && change.hash() != doc.id.0) {
        return Err(RejectReason::WrongGenesis);
    }
    let expected = doc.authority.next_seq(change.actor_id());
    if change.seq() != expected {
        return Err(RejectReason::BadSequence {
            expected,
            found: change.seq(),
        });
    }
    if !genesis && !doc.authority.is_participant(author) {
        return Err(RejectReason::NotParticipant);
    }
    // Automerge's apply looks up every actor a change lists and unwraps; an honest change lists
    // only the actors of operations it names, which have changes in its causal past.
    let listed = change.other_actor_ids().iter();
    if let Some(unknown) = listed
        .filter(|a| *a != change.actor_id())
        .find(|a| !doc.authority.knows_actor(a))
    {
        return Err(RejectReason::Malformed(format!(
            "lists actor {unknown}, which has no change in the deal"
        )));
    }
    let expanded = change.decode();
    doc.authority
        .check_counters(&expanded)
        .map_err(RejectReason::OutOfOrder)?;
    doc.authority
        .authorize(&expanded, change.hash(), author)
        .map_err(|Denied { path, rule }| RejectReason::Unauthorized { path, rule })
}
