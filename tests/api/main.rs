//! The one integration-test binary: each module tests one area against a real server on port 0.

mod helpers;
mod smoke;
