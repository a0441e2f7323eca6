//! The `spaces-oauth` binary; everything lives in the library so tests can start it.

// jemalloc rather than glibc's malloc: a request's allocations are often freed on the
// other tokio worker, and glibc then contends on the allocating thread's arena lock
// (about 2–3 futex calls per save under load; 0.15 with jemalloc). See BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    server::cli::main()
}
