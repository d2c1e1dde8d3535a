//! fleetscan scan pipeline.
