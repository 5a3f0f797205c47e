//! The network side of the broker.
//!
//! ```text
//!  Listener ──accept──► one task per connection
//!                        reader: frames (size-checked) ──► bounded queue
//!                        processor: dispatch ──► handler ──► response, in request order
//! ```

pub mod authenticate;
pub mod body_buffers;
pub mod connection;
pub mod decode_guard;
pub mod dispatch;
pub mod endpoint;
pub mod frame;
#[cfg(feature = "testing")]
pub mod intercept;
pub mod listener;
pub mod resources;
pub mod response_write;
pub mod shutdown;
