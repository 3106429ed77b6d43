//! PSI benchmark: |A| = |B| = N random domains with 50% overlap, both sides in one process.
//!
//! Measures in the same run:
//! (a) the machine's scalar-multiplication limit: `hash_from_bytes + mul + compress` and
//!     `decompress + mul + compress`, on one thread and on all threads at once; the ideal time is
//!     `(|A|+|B|)` hash-mults plus `(|A|+|B|)` re-mults (both sides' work) at the all-thread rate;
//! (b) the full protocol (both sessions, every message encoded and decoded) with its chunk jobs
//!     run on `available_parallelism()` worker threads;
//! (c) a plaintext hash join of the same sets.
//!
//! `cargo run --release -p cosell-protocol --example bench_psi -- [N …] [--counts]`

use std::collections::{HashSet, VecDeque};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use protocol::psi::{
    blind_chunk, chunk_count, padded_len, reblind_chunk, PsiJob, PsiJobOutput, PsiLevel,
    PsiMessage, PsiOutcome, PsiSecret, PsiSession, PsiStep,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Operations per thread when measuring the scalar-multiplication rate.
const RATE_SAMPLE_OPS: usize = 6_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let level = if args.iter().any(|a| a == "--counts") {
        PsiLevel::Counts
    } else {
        PsiLevel::Overlaps
    };
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes.push(100_000);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("threads: {threads}, level: {level:?}");
    for n in sizes {
        bench(n, level, threads);
    }
}

fn bench(n: usize, level: PsiLevel, threads: usize) {
    let (a, b) = sets(n, n / 2);
    println!(
        "\n|A| = |B| = {n}, overlap {} (padded to {})",
        n / 2,
        padded_len(n)
    );

    let before = Rates::measure(threads);
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    let (outcome_a, outcome_b, wire_bytes, messages) = run_protocol(&a, &b, level, threads);
    let protocol_s = start.elapsed().as_secs_f64();
    let protocol_cpu_s = cpu_seconds() - cpu_start;
    let after = Rates::measure(threads);
    assert_eq!(outcome_a.count(), Some(n / 2), "a's count is exact");
    assert_eq!(outcome_b.count(), Some(n / 2), "b's count is exact");

    let start = Instant::now();
    let join: HashSet<&Vec<u8>> = b.iter().collect();
    let common = a.iter().filter(|x| join.contains(x)).count();
    let join_s = start.elapsed().as_secs_f64();
    assert_eq!(common, n / 2);

    let ops = (a.len() + b.len()) as f64;
    for (name, rates) in [("before", &before), ("after", &after)] {
        println!(
            "scalar-mult rate {name}: hash+mul+compress {:.0}/s on 1 thread, {:.0}/s on {threads}; \
             decompress+mul+compress {:.0}/s on 1 thread, {:.0}/s on {threads}",
            rates.hash_one, rates.hash_all, rates.re_one, rates.re_all
        );
    }
    let ideal = |r: &Rates| ops / r.hash_all + ops / r.re_all;
    let ideal_s = (ideal(&before) + ideal(&after)) / 2.0;
    let ideal_per_core_s = (ops / before.hash_one + ops / before.re_one) / threads as f64;
    println!(
        "ideal (all-thread rate, mean of before/after): {ideal_s:.2}s \
         [before {:.2}s, after {:.2}s; single-thread rate x {threads}: {ideal_per_core_s:.2}s]",
        ideal(&before),
        ideal(&after)
    );
    println!(
        "protocol, both sides: {protocol_s:.2}s = {:.2}x the ideal; {messages} messages, {:.1} MB on the wire",
        protocol_s / ideal_s,
        wire_bytes as f64 / 1e6
    );
    let ideal_cpu_s = ops * (before.hash_cpu + before.re_cpu + after.hash_cpu + after.re_cpu) / 2.0;
    println!(
        "cpu time (load-independent): protocol {protocol_cpu_s:.2}s vs ideal {ideal_cpu_s:.2}s \
         ({:.0}/{:.0} µs cpu per hash-mult/re-mult) = {:.2}x",
        (before.hash_cpu + after.hash_cpu) / 2.0 * 1e6,
        (before.re_cpu + after.re_cpu) / 2.0 * 1e6,
        protocol_cpu_s / ideal_cpu_s
    );
    println!(
        "plaintext hash join: {:.1} ms (protocol is {:.0}x slower)",
        join_s * 1e3,
        protocol_s / join_s
    );
}

/// Scalar-multiplication rates (operations per second).
struct Rates {
    hash_one: f64,
    hash_all: f64,
    re_one: f64,
    re_all: f64,
    /// Process cpu seconds per operation, single thread.
    hash_cpu: f64,
    re_cpu: f64,
}

impl Rates {
    fn measure(threads: usize) -> Rates {
        let (elements, _) = sets(RATE_SAMPLE_OPS, 0);
        let secret = PsiSecret::from_seed(&[7; 32]);
        let points = blind_chunk(&secret, &elements);
        let hash = || {
            std::hint::black_box(blind_chunk(&secret, &elements));
        };
        let re = || {
            std::hint::black_box(reblind_chunk(&secret, &points).unwrap());
        };
        let ops = RATE_SAMPLE_OPS as f64;
        let cpu = |work: &dyn Fn()| {
            let start = cpu_seconds();
            work();
            (cpu_seconds() - start) / ops
        };
        Rates {
            hash_cpu: cpu(&hash),
            re_cpu: cpu(&re),
            hash_one: ops / time(1, hash),
            hash_all: ops * threads as f64 / time(threads, hash),
            re_one: ops / time(1, re),
            re_all: ops * threads as f64 / time(threads, re),
        }
    }
}

/// User plus system cpu seconds of this process so far (Linux `/proc/self/stat`, 100 ticks/s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of the file (utime, stime) are the 12th and 13th after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Wall time of running `work` once on each of `threads` threads at the same time.
fn time(threads: usize, work: impl Fn() + Sync) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(&work);
        }
    });
    start.elapsed().as_secs_f64()
}

/// Runs both sides; returns both outcomes, the bytes and number of messages exchanged.
fn run_protocol(
    a: &[Vec<u8>],
    b: &[Vec<u8>],
    level: PsiLevel,
    threads: usize,
) -> (PsiOutcome, PsiOutcome, usize, usize) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut sides = [
        PsiSession::new(a.to_vec(), level, &mut rng).unwrap(),
        PsiSession::new(b.to_vec(), level, &mut rng).unwrap(),
    ];
    // Every job of the run fits in the queues: per side, one blind and one reblind job per chunk.
    let capacity = 2 * (chunk_count(sides[0].set_points()) + chunk_count(sides[1].set_points()));
    let (job_tx, job_rx) = sync_channel::<(usize, PsiJob)>(capacity);
    let (out_tx, out_rx) = sync_channel::<(usize, PsiJobOutput)>(capacity);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let mut wire_bytes = 0;
    let mut messages = 0;
    std::thread::scope(|s| {
        for _ in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let out_tx = out_tx.clone();
            s.spawn(move || worker(&job_rx, &out_tx));
        }
        drop(out_tx);
        let mut in_flight = 0usize;
        let mut inbox: VecDeque<(usize, Vec<u8>)> = VecDeque::new();
        for (side, session) in sides.iter().enumerate() {
            inbox.push_back((1 - side, session.hello().encode()));
        }
        loop {
            while let Some((to, bytes)) = inbox.pop_front() {
                wire_bytes += bytes.len();
                messages += 1;
                let step = sides[to]
                    .receive(PsiMessage::decode(&bytes).unwrap())
                    .unwrap();
                in_flight += dispatch(to, step, &job_tx, &mut inbox);
            }
            if in_flight == 0 {
                break;
            }
            let (side, output) = out_rx.recv().unwrap();
            in_flight -= 1;
            let step = sides[side].complete(output).unwrap();
            in_flight += dispatch(side, step, &job_tx, &mut inbox);
        }
        drop(job_tx);
    });
    let [sa, sb] = sides;
    (
        sa.outcome().unwrap().clone(),
        sb.outcome().unwrap().clone(),
        wire_bytes,
        messages,
    )
}

/// Queues `step`'s jobs and its messages (encoded) for the other side; returns the job count.
fn dispatch(
    side: usize,
    step: PsiStep,
    jobs: &SyncSender<(usize, PsiJob)>,
    inbox: &mut VecDeque<(usize, Vec<u8>)>,
) -> usize {
    for message in step.send {
        inbox.push_back((1 - side, message.encode()));
    }
    let count = step.jobs.len();
    for job in step.jobs {
        jobs.send((side, job)).unwrap();
    }
    count
}

fn worker(jobs: &Mutex<Receiver<(usize, PsiJob)>>, outputs: &SyncSender<(usize, PsiJobOutput)>) {
    loop {
        let next = jobs.lock().unwrap().recv();
        let Ok((side, job)) = next else { return };
        if outputs.send((side, job.run())).is_err() {
            return;
        }
    }
}

/// Two shuffled lists of `n` distinct domains with `common` in both.
fn sets(n: usize, common: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let domain = |tag: &str, i: usize| format!("{tag}-account-{i}.example.com").into_bytes();
    let mut a: Vec<Vec<u8>> = (0..common).map(|i| domain("both", i)).collect();
    let mut b = a.clone();
    a.extend((common..n).map(|i| domain("a", i)));
    b.extend((common..n).map(|i| domain("b", i)));
    let mut rng = StdRng::seed_from_u64(2);
    a.shuffle(&mut rng);
    b.shuffle(&mut rng);
    (a, b)
}
