//! The `cosell` binary; all of it lives in the library so the end-to-end tests can build the
//! very same program (see `tests/`).

fn main() {
    cosell::cli::main()
}
