//! The password-hashing pool: a few dedicated threads (`hash_concurrency`) and a bounded
//! queue in front of them. Argon2id is deliberately slow and memory-hungry (19 MiB per
//! hash), so it never runs on the async reactor, a login flood can occupy at most these
//! threads (verifies and refreshes keep their cores), and a full queue answers `503
//! overloaded` at once instead of piling up. Dedicated threads also reuse their memory:
//! hashing on tokio's blocking pool spread it over many threads, each keeping its own 19 MiB.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

pub struct HashPool {
    queue: SyncSender<Job>,
    /// Jobs accepted and not yet started, for `latchkey_hash_queue_depth`.
    waiting: Arc<AtomicUsize>,
    capacity: usize,
}

/// The queue is full: the caller should answer 503.
#[derive(Debug)]
pub struct Busy;

impl HashPool {
    /// `threads` workers and room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("latchkey-hash-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        // The pool was dropped: the thread ends.
                        Err(_) => return,
                    }
                })?;
        }
        Ok(Self {
            queue: tx,
            waiting: Arc::new(AtomicUsize::new(0)),
            capacity: queue,
        })
    }

    /// How many jobs wait for a thread now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// How many jobs may wait before `run` refuses.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Runs `work` on a pool thread and waits for its result without blocking the reactor.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let waiting = self.waiting.clone();
        // Counted before it is queued, so a thread that takes it at once never decrements
        // below zero.
        waiting.fetch_add(1, Ordering::Relaxed);
        let started = waiting.clone();
        let job: Job = Box::new(move || {
            started.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(work());
        });
        match self.queue.try_send(job) {
            Ok(()) => rx.await.map_err(|_| Busy),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                waiting.fetch_sub(1, Ordering::Relaxed);
                Err(Busy)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_refuses_beyond_the_queue() {
        let pool = Arc::new(HashPool::new(1, 1).unwrap());
        assert_eq!(pool.run(|| 2 + 2).await.unwrap(), 4);
        // Occupy the only thread, then the only queue slot.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let p = pool.clone();
        let busy = tokio::spawn(async move {
            p.run(move || {
                let _ = started_tx.send(());
                let _ = wait.recv();
            })
            .await
        });
        started_rx.await.unwrap();
        let p = pool.clone();
        let queued = tokio::spawn(async move { p.run(|| 7).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(
            pool.waiting(),
            1,
            "the queued job is counted, the running one is not"
        );
        assert!(pool.run(|| 0).await.is_err(), "a full queue refuses at once");
        assert_eq!(pool.waiting(), 1, "a refused job is not counted");
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), 7);
        assert_eq!(pool.waiting(), 0);
    }
}
