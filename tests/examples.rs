//! The examples run here, so they cannot rot: each example file is
//! compiled into this test as a module and its `run()` called, exactly the
//! code `cargo run --example NAME` runs (only `main` is left out). Each one
//! starts its own embedded broker on a free port, and each checks its own
//! outcome, returning an error when something did not happen as printed.
//!
//! `quickstart` is not run here: with 100k records it is the README's
//! release-mode demonstration, too slow for a debug test run; `cargo test`
//! still builds it.

#[path = "../examples/admin.rs"]
#[allow(dead_code)]
mod admin_example;
#[path = "../examples/consumer_group.rs"]
#[allow(dead_code)]
mod consumer_group_example;
#[path = "../examples/raw_request.rs"]
#[allow(dead_code)]
mod raw_request_example;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_example_runs() {
    if let Err(error) = admin_example::run().await {
        panic!("examples/admin.rs failed: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_group_example_runs() {
    if let Err(error) = consumer_group_example::run().await {
        panic!("examples/consumer_group.rs failed: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_request_example_runs() {
    if let Err(error) = raw_request_example::run().await {
        panic!("examples/raw_request.rs failed: {error}");
    }
}
