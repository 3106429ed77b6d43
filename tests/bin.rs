//! `cosell` itself, under another name, for the end-to-end tests.
fn main() {
    cosell::cli::main()
}
