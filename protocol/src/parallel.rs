//! Running independent pieces of work on a few threads, with results in input order.
//!
//! Deal documents are independent, so verifying, authorizing and applying the deals of one wire
//! message (or generating their sync messages) splits across cores with no shared state. Only
//! `std::thread::scope` is used: no runtime, no pool, no `unsafe`. Threads are started per call
//! (tens of microseconds) because each call carries a batch of deals (milliseconds of work).
//! The caller chooses the thread count: this crate reads no system configuration.

use std::sync::Mutex;

/// Applies `work` to every input on up to `threads` threads and returns the results in input
/// order. With `threads <= 1` or a single input everything runs on the calling thread. Threads
/// take the next input from a shared queue, so a slow input does not hold the others back; which
/// thread ran an input never changes its result.
pub(crate) fn map_in_order<T, R, F>(inputs: Vec<T>, threads: usize, work: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let threads = threads.min(inputs.len());
    if threads <= 1 {
        return inputs.into_iter().map(work).collect();
    }
    let count = inputs.len();
    let queue = Mutex::new(inputs.into_iter().enumerate());
    let next = || {
        // A panic in `work` poisons nothing it could leave half-done here: the queue is only
        // advanced under the lock, so take the inner value either way.
        let mut guard = queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.next()
    };
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut results = Vec::new();
                    while let Some((index, input)) = next() {
                        results.push((index, work(input)));
                    }
                    results
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(results) => results,
                // Re-raise a worker's panic on the calling thread, as sequential code would.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    done.sort_unstable_by_key(|(index, _)| *index);
    assert_eq!(done.len(), count, "every input produces one result");
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order_whatever_the_thread_count() {
        let inputs: Vec<u64> = (0..1000).collect();
        let expected: Vec<u64> = inputs.iter().map(|n| n * n).collect();
        for threads in [0, 1, 2, 3, 8, 2000] {
            assert_eq!(map_in_order(inputs.clone(), threads, |n| n * n), expected);
        }
        assert!(map_in_order(Vec::<u8>::new(), 4, |n| n).is_empty());
    }
}
