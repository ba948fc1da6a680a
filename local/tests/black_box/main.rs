//! Black-box tests of the real `canopy-local` binary (`CARGO_BIN_EXE_canopy-local`) over real
//! sockets, one module per concern, in one binary.

mod support;

mod cli;
mod dynamodb_store;
mod forge_dev;
mod hardening;
mod product_directory;
mod residency;
mod server;
mod tunnel;
