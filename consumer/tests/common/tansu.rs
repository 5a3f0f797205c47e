//! Tansu for the consumer's tests: the shared harness in durian-testkit.

// Each test binary compiles `common`, and only some of them use Tansu.
#[allow(unused_imports)]
pub use durian_testkit::Tansu;
