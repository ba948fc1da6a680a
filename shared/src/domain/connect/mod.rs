//! Atlassian Connect authentication: the qsh algorithm, HS256 request and context tokens, the
//! RS256 signed install (used once: `install_replay`), the install-keys port, and the app descriptor.

pub mod descriptor;
pub mod install_replay;
pub mod jwt;
pub mod qsh;
