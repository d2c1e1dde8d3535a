//! fleetscan binary.
fn main() {}
