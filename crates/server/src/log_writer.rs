//! The log sink: formatted lines are appended to an in-memory batch and written to stderr
//! by a thread of its own, a batch at a time.
//!
//! Under load a request logs one line; writing each line by itself costs a `write`
//! syscall, and handing each to a writer thread costs a wake-up of that thread. Here a
//! logging call only copies its line under a mutex; the writer thread writes whatever is
//! waiting with one syscall, then pauses for [`GATHER_FOR`] while the next batch gathers.
//! Lines are never dropped: a logging call waits only when [`MAX_BATCH`] bytes are
//! already waiting (stderr stalled), and dropping the [`FlushGuard`] writes the rest. A
//! process killed outright loses at most the last [`GATHER_FOR`] of lines.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// The pause after each write: the longest a line waits for the writer thread.
const GATHER_FOR: Duration = Duration::from_millis(20);
/// A batch this large is written at once, without waiting out the pause.
const WRITE_AT: usize = 64 * 1024;
/// A logging call waits while this much is waiting to be written.
const MAX_BATCH: usize = 8 * 1024 * 1024;

/// Where `tracing` writes: cheap to clone, appends to the shared batch.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Writes what is still waiting and stops the writer thread when dropped.
#[must_use = "dropping the guard stops the log writer"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    batch: Mutex<Batch>,
    /// The writer thread waits here for lines (or for the batch to fill, or to stop).
    lines_waiting: Condvar,
    /// Logging calls wait here while the batch is full.
    batch_taken: Condvar,
}

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    stopped: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Batch> {
        // A panic while holding the lock leaves at worst a partial line: keep logging.
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts the writer thread for `sink`; `sink` is written only from that thread.
pub fn batch_writer(sink: impl Write + Send + 'static) -> io::Result<(BatchWriter, FlushGuard)> {
    let shared = Arc::new(Shared {
        batch: Mutex::new(Batch::default()),
        lines_waiting: Condvar::new(),
        batch_taken: Condvar::new(),
    });
    let thread = std::thread::Builder::new()
        .name("spaces-oauth-log".into())
        .spawn({
            let shared = Arc::clone(&shared);
            move || write_batches(&shared, sink)
        })?;
    let writer = BatchWriter {
        shared: Arc::clone(&shared),
    };
    Ok((
        writer,
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: waits for a line, writes everything waiting, then pauses for
/// [`GATHER_FOR`] (unless the batch fills up) so the next batch can gather; until
/// stopped and nothing is left. A lone line is thus written at once, and a busy server
/// costs one write per [`GATHER_FOR`].
fn write_batches(shared: &Shared, mut sink: impl Write) {
    let mut taken = Vec::new();
    loop {
        {
            let mut batch = shared.lock();
            while batch.bytes.is_empty() && !batch.stopped {
                batch = shared
                    .lines_waiting
                    .wait(batch)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if batch.bytes.is_empty() {
                return; // stopped, and everything is written
            }
            std::mem::swap(&mut taken, &mut batch.bytes);
        }
        shared.batch_taken.notify_all();
        // Nowhere to report a failed write of the log itself; the next batch tries again.
        let _ = sink.write_all(&taken).and_then(|()| sink.flush());
        taken.clear();
        let batch = shared.lock();
        drop(
            shared
                .lines_waiting
                .wait_timeout_while(batch, GATHER_FOR, |batch| {
                    !batch.stopped && batch.bytes.len() < WRITE_AT
                })
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
}

impl Write for BatchWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut batch = self.shared.lock();
        if batch.stopped {
            drop(batch);
            return io::stderr().write(line);
        }
        batch = self
            .shared
            .batch_taken
            .wait_while(batch, |batch| {
                !batch.stopped && batch.bytes.len() >= MAX_BATCH
            })
            .unwrap_or_else(PoisonError::into_inner);
        let before = batch.bytes.len();
        batch.bytes.extend_from_slice(line);
        // Wake the writer for the first line of a batch and when the batch is full
        // enough to write; in between it is already awake, or about to be.
        if before == 0 || (before < WRITE_AT && batch.bytes.len() >= WRITE_AT) {
            self.shared.lines_waiting.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(()) // the writer thread flushes each batch it writes
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.lines_waiting.notify_one();
        self.shared.batch_taken.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read back, counting the writes it received.
    #[derive(Clone, Default)]
    struct Recorded(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Recorded {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut recorded = self.0.lock().unwrap();
            recorded.0.extend_from_slice(bytes);
            recorded.1 += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let sink = Recorded::default();
        let (writer, guard) = batch_writer(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..10_000 {
                        writer.write_all(format!("{t} {n}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(guard);
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        for t in 0..4 {
            let numbers: Vec<usize> = text
                .lines()
                .filter_map(|line| line.strip_prefix(&format!("{t} ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(numbers, (0..10_000).collect::<Vec<_>>(), "thread {t}");
        }
        assert!(
            writes < 40_000 / 10,
            "{writes} writes for 40,000 lines: not batched"
        );
    }

    #[test]
    fn a_lone_line_is_written_without_waiting_for_more() {
        let sink = Recorded::default();
        let (mut writer, _guard) = batch_writer(sink.clone()).unwrap();
        writer.write_all(b"alone\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().0.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the line was never written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.0.lock().unwrap().0, b"alone\n");
    }

    #[test]
    fn lines_logged_after_the_guard_is_dropped_still_reach_stderr_without_blocking() {
        let (mut writer, guard) = batch_writer(Recorded::default()).unwrap();
        drop(guard);
        writer.write_all(b"").unwrap();
    }
}
