//! One integration-test binary: every module below runs against the real server.

mod common;

mod access;
mod campaigns;
mod foundation;
mod identity;
mod imports;
mod people;
mod voting;
