//! Hub mapping tests.
