//! The `spaces-oauth` binary; everything lives in the library so tests can start it.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
