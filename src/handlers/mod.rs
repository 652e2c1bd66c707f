//! One module per Lambda function: each adapts its event to the library and
//! back. The binaries in `src/bin` only wire them to the runtime.

pub mod duplicate_album;
