//! Helpers for end-to-end tests: start real `cosell` processes and talk to them.
