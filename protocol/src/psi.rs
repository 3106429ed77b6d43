//! Account mapping by private set intersection (ARCHITECTURE.md "Account mapping"): two partners learn
//! the size of the overlap of two account lists, or which of their own accounts are in it, and
//! nothing else about the other's list.
//!
//! # Protocol (ECDH PSI over Ristretto255)
//!
//! An element is a normalized domain (the node normalizes with [`crate::records::Domain`]); here
//! it is just bytes. `H(x) = RistrettoPoint::hash_from_bytes::<Sha512>("cosell/psi/v1\0" ‖ x)`.
//! Each side draws a fresh secret scalar per run (`a` for us, `b` for the peer).
//!
//! 1. Both sides send [`PsiMessage::Hello`] with their level. Each computes the effective level
//!    `min(my level, peer level)` ([`PsiLevel::effective`]); at `Hidden` the run ends and nothing
//!    else is sent.
//! 2. Each side deduplicates its elements, pads them with dummy points to a size bucket
//!    ([`padded_len`]), shuffles, blinds (`a·H(x)`, compressed) and streams the list as
//!    [`PsiMessage::Blinded`] chunks.
//! 3. Each side re-blinds every received point (`a·(b·H(y))`), keeps the results as its comparison
//!    set and sends them back as [`PsiMessage::Reblinded`] chunks: at `Overlaps` in the order
//!    received, so the peer can map them to its own elements; at `Counts` shuffled over the whole
//!    list (not per chunk), so the peer learns only how many match.
//! 4. Each side compares the returned `b·a·H(x)` with its comparison set `a·b·H(y)`.
//!
//! # Asymmetric levels
//!
//! The rule: both directions run at `min(my level, peer level)`. Each side enforces the cap for
//! its own data — it returns nothing at `Hidden`, shuffled points at `Counts`, ordered points only
//! at `Overlaps` — so what a side learns is at most what the peer's level allows, whatever that
//! side claims. The `min` with its own level makes mapping reciprocal: a partner that shares only
//! counts does not learn our overlaps either. Policy level `all` maps to [`PsiLevel::Overlaps`]
//! here; the records themselves are shared outside PSI.
//!
//! # Driving a session without threads, or on many
//!
//! The session does no scalar multiplication itself: [`PsiSession::receive`] returns a
//! [`PsiStep`] with messages to send and [`PsiJob`]s (one per chunk). The caller runs each job
//! ([`PsiJob::run`], on any thread) and feeds the [`PsiJobOutput`] back with
//! [`PsiSession::complete`], which returns the next step. [`PsiSession::run_inline`] does this on
//! the current thread. No clock, no I/O; randomness comes in through [`PsiSession::new`].

use std::collections::{HashMap, HashSet};

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha512};

pub mod wire;

pub use wire::{PsiMessage, PsiWireError, PSI_WIRE_VERSION};

/// Domain separation for hashing an element to a point: a point made for another purpose (or
/// another version of this protocol) never equals one made here.
pub const HASH_DOMAIN: &[u8] = b"cosell/psi/v1\0";

/// Most points in one chunk (one [`PsiMessage::Blinded`] or [`PsiMessage::Reblinded`]):
/// 512 KiB of points, far under the 8 MiB wire limit, and small enough that a 100k-element list
/// splits into enough chunks to keep every core busy.
pub const CHUNK_POINTS_MAX: usize = 16_384;

/// Most points in one padded list: 4 Mi points (128 MiB). A partner's account population is at
/// most a few million; the bound caps what a peer can make us store and multiply.
pub const SET_POINTS_MAX: usize = 1 << 22;

/// Longest element. A DNS name is at most 253 bytes.
pub const ELEMENT_BYTES_MAX: usize = 256;

/// Smallest padded list: lists of up to 64 elements all look alike.
pub const BUCKET_POINTS_MIN: usize = 64;

/// Buckets per doubling of the list size: the padded size is the list size rounded up to 4
/// significant bits, so padding costs less than 12.5% more work and the peer learns the size to
/// within 12.5%. (Powers of two would cost up to 100% more scalar multiplications.)
pub const BUCKETS_PER_DOUBLING: usize = 8;

/// A compressed Ristretto point as sent on the wire.
pub type PointBytes = [u8; 32];

/// How much a PSI run reveals. Ordered: `Hidden < Counts < Overlaps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PsiLevel {
    /// Nothing is exchanged after the hello.
    Hidden,
    /// Only the size of the intersection.
    Counts,
    /// Each side learns which of its own elements are in the intersection.
    Overlaps,
}

impl PsiLevel {
    /// Every level, least first.
    pub const ALL: [PsiLevel; 3] = [Self::Hidden, Self::Counts, Self::Overlaps];

    /// The level both directions of a run use: the lesser of the two.
    pub fn effective(self, peer: PsiLevel) -> PsiLevel {
        self.min(peer)
    }
}

/// Why a PSI step failed. Every error ends the run; start a new session to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PsiError {
    #[error("element {index} is longer than {ELEMENT_BYTES_MAX} bytes")]
    ElementTooLong { index: usize },
    #[error("{distinct} distinct elements pad to more than {SET_POINTS_MAX} points")]
    TooManyElements { distinct: usize },
    #[error("point {index} is not a valid ristretto point")]
    InvalidPoint { index: usize },
    #[error("unexpected message: {0}")]
    Unexpected(&'static str),
    #[error("peer set size {0} is not a valid bucket")]
    BadSetSize(u64),
    #[error("chunk {seq} is out of range")]
    ChunkOutOfRange { seq: u32 },
    #[error("chunk {seq} received twice")]
    DuplicateChunk { seq: u32 },
    #[error("chunk {seq} has {got} points, expected {expected}")]
    ChunkLength {
        seq: u32,
        expected: usize,
        got: usize,
    },
    #[error("job output belongs to another session")]
    ForeignJob,
}

/// A secret scalar for one run. Never reuse it across runs (SECURITY.md).
#[derive(Clone)]
pub struct PsiSecret(Scalar);

impl std::fmt::Debug for PsiSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PsiSecret(..)")
    }
}

impl PsiSecret {
    /// A fresh secret from `rng`.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> PsiSecret {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        PsiSecret(Scalar::from_bytes_mod_order_wide(&wide))
    }

    /// A secret derived from a 32-byte seed (tests, benchmarks, reproducible runs).
    pub fn from_seed(seed: &[u8; 32]) -> PsiSecret {
        let wide: [u8; 64] = Sha512::new()
            .chain_update(b"cosell/psi/v1/secret\0")
            .chain_update(seed)
            .finalize()
            .into();
        PsiSecret(Scalar::from_bytes_mod_order_wide(&wide))
    }
}

/// Blinds elements: `secret·H(x)` for each, compressed. Pure; callable on any thread.
pub fn blind_chunk(secret: &PsiSecret, elements: &[Vec<u8>]) -> Vec<PointBytes> {
    elements
        .iter()
        .map(|x| (secret.0 * hash_to_point(x)).compress().to_bytes())
        .collect()
}

/// Re-blinds points received from a peer: `secret·P` for each, compressed. A point that does not
/// decompress, or the identity, is an error. Pure; callable on any thread.
pub fn reblind_chunk(
    secret: &PsiSecret,
    points: &[PointBytes],
) -> Result<Vec<PointBytes>, PsiError> {
    points
        .iter()
        .enumerate()
        .map(|(index, bytes)| reblind_point(secret, bytes).ok_or(PsiError::InvalidPoint { index }))
        .collect()
}

/// The padded size of a list of `n` distinct elements: at least [`BUCKET_POINTS_MIN`], else `n`
/// rounded up to a multiple of `2^(⌊log2 n⌋ - 3)` (8 buckets per doubling).
pub fn padded_len(n: usize) -> usize {
    if n <= BUCKET_POINTS_MIN {
        return BUCKET_POINTS_MIN;
    }
    let exponent = usize::BITS - 1 - n.leading_zeros();
    let step = 1usize << (exponent - BUCKETS_PER_DOUBLING.trailing_zeros());
    n.div_ceil(step) * step
}

/// Number of chunks a list of `points` points is sent in.
pub fn chunk_count(points: usize) -> usize {
    points.div_ceil(CHUNK_POINTS_MAX)
}

/// What a finished run revealed to this side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsiOutcome {
    /// The effective level was `Hidden`: nothing was learned.
    Hidden,
    /// The number of distinct elements in the intersection.
    Counts { count: usize },
    /// The intersection, as indices into the element list given to [`PsiSession::new`] (sorted;
    /// every copy of a duplicated element is listed), and its number of distinct elements.
    Overlaps { count: usize, matched: Vec<usize> },
}

impl PsiOutcome {
    /// The effective level the run used.
    pub fn level(&self) -> PsiLevel {
        match self {
            PsiOutcome::Hidden => PsiLevel::Hidden,
            PsiOutcome::Counts { .. } => PsiLevel::Counts,
            PsiOutcome::Overlaps { .. } => PsiLevel::Overlaps,
        }
    }

    /// The size of the intersection, unless the run was hidden.
    pub fn count(&self) -> Option<usize> {
        match self {
            PsiOutcome::Hidden => None,
            PsiOutcome::Counts { count } | PsiOutcome::Overlaps { count, .. } => Some(*count),
        }
    }
}

/// What to do next: messages to send to the peer (in order) and jobs to run.
#[derive(Debug, Default)]
#[must_use]
pub struct PsiStep {
    /// Messages for the peer, in order.
    pub send: Vec<PsiMessage>,
    /// Scalar-multiplication work; run each with [`PsiJob::run`] and give the output to
    /// [`PsiSession::complete`].
    pub jobs: Vec<PsiJob>,
}

impl PsiStep {
    fn merge(&mut self, other: PsiStep) {
        self.send.extend(other.send);
        self.jobs.extend(other.jobs);
    }
}

/// One chunk's scalar multiplications. `Send`: run it on any thread.
pub struct PsiJob {
    run: u64,
    secret: PsiSecret,
    work: Work,
}

enum Work {
    Blind { seq: u32, items: Vec<Item> },
    Reblind { seq: u32, points: Vec<PointBytes> },
}

/// One slot of our padded list, as handed to a blind job.
enum Item {
    Element(Vec<u8>),
    Dummy([u8; 64]),
}

impl std::fmt::Debug for PsiJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, seq, points) = match &self.work {
            Work::Blind { seq, items } => ("blind", seq, items.len()),
            Work::Reblind { seq, points } => ("reblind", seq, points.len()),
        };
        write!(f, "PsiJob({kind} chunk {seq}, {points} points)")
    }
}

impl PsiJob {
    /// Number of scalar multiplications in the job (for scheduling).
    pub fn points(&self) -> usize {
        match &self.work {
            Work::Blind { items, .. } => items.len(),
            Work::Reblind { points, .. } => points.len(),
        }
    }

    /// Does the multiplications. Pure and single-threaded.
    pub fn run(self) -> PsiJobOutput {
        let result = match self.work {
            Work::Blind { seq, items } => JobResult::Blinded {
                seq,
                points: items
                    .iter()
                    .map(|item| match item {
                        Item::Element(x) => (self.secret.0 * hash_to_point(x)).compress(),
                        Item::Dummy(seed) => RistrettoPoint::from_uniform_bytes(seed).compress(),
                    })
                    .map(|p| p.to_bytes())
                    .collect(),
            },
            Work::Reblind { seq, points } => JobResult::Reblinded {
                seq,
                points: reblind_chunk(&self.secret, &points),
            },
        };
        PsiJobOutput {
            run: self.run,
            result,
        }
    }
}

/// The result of [`PsiJob::run`], for [`PsiSession::complete`].
pub struct PsiJobOutput {
    run: u64,
    result: JobResult,
}

impl std::fmt::Debug for PsiJobOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.result {
            JobResult::Blinded { seq, .. } => write!(f, "PsiJobOutput(blinded chunk {seq})"),
            JobResult::Reblinded { seq, .. } => write!(f, "PsiJobOutput(reblinded chunk {seq})"),
        }
    }
}

enum JobResult {
    Blinded {
        seq: u32,
        points: Vec<PointBytes>,
    },
    Reblinded {
        seq: u32,
        points: Result<Vec<PointBytes>, PsiError>,
    },
}

/// One side of one PSI run over one pair of populations.
pub struct PsiSession {
    level: PsiLevel,
    secret: PsiSecret,
    /// Tags this session's jobs so an output cannot be fed to another session.
    run: u64,
    /// Randomness for dummies and shuffles, seeded from the caller's rng in `new`.
    stream: SeedStream,
    /// Our distinct elements, in order of first appearance in the caller's list.
    distinct: Vec<Vec<u8>>,
    /// For each element of the caller's list, its index in `distinct`.
    input_to_distinct: Vec<u32>,
    /// Our padded list in sent order: an index into `distinct`, or [`DUMMY`].
    slots: Vec<u32>,
    /// Effective level, once the peer's hello arrived.
    effective: Option<PsiLevel>,
    /// Which of our chunks have been blinded and sent.
    blinded_sent: Vec<bool>,
    /// The peer's padded list size, from its first chunk.
    peer_points: Option<usize>,
    /// Which of the peer's chunks arrived (and were handed out as re-blind jobs).
    peer_received: Vec<bool>,
    /// Our re-blinding of the peer's chunks: the comparison set, in the peer's order.
    theirs_double: Vec<Option<Vec<PointBytes>>>,
    /// The peer's re-blinding of our chunks, in our sent order (or shuffled at `Counts`).
    mine_double: Vec<Option<Vec<PointBytes>>>,
    outcome: Option<PsiOutcome>,
}

const DUMMY: u32 = u32::MAX;

impl std::fmt::Debug for PsiSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PsiSession")
            .field("level", &self.level)
            .field("points", &self.slots.len())
            .field("effective", &self.effective)
            .field("peer_points", &self.peer_points)
            .field("finished", &self.outcome.is_some())
            .finish_non_exhaustive()
    }
}

impl PsiSession {
    /// A session over `elements` at `level`. Duplicates are allowed (compared once, reported for
    /// every copy). Draws the secret and a seed for dummies and shuffles from `rng`; the padded
    /// list is laid out now, its multiplications happen in jobs once the peer's hello arrives.
    pub fn new<R: RngCore + CryptoRng>(
        elements: Vec<Vec<u8>>,
        level: PsiLevel,
        rng: &mut R,
    ) -> Result<PsiSession, PsiError> {
        if let Some(index) = elements.iter().position(|e| e.len() > ELEMENT_BYTES_MAX) {
            return Err(PsiError::ElementTooLong { index });
        }
        let secret = PsiSecret::random(rng);
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut stream = SeedStream::new(seed);
        let run = stream.next_u64();

        let mut index: HashMap<Vec<u8>, u32> = HashMap::with_capacity(elements.len());
        let mut distinct = Vec::new();
        let mut input_to_distinct = Vec::with_capacity(elements.len());
        for element in elements {
            let next = distinct.len() as u32;
            let d = *index.entry(element).or_insert_with_key(|e| {
                distinct.push(e.clone());
                next
            });
            input_to_distinct.push(d);
        }
        let points = padded_len(distinct.len());
        if points > SET_POINTS_MAX {
            return Err(PsiError::TooManyElements {
                distinct: distinct.len(),
            });
        }
        let mut slots: Vec<u32> = (0..distinct.len() as u32).collect();
        slots.resize(points, DUMMY);
        shuffle(&mut stream, &mut slots);
        Ok(PsiSession {
            level,
            secret,
            run,
            stream,
            distinct,
            input_to_distinct,
            slots,
            effective: None,
            blinded_sent: vec![false; chunk_count(points)],
            peer_points: None,
            peer_received: Vec::new(),
            theirs_double: Vec::new(),
            mine_double: vec![None; chunk_count(points)],
            outcome: None,
        })
    }

    /// The first message: our level. Send it before anything else.
    pub fn hello(&self) -> PsiMessage {
        PsiMessage::Hello { level: self.level }
    }

    /// Our padded list size (what the peer learns about our list size).
    pub fn set_points(&self) -> usize {
        self.slots.len()
    }

    /// The peer's padded list size, once its first chunk arrived.
    pub fn peer_set_points(&self) -> Option<usize> {
        self.peer_points
    }

    /// The effective level, once the peer's hello arrived.
    pub fn effective_level(&self) -> Option<PsiLevel> {
        self.effective
    }

    /// What the run revealed, once it is finished.
    pub fn outcome(&self) -> Option<&PsiOutcome> {
        self.outcome.as_ref()
    }

    /// Handles a message from the peer.
    pub fn receive(&mut self, message: PsiMessage) -> Result<PsiStep, PsiError> {
        match message {
            PsiMessage::Hello { level } => self.receive_hello(level),
            PsiMessage::Blinded {
                seq,
                set_points,
                points,
            } => self.receive_blinded(seq, set_points, points),
            PsiMessage::Reblinded { seq, points } => self.receive_reblinded(seq, points),
        }
    }

    /// Takes the output of one of this session's jobs.
    pub fn complete(&mut self, output: PsiJobOutput) -> Result<PsiStep, PsiError> {
        if output.run != self.run {
            return Err(PsiError::ForeignJob);
        }
        match output.result {
            JobResult::Blinded { seq, points } => {
                let done = &mut self.blinded_sent[seq as usize];
                assert!(!*done, "a blind job runs once");
                *done = true;
                Ok(PsiStep {
                    send: vec![PsiMessage::Blinded {
                        seq,
                        set_points: self.slots.len() as u64,
                        points,
                    }],
                    jobs: Vec::new(),
                })
            }
            JobResult::Reblinded { seq, points } => self.complete_reblind(seq, points?),
        }
    }

    /// Runs `step`'s jobs, and those they lead to, on this thread; returns every message to send.
    pub fn run_inline(&mut self, step: PsiStep) -> Result<Vec<PsiMessage>, PsiError> {
        let mut send = step.send;
        let mut jobs = step.jobs;
        while let Some(job) = jobs.pop() {
            let next = self.complete(job.run())?;
            send.extend(next.send);
            jobs.extend(next.jobs);
        }
        Ok(send)
    }

    fn receive_hello(&mut self, peer: PsiLevel) -> Result<PsiStep, PsiError> {
        if self.effective.is_some() {
            return Err(PsiError::Unexpected("second hello"));
        }
        let effective = self.level.effective(peer);
        self.effective = Some(effective);
        if effective == PsiLevel::Hidden {
            self.outcome = Some(PsiOutcome::Hidden);
            return Ok(PsiStep::default());
        }
        let mut jobs = Vec::with_capacity(chunk_count(self.slots.len()));
        for (seq, start) in (0..self.slots.len()).step_by(CHUNK_POINTS_MAX).enumerate() {
            let end = (start + CHUNK_POINTS_MAX).min(self.slots.len());
            let items = (start..end).map(|i| self.item(self.slots[i])).collect();
            jobs.push(PsiJob {
                run: self.run,
                secret: self.secret.clone(),
                work: Work::Blind {
                    seq: seq as u32,
                    items,
                },
            });
        }
        Ok(PsiStep {
            send: Vec::new(),
            jobs,
        })
    }

    fn item(&mut self, slot: u32) -> Item {
        if slot == DUMMY {
            let mut seed = [0u8; 64];
            self.stream.fill_bytes(&mut seed);
            Item::Dummy(seed)
        } else {
            Item::Element(self.distinct[slot as usize].clone())
        }
    }

    fn running(&self) -> Result<PsiLevel, PsiError> {
        match self.effective {
            None => Err(PsiError::Unexpected("chunk before hello")),
            Some(PsiLevel::Hidden) => Err(PsiError::Unexpected("chunk in a hidden run")),
            Some(_) if self.outcome.is_some() => Err(PsiError::Unexpected("chunk after the end")),
            Some(level) => Ok(level),
        }
    }

    fn receive_blinded(
        &mut self,
        seq: u32,
        set_points: u64,
        points: Vec<PointBytes>,
    ) -> Result<PsiStep, PsiError> {
        self.running()?;
        let total = match self.peer_points {
            Some(total) if total as u64 == set_points => total,
            Some(_) => return Err(PsiError::Unexpected("set size changed between chunks")),
            None => {
                let total = usize::try_from(set_points)
                    .ok()
                    .filter(|&n| n <= SET_POINTS_MAX && padded_len(n) == n)
                    .ok_or(PsiError::BadSetSize(set_points))?;
                self.peer_points = Some(total);
                self.peer_received = vec![false; chunk_count(total)];
                self.theirs_double = vec![None; chunk_count(total)];
                total
            }
        };
        check_chunk(total, seq, points.len())?;
        let received = &mut self.peer_received[seq as usize];
        if *received {
            return Err(PsiError::DuplicateChunk { seq });
        }
        *received = true;
        Ok(PsiStep {
            send: Vec::new(),
            jobs: vec![PsiJob {
                run: self.run,
                secret: self.secret.clone(),
                work: Work::Reblind { seq, points },
            }],
        })
    }

    fn complete_reblind(&mut self, seq: u32, points: Vec<PointBytes>) -> Result<PsiStep, PsiError> {
        let level = self.running()?;
        let slot = &mut self.theirs_double[seq as usize];
        assert!(slot.is_none(), "a reblind job runs once");
        let mut step = PsiStep::default();
        if level == PsiLevel::Overlaps {
            step.send.push(PsiMessage::Reblinded {
                seq,
                points: points.clone(),
            });
        }
        *slot = Some(points);
        let all_done = self.theirs_double.iter().all(Option::is_some);
        if level == PsiLevel::Counts && all_done {
            step.merge(self.send_shuffled());
        }
        self.finish_if_done();
        Ok(step)
    }

    /// At `Counts`: the whole re-blinded list, shuffled across chunks, in the peer's chunk sizes.
    fn send_shuffled(&mut self) -> PsiStep {
        let mut all: Vec<PointBytes> = self
            .theirs_double
            .iter()
            .flatten()
            .flatten()
            .copied()
            .collect();
        shuffle(&mut self.stream, &mut all);
        PsiStep {
            send: all
                .chunks(CHUNK_POINTS_MAX)
                .enumerate()
                .map(|(seq, chunk)| PsiMessage::Reblinded {
                    seq: seq as u32,
                    points: chunk.to_vec(),
                })
                .collect(),
            jobs: Vec::new(),
        }
    }

    fn receive_reblinded(
        &mut self,
        seq: u32,
        points: Vec<PointBytes>,
    ) -> Result<PsiStep, PsiError> {
        self.running()?;
        check_chunk(self.slots.len(), seq, points.len())?;
        if !self.blinded_sent[seq as usize] {
            return Err(PsiError::Unexpected("reblinded chunk we have not sent"));
        }
        let slot = &mut self.mine_double[seq as usize];
        if slot.is_some() {
            return Err(PsiError::DuplicateChunk { seq });
        }
        *slot = Some(points);
        self.finish_if_done();
        Ok(PsiStep::default())
    }

    fn finish_if_done(&mut self) {
        let Some(level) = self.effective else { return };
        let done = self.peer_points.is_some()
            && self.theirs_double.iter().all(Option::is_some)
            && self.mine_double.iter().all(Option::is_some);
        if !done || self.outcome.is_some() {
            return;
        }
        let theirs: HashSet<PointBytes> = std::mem::take(&mut self.theirs_double)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        let mine: Vec<PointBytes> = std::mem::take(&mut self.mine_double)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        assert_eq!(mine.len(), self.slots.len());
        self.outcome = Some(match level {
            PsiLevel::Hidden => unreachable!("a hidden run has no chunks"),
            PsiLevel::Counts => PsiOutcome::Counts {
                count: mine.iter().filter(|p| theirs.contains(*p)).count(),
            },
            PsiLevel::Overlaps => {
                let mut is_match = vec![false; self.distinct.len()];
                for (slot, point) in self.slots.iter().zip(&mine) {
                    if *slot != DUMMY && theirs.contains(point) {
                        is_match[*slot as usize] = true;
                    }
                }
                let matched = (0..self.input_to_distinct.len())
                    .filter(|&i| is_match[self.input_to_distinct[i] as usize])
                    .collect();
                let count = is_match.iter().filter(|m| **m).count();
                PsiOutcome::Overlaps { count, matched }
            }
        });
    }
}

fn check_chunk(total: usize, seq: u32, len: usize) -> Result<(), PsiError> {
    let start = (seq as usize).saturating_mul(CHUNK_POINTS_MAX);
    if start >= total {
        return Err(PsiError::ChunkOutOfRange { seq });
    }
    let expected = (total - start).min(CHUNK_POINTS_MAX);
    if len != expected {
        return Err(PsiError::ChunkLength {
            seq,
            expected,
            got: len,
        });
    }
    Ok(())
}

fn hash_to_point(element: &[u8]) -> RistrettoPoint {
    RistrettoPoint::from_hash(
        Sha512::new()
            .chain_update(HASH_DOMAIN)
            .chain_update(element),
    )
}

fn reblind_point(secret: &PsiSecret, bytes: &PointBytes) -> Option<PointBytes> {
    if *bytes == [0u8; 32] {
        return None; // The identity: multiplying it reveals nothing and matches nothing.
    }
    let point = CompressedRistretto(*bytes).decompress()?;
    Some((secret.0 * point).compress().to_bytes())
}

/// Fisher–Yates with unbiased sampling.
fn shuffle<T>(rng: &mut SeedStream, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = uniform_below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

fn uniform_below(rng: &mut SeedStream, bound: u64) -> u64 {
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let x = rng.next_u64();
        if x >= threshold {
            return x % bound;
        }
    }
}

/// SHA-512 in counter mode over a 32-byte seed: the session's own randomness after `new`, so
/// later steps need no rng and a seeded session is reproducible.
struct SeedStream {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 64],
    used: usize,
}

impl SeedStream {
    fn new(seed: [u8; 32]) -> SeedStream {
        SeedStream {
            seed,
            counter: 0,
            block: [0; 64],
            used: 64,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let mut written = 0;
        while written < dest.len() {
            if self.used == self.block.len() {
                self.block = Sha512::new()
                    .chain_update(b"cosell/psi/v1/stream\0")
                    .chain_update(self.seed)
                    .chain_update(self.counter.to_le_bytes())
                    .finalize()
                    .into();
                self.counter += 1;
                self.used = 0;
            }
            let n = (dest.len() - written).min(self.block.len() - self.used);
            dest[written..written + n].copy_from_slice(&self.block[self.used..self.used + n]);
            written += n;
            self.used += n;
        }
    }
}
