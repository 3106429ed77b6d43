//! Account mapping by private set intersection: correctness at several sizes and at every pair of
//! levels, leakage (no element in clear, counts are shuffled), and refusal of bad input.
//!
//! Method: two `PsiSession`s run in memory; every message goes through `PsiMessage::encode` and
//! `decode`, and the bytes are kept as the transcript. Sets are random domains with a known
//! overlap, so each outcome is compared with a plaintext intersection.

use std::collections::{HashSet, VecDeque};

use curve25519_dalek::ristretto::RistrettoPoint;
use proptest::prelude::*;
use protocol::psi::wire::PSI_MESSAGE_BYTES_MAX;
use protocol::psi::{
    blind_chunk, padded_len, reblind_chunk, PointBytes, PsiError, PsiLevel, PsiMessage, PsiOutcome,
    PsiSecret, PsiSession, PsiWireError, BUCKET_POINTS_MIN, CHUNK_POINTS_MAX, HASH_DOMAIN,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use sha2::Sha512;

#[test]
fn psi_every_pair_of_levels_runs_at_the_lesser_level() {
    for a_level in PsiLevel::ALL {
        for b_level in PsiLevel::ALL {
            let (a, b) = sets(120, 90, 40, 7);
            let run = run_pair(&a, a_level, &b, b_level, 11);
            let effective = a_level.min(b_level);
            check_outcome(&run.a, &a, &b, effective);
            check_outcome(&run.b, &b, &a, effective);
        }
    }
}

#[test]
fn psi_hidden_on_either_side_sends_nothing_but_the_hello() {
    for (a_level, b_level) in [
        (PsiLevel::Hidden, PsiLevel::Overlaps),
        (PsiLevel::Counts, PsiLevel::Hidden),
        (PsiLevel::Hidden, PsiLevel::Hidden),
    ] {
        let (a, b) = sets(50, 50, 25, 3);
        let run = run_pair(&a, a_level, &b, b_level, 5);
        assert_eq!(run.a_to_b.len(), 1, "a sends only its hello");
        assert_eq!(run.b_to_a.len(), 1, "b sends only its hello");
        assert_eq!(run.a, PsiOutcome::Hidden);
        assert_eq!(run.b, PsiOutcome::Hidden);
    }
}

#[test]
fn psi_overlaps_are_exact_at_several_sizes_and_overlap_fractions() {
    let cases = [
        (0, 0, 0),
        (0, 100, 0),
        (1, 1, 0),
        (1, 1, 1),
        (64, 65, 64),
        (100, 100, 0),
        (100, 100, 50),
        (100, 100, 100),
        (5_000, 5_000, 2_500),
        (5_000, 300, 290),
    ];
    for (n_a, n_b, common) in cases {
        let (a, b) = sets(n_a, n_b, common, n_a as u64 ^ 0x5eed);
        for level in [PsiLevel::Counts, PsiLevel::Overlaps] {
            let run = run_pair(&a, level, &b, level, 1);
            check_outcome(&run.a, &a, &b, level);
            check_outcome(&run.b, &b, &a, level);
        }
    }
}

#[test]
fn psi_lists_of_several_chunks_map_correctly_and_counts_shuffle_across_chunks() {
    // Goal: chunking (sequence numbers, last short chunk, whole-list shuffle at counts) is exact.
    let n = CHUNK_POINTS_MAX + 3_000;
    let (a, b) = sets(n, n, n / 3, 99);
    assert!(
        padded_len(n) > CHUNK_POINTS_MAX,
        "the list spans several chunks"
    );
    let run = run_pair(&a, PsiLevel::Overlaps, &b, PsiLevel::Counts, 2);
    check_outcome(&run.a, &a, &b, PsiLevel::Counts);
    check_outcome(&run.b, &b, &a, PsiLevel::Counts);
    let run = run_pair(&a, PsiLevel::Overlaps, &b, PsiLevel::Overlaps, 3);
    check_outcome(&run.a, &a, &b, PsiLevel::Overlaps);
    check_outcome(&run.b, &b, &a, PsiLevel::Overlaps);
}

#[test]
fn psi_dummy_points_never_match() {
    // Disjoint small lists are mostly dummies (63 of 64 points): nothing may match.
    let (a, b) = sets(1, 1, 0, 4);
    let run = run_pair(&a, PsiLevel::Counts, &b, PsiLevel::Counts, 4);
    assert_eq!(run.a, PsiOutcome::Counts { count: 0 });
    assert_eq!(run.b, PsiOutcome::Counts { count: 0 });
    // Identical lists: exactly the real elements match, no dummy on top.
    let (a, _) = sets(37, 0, 0, 5);
    let run = run_pair(&a, PsiLevel::Counts, &a, PsiLevel::Counts, 6);
    assert_eq!(run.a, PsiOutcome::Counts { count: 37 });
    assert_eq!(run.b, PsiOutcome::Counts { count: 37 });
}

#[test]
fn psi_duplicate_elements_count_once_and_every_copy_is_reported() {
    let a: Vec<Vec<u8>> = ["x.com", "y.com", "x.com", "z.com", "x.com", "y.com"]
        .map(|s| s.as_bytes().to_vec())
        .to_vec();
    let b: Vec<Vec<u8>> = ["x.com", "x.com", "w.com", "y.com"]
        .map(|s| s.as_bytes().to_vec())
        .to_vec();
    let run = run_pair(&a, PsiLevel::Overlaps, &b, PsiLevel::Overlaps, 8);
    assert_eq!(
        run.a,
        PsiOutcome::Overlaps {
            count: 2,
            matched: vec![0, 1, 2, 4, 5]
        }
    );
    assert_eq!(
        run.b,
        PsiOutcome::Overlaps {
            count: 2,
            matched: vec![0, 1, 3]
        }
    );
    let run = run_pair(&a, PsiLevel::Counts, &b, PsiLevel::Counts, 9);
    assert_eq!(run.a, PsiOutcome::Counts { count: 2 });
    assert_eq!(run.b, PsiOutcome::Counts { count: 2 });
}

#[test]
fn psi_set_size_is_revealed_only_as_a_bucket() {
    let (a, b) = sets(100, 1_000, 10, 10);
    let run = run_pair(&a, PsiLevel::Counts, &b, PsiLevel::Counts, 10);
    let sizes: HashSet<u64> = decoded(&run.a_to_b)
        .filter_map(|m| match m {
            PsiMessage::Blinded { set_points, .. } => Some(set_points),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, HashSet::from([padded_len(100) as u64]));
    let points: usize = decoded(&run.a_to_b)
        .map(|m| match m {
            PsiMessage::Blinded { points, .. } => points.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(
        points,
        padded_len(100),
        "a sends exactly its bucket of points"
    );
}

#[test]
fn psi_padded_sizes_are_buckets_of_at_most_one_eighth_overhead() {
    assert_eq!(padded_len(0), BUCKET_POINTS_MIN);
    assert_eq!(padded_len(64), 64);
    assert_eq!(padded_len(65), 72);
    assert_eq!(padded_len(100_000), 106_496);
    assert_eq!(padded_len(1_000_000), 1_048_576);
    for n in (0..5_000).chain([65_535, 65_536, 65_537, 999_999, 1 << 22]) {
        let padded = padded_len(n);
        assert!(padded >= n.max(BUCKET_POINTS_MIN));
        assert!(
            padded == BUCKET_POINTS_MIN || (padded - n) * 8 < n,
            "n {n} → {padded}"
        );
        assert_eq!(padded_len(padded), padded, "a bucket pads to itself");
    }
    let buckets: HashSet<usize> = ((1 << 16) + 1..=1 << 17).map(padded_len).collect();
    assert_eq!(buckets.len(), 8, "8 buckets per doubling");
}

#[test]
fn psi_no_message_carries_an_element_or_its_unblinded_hash() {
    // Goal: canary accounts only on a's side never appear in anything a sends, in clear or as the
    // plain hash H(x). Method: search every encoded message for the canary bytes and H(x).
    let canaries: Vec<Vec<u8>> = (0..20)
        .map(|i| format!("canary-{i}-d41d8cd98f.example").into_bytes())
        .collect();
    let (mut a, b) = sets(300, 300, 150, 12);
    a.extend(canaries.iter().cloned());
    a.shuffle(&mut StdRng::seed_from_u64(1));
    for level in [PsiLevel::Counts, PsiLevel::Overlaps] {
        let run = run_pair(&a, level, &b, level, 13);
        check_outcome(&run.b, &b, &a, level);
        let transcript: Vec<&Vec<u8>> = run.a_to_b.iter().chain(&run.b_to_a).collect();
        for canary in &canaries {
            let hash = RistrettoPoint::hash_from_bytes::<Sha512>(&[HASH_DOMAIN, canary].concat())
                .compress()
                .to_bytes();
            let needles = [canary.as_slice(), &canary[..12], hash.as_slice()];
            for bytes in &transcript {
                for needle in needles {
                    assert!(!contains(bytes, needle), "a message carries a canary");
                }
            }
        }
    }
}

#[test]
fn psi_counts_level_returns_points_shuffled_even_to_a_peer_claiming_overlaps() {
    // Goal: a side enforces its own level whatever the peer claims. Method: an attacker built
    // from the pure chunk functions claims overlaps against a victim at counts, then tries to map
    // the returned points to its own list positions. Control: at overlaps the mapping succeeds.
    let (victim_set, attacker_set) = sets(200, 64, 32, 14);
    let truth: Vec<usize> = matching_positions(&attacker_set, &victim_set);
    let at_counts = attack(&victim_set, PsiLevel::Counts, &attacker_set);
    let at_overlaps = attack(&victim_set, PsiLevel::Overlaps, &attacker_set);
    assert_eq!(at_counts.len(), truth.len(), "the count is still right");
    assert_ne!(at_counts, truth, "positions are shuffled at counts");
    assert_eq!(at_overlaps, truth, "positions map back at overlaps");
}

#[test]
fn psi_the_same_seed_gives_the_same_bytes() {
    let (a, b) = sets(200, 150, 70, 15);
    let first = run_pair(&a, PsiLevel::Counts, &b, PsiLevel::Overlaps, 16);
    let second = run_pair(&a, PsiLevel::Counts, &b, PsiLevel::Overlaps, 16);
    let other = run_pair(&a, PsiLevel::Counts, &b, PsiLevel::Overlaps, 17);
    assert_eq!(first.a_to_b, second.a_to_b);
    assert_eq!(first.b_to_a, second.b_to_a);
    assert_ne!(
        first.a_to_b, other.a_to_b,
        "a fresh seed gives a fresh secret"
    );
}

#[test]
fn psi_blinding_commutes() {
    let (a, _) = sets(10, 0, 0, 18);
    let alice = PsiSecret::from_seed(&[1; 32]);
    let bob = PsiSecret::from_seed(&[2; 32]);
    let ab = reblind_chunk(&bob, &blind_chunk(&alice, &a)).unwrap();
    let ba = reblind_chunk(&alice, &blind_chunk(&bob, &a)).unwrap();
    assert_eq!(ab, ba);
    assert_ne!(blind_chunk(&alice, &a), blind_chunk(&bob, &a));
}

#[test]
fn psi_invalid_points_are_errors_not_panics() {
    let secret = PsiSecret::from_seed(&[3; 32]);
    let good = blind_chunk(&secret, &[b"a.com".to_vec()])[0];
    let mut not_on_curve = good;
    not_on_curve[0] ^= 1;
    for bad in [[0u8; 32], [0xff; 32], not_on_curve] {
        let result = reblind_chunk(&secret, &[good, bad]);
        assert_eq!(result, Err(PsiError::InvalidPoint { index: 1 }));
    }
    // In a session, the bad point surfaces when its job completes.
    let mut session = session(PsiLevel::Counts, 20);
    let _ = session.receive(hello(PsiLevel::Counts)).unwrap();
    let mut points = vec![good; 64];
    points[17] = [0xff; 32];
    let step = session
        .receive(PsiMessage::Blinded {
            seq: 0,
            set_points: 64,
            points,
        })
        .unwrap();
    assert_eq!(
        session.run_inline(step),
        Err(PsiError::InvalidPoint { index: 17 })
    );
}

#[test]
fn psi_out_of_order_and_malformed_chunks_are_refused() {
    let good = blind_chunk(&PsiSecret::from_seed(&[4; 32]), &[b"a.com".to_vec()])[0];
    let blinded = |seq, set_points, n| PsiMessage::Blinded {
        seq,
        set_points,
        points: vec![good; n],
    };

    let mut fresh = session(PsiLevel::Overlaps, 10);
    assert_eq!(
        fresh.receive(blinded(0, 64, 64)).unwrap_err(),
        PsiError::Unexpected("chunk before hello")
    );
    let mut hidden = session(PsiLevel::Hidden, 10);
    let _ = hidden.receive(hello(PsiLevel::Overlaps)).unwrap();
    assert_eq!(
        hidden.receive(blinded(0, 64, 64)).unwrap_err(),
        PsiError::Unexpected("chunk in a hidden run")
    );

    let started = || {
        let mut s = session(PsiLevel::Overlaps, 10);
        let _ = s.receive(hello(PsiLevel::Overlaps)).unwrap();
        s
    };
    let mut s = started();
    assert_eq!(
        s.receive(hello(PsiLevel::Overlaps)).unwrap_err(),
        PsiError::Unexpected("second hello")
    );
    for (message, error) in [
        (blinded(0, 65, 64), PsiError::BadSetSize(65)),
        (blinded(0, 32, 32), PsiError::BadSetSize(32)),
        (blinded(0, u64::MAX, 64), PsiError::BadSetSize(u64::MAX)),
        (blinded(0, 1 << 23, 64), PsiError::BadSetSize(1 << 23)),
        (blinded(1, 64, 64), PsiError::ChunkOutOfRange { seq: 1 }),
        (
            blinded(0, 64, 63),
            PsiError::ChunkLength {
                seq: 0,
                expected: 64,
                got: 63,
            },
        ),
        (
            PsiMessage::Reblinded {
                seq: 0,
                points: vec![good; 64],
            },
            PsiError::Unexpected("reblinded chunk we have not sent"),
        ),
    ] {
        assert_eq!(started().receive(message).unwrap_err(), error);
    }
    let mut s = started();
    let _ = s.receive(blinded(0, 64, 64)).unwrap();
    assert_eq!(
        s.receive(blinded(0, 64, 64)).unwrap_err(),
        PsiError::DuplicateChunk { seq: 0 }
    );
    assert_eq!(
        s.receive(blinded(0, 72, 64)).unwrap_err(),
        PsiError::Unexpected("set size changed between chunks")
    );
}

#[test]
fn psi_a_job_output_is_refused_by_another_session() {
    let mut a = session(PsiLevel::Counts, 10);
    let (elements, _) = sets(10, 0, 0, 24);
    let mut b =
        PsiSession::new(elements, PsiLevel::Counts, &mut StdRng::seed_from_u64(25)).unwrap();
    let step = a.receive(hello(PsiLevel::Counts)).unwrap();
    let output = step.jobs.into_iter().next().unwrap().run();
    assert_eq!(b.complete(output).unwrap_err(), PsiError::ForeignJob);
}

#[test]
fn psi_too_long_elements_are_refused() {
    let elements = vec![b"a.com".to_vec(), vec![b'x'; 257]];
    let error = PsiSession::new(elements, PsiLevel::Counts, &mut StdRng::seed_from_u64(1));
    assert_eq!(error.unwrap_err(), PsiError::ElementTooLong { index: 1 });
}

#[test]
fn psi_wire_messages_round_trip() {
    let point = blind_chunk(&PsiSecret::from_seed(&[5; 32]), &[b"a.com".to_vec()])[0];
    let messages = [
        hello(PsiLevel::Hidden),
        hello(PsiLevel::Counts),
        hello(PsiLevel::Overlaps),
        PsiMessage::Blinded {
            seq: 3,
            set_points: 1 << 20,
            points: vec![point; CHUNK_POINTS_MAX],
        },
        PsiMessage::Reblinded {
            seq: 0,
            points: vec![point; 1],
        },
    ];
    for message in messages {
        let bytes = message.encode();
        assert!(bytes.len() <= PSI_MESSAGE_BYTES_MAX);
        assert_eq!(PsiMessage::decode(&bytes), Ok(message));
    }
}

#[test]
fn psi_wire_refuses_unknown_versions_kinds_and_oversized_chunks() {
    let encode = |value: ciborium::value::Value| {
        let mut out = Vec::new();
        ciborium::into_writer(&value, &mut out).unwrap();
        out
    };
    use ciborium::value::Value::{Array, Bytes, Integer};
    let int = |n: u64| Integer(n.into());
    assert_eq!(
        PsiMessage::decode(&encode(Array(vec![int(2), int(1), int(0)]))),
        Err(PsiWireError::UnknownVersion(2))
    );
    assert_eq!(
        PsiMessage::decode(&encode(Array(vec![int(1), int(9), int(0)]))),
        Err(PsiWireError::UnknownKind(9))
    );
    assert!(PsiMessage::decode(&encode(Array(vec![int(1), int(1), int(3)]))).is_err());
    assert!(PsiMessage::decode(&encode(Array(vec![int(1), int(1), int(0), int(0)]))).is_err());
    let points = |n: usize| Bytes(vec![1; n]);
    assert!(PsiMessage::decode(&encode(Array(vec![int(1), int(3), int(0), points(31)]))).is_err());
    assert!(PsiMessage::decode(&encode(Array(vec![int(1), int(3), int(0), points(0)]))).is_err());
    assert!(PsiMessage::decode(&encode(Array(vec![
        int(1),
        int(3),
        int(1 << 32),
        points(32)
    ])))
    .is_err());
    let over = encode(Array(vec![
        int(1),
        int(3),
        int(0),
        points((CHUNK_POINTS_MAX + 1) * 32),
    ]));
    assert_eq!(PsiMessage::decode(&over), Err(PsiWireError::TooLarge));
}

proptest! {
    #[test]
    fn psi_decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = PsiMessage::decode(&bytes);
    }

    #[test]
    fn psi_decoding_mutated_messages_never_panics(
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let point = [7u8; 32];
        let mut bytes = PsiMessage::Blinded { seq: 1, set_points: 72, points: vec![point; 4] }.encode();
        let i = position.index(bytes.len());
        bytes[i] = byte;
        let _ = PsiMessage::decode(&bytes);
        let _ = PsiMessage::decode(&bytes[..cut.index(bytes.len())]);
    }
}

// ---- helpers ----

/// Both outcomes and every message each side sent, encoded.
struct Run {
    a: PsiOutcome,
    b: PsiOutcome,
    a_to_b: Vec<Vec<u8>>,
    b_to_a: Vec<Vec<u8>>,
}

/// Runs one PSI between `a` and `b` in memory, through the wire encoding.
fn run_pair(a: &[Vec<u8>], a_level: PsiLevel, b: &[Vec<u8>], b_level: PsiLevel, seed: u64) -> Run {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sides = [
        PsiSession::new(a.to_vec(), a_level, &mut rng).unwrap(),
        PsiSession::new(b.to_vec(), b_level, &mut rng).unwrap(),
    ];
    let mut sent: [Vec<Vec<u8>>; 2] = [vec![sides[0].hello().encode()], vec![]];
    sent[1].push(sides[1].hello().encode());
    let mut delivered = [0usize; 2];
    let mut queue: VecDeque<usize> = VecDeque::from([0, 1]);
    // Deliver the oldest undelivered message of each sender in turn until both are quiet.
    while let Some(from) = queue.pop_front() {
        let to = 1 - from;
        let Some(bytes) = sent[from].get(delivered[from]).cloned() else {
            continue;
        };
        delivered[from] += 1;
        let message = PsiMessage::decode(&bytes).unwrap();
        let step = sides[to].receive(message).unwrap();
        for reply in sides[to].run_inline(step).unwrap() {
            sent[to].push(reply.encode());
        }
        queue.extend([from, to]);
    }
    let [a_to_b, b_to_a] = sent;
    let [sa, sb] = sides;
    Run {
        a: sa.outcome().expect("a finished").clone(),
        b: sb.outcome().expect("b finished").clone(),
        a_to_b,
        b_to_a,
    }
}

/// Checks `outcome` against the plaintext intersection of `mine` and `theirs` at `level`.
fn check_outcome(outcome: &PsiOutcome, mine: &[Vec<u8>], theirs: &[Vec<u8>], level: PsiLevel) {
    let theirs: HashSet<&Vec<u8>> = theirs.iter().collect();
    let matched: Vec<usize> = (0..mine.len())
        .filter(|&i| theirs.contains(&mine[i]))
        .collect();
    let count = mine
        .iter()
        .filter(|x| theirs.contains(x))
        .collect::<HashSet<_>>()
        .len();
    let expected = match level {
        PsiLevel::Hidden => PsiOutcome::Hidden,
        PsiLevel::Counts => PsiOutcome::Counts { count },
        PsiLevel::Overlaps => PsiOutcome::Overlaps { count, matched },
    };
    assert_eq!(*outcome, expected);
}

/// Two random lists of distinct domains, of sizes `n_a` and `n_b`, with `common` in both, each
/// in random order.
fn sets(n_a: usize, n_b: usize, common: usize, seed: u64) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let domain = |tag: &str, i: usize| format!("{tag}{seed}-{i}.example.com").into_bytes();
    let mut a: Vec<Vec<u8>> = (0..common).map(|i| domain("both", i)).collect();
    let mut b = a.clone();
    a.extend((common..n_a).map(|i| domain("a", i)));
    b.extend((common..n_b).map(|i| domain("b", i)));
    let mut rng = StdRng::seed_from_u64(seed);
    a.shuffle(&mut rng);
    b.shuffle(&mut rng);
    (a, b)
}

fn session(level: PsiLevel, n: usize) -> PsiSession {
    let (elements, _) = sets(n, 0, 0, 21);
    PsiSession::new(elements, level, &mut StdRng::seed_from_u64(22)).unwrap()
}

fn hello(level: PsiLevel) -> PsiMessage {
    PsiMessage::Hello { level }
}

fn decoded(messages: &[Vec<u8>]) -> impl Iterator<Item = PsiMessage> + '_ {
    messages.iter().map(|m| PsiMessage::decode(m).unwrap())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn matching_positions(mine: &[Vec<u8>], theirs: &[Vec<u8>]) -> Vec<usize> {
    let theirs: HashSet<&Vec<u8>> = theirs.iter().collect();
    (0..mine.len())
        .filter(|&i| theirs.contains(&mine[i]))
        .collect()
}

/// An attacker claiming `Overlaps` sends its 64 elements (a full bucket, no dummies) blinded in
/// its own order, then returns the positions of its list that the victim's reply lets it match.
fn attack(victim_set: &[Vec<u8>], victim_level: PsiLevel, attacker_set: &[Vec<u8>]) -> Vec<usize> {
    assert_eq!(attacker_set.len(), BUCKET_POINTS_MIN);
    let secret = PsiSecret::from_seed(&[9; 32]);
    let mut victim = PsiSession::new(
        victim_set.to_vec(),
        victim_level,
        &mut StdRng::seed_from_u64(23),
    )
    .unwrap();
    let mut replies = Vec::new();
    for message in [
        hello(PsiLevel::Overlaps),
        PsiMessage::Blinded {
            seq: 0,
            set_points: BUCKET_POINTS_MIN as u64,
            points: blind_chunk(&secret, attacker_set),
        },
    ] {
        let step = victim.receive(message).unwrap();
        replies.extend(victim.run_inline(step).unwrap());
    }
    let mut victim_double: HashSet<PointBytes> = HashSet::new();
    let mut returned: Vec<PointBytes> = Vec::new();
    for reply in replies {
        match reply {
            PsiMessage::Blinded { points, .. } => {
                victim_double.extend(reblind_chunk(&secret, &points).unwrap());
            }
            PsiMessage::Reblinded { points, .. } => returned.extend(points),
            PsiMessage::Hello { .. } => unreachable!("the victim's hello is not a reply"),
        }
    }
    (0..returned.len())
        .filter(|&i| victim_double.contains(&returned[i]))
        .collect()
}
