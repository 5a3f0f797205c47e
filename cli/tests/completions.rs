//! `durian completions <shell>` prints a script naming every subcommand.

mod common;

use common::durian;

#[tokio::test]
async fn completion_scripts_name_every_subcommand_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        // No broker is needed: the address is never dialled.
        let run = durian("127.0.0.1:1", &["completions", shell], b"").await;
        run.assert_ok();
        let script = String::from_utf8(run.stdout.clone()).expect("the script is UTF-8");
        for subcommand in [
            "broker", "topic", "group", "produce", "consume", "perf", "ship", "acl", "user",
        ] {
            assert!(
                script.contains(subcommand),
                "the {shell} script does not mention `{subcommand}`"
            );
        }
        assert!(
            script.contains("brokers"),
            "the {shell} script lacks the global options"
        );
    }
    let unknown = durian("127.0.0.1:1", &["completions", "tcsh"], b"").await;
    assert!(!unknown.status.success(), "an unknown shell is refused");
}
