#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};

use durian_core::acl::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation as Op, AclPermissionType,
    PatternType, ResourcePattern, ResourceType,
};

use super::{Authorizer, AuthorizerConfig};
use crate::security::Principal;

const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));

fn acl(
    kind: ResourceType,
    name: &str,
    pattern: PatternType,
    principal: &str,
    op: Op,
    permission: AclPermissionType,
) -> AclBinding {
    AclBinding::new(
        ResourcePattern::new(kind, name, pattern),
        AccessControlEntry::new(principal, "*", op, permission),
    )
}

fn allow(name: &str, pattern: PatternType, principal: &str, op: Op) -> AclBinding {
    acl(
        ResourceType::Topic,
        name,
        pattern,
        principal,
        op,
        AclPermissionType::Allow,
    )
}

fn strict(dir: &std::path::Path) -> Authorizer {
    let config = AuthorizerConfig {
        allow_everyone_if_no_acl_found: Some(false),
        super_users: vec![Principal::user("admin")],
        ..AuthorizerConfig::default()
    };
    Authorizer::open(dir, config, false).unwrap()
}

fn can(auth: &Authorizer, who: &str, op: Op, topic: &str) -> bool {
    auth.authorize(&Principal::user(who), HOST, op, ResourceType::Topic, topic)
}

#[test]
fn the_default_refuses_resources_without_acls_once_listeners_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let authenticating = Authorizer::open(dir.path(), AuthorizerConfig::default(), true).unwrap();
    assert!(!can(&authenticating, "alice", Op::Write, "t"));
    let explicit = AuthorizerConfig {
        allow_everyone_if_no_acl_found: Some(true),
        ..AuthorizerConfig::default()
    };
    let opened = Authorizer::open(dir.path(), explicit, true).unwrap();
    assert!(
        can(&opened, "alice", Op::Write, "t"),
        "an explicit setting wins"
    );
}

#[test]
fn without_acls_allow_everyone_decides() {
    let dir = tempfile::tempdir().unwrap();
    let open = Authorizer::open(dir.path(), AuthorizerConfig::default(), false).unwrap();
    assert!(can(&open, "alice", Op::Write, "t"));
    let closed = strict(dir.path());
    assert!(!can(&closed, "alice", Op::Write, "t"));
    assert!(can(&closed, "admin", Op::Write, "t"), "super users pass");
}

#[test]
fn allows_everything_only_where_no_check_can_fail() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Principal::user("alice");
    let open = Authorizer::open(dir.path(), AuthorizerConfig::default(), false).unwrap();
    assert!(open.allows_everything(&alice), "no ACLs, allow everyone");
    open.create(&[allow("t", PatternType::Literal, "User:bob", Op::Read)])
        .unwrap();
    assert!(
        !open.allows_everything(&alice),
        "an ACL exists: checks decide"
    );
    let closed_dir = tempfile::tempdir().unwrap();
    let closed = strict(closed_dir.path());
    assert!(!closed.allows_everything(&alice), "no ACLs, none allowed");
    assert!(
        closed.allows_everything(&Principal::user("admin")),
        "super users pass"
    );
}

#[test]
fn literal_prefixed_and_wildcard_patterns_match() {
    let dir = tempfile::tempdir().unwrap();
    let auth = strict(dir.path());
    auth.create(&[
        allow("orders", PatternType::Literal, "User:alice", Op::Read),
        allow("logs-", PatternType::Prefixed, "User:alice", Op::Write),
        allow("*", PatternType::Literal, "User:bob", Op::Describe),
        allow("shared", PatternType::Literal, "User:*", Op::Read),
    ])
    .unwrap();
    assert!(can(&auth, "alice", Op::Read, "orders"));
    assert!(!can(&auth, "alice", Op::Read, "orders2"));
    assert!(can(&auth, "alice", Op::Write, "logs-app"));
    assert!(!can(&auth, "alice", Op::Write, "log"));
    assert!(can(&auth, "bob", Op::Describe, "anything"));
    assert!(!can(&auth, "bob", Op::Read, "anything"));
    assert!(
        can(&auth, "carol", Op::Read, "shared"),
        "User:* matches everyone"
    );
    // Implied: READ and WRITE imply DESCRIBE.
    assert!(can(&auth, "alice", Op::Describe, "orders"));
    assert!(can(&auth, "alice", Op::Describe, "logs-x"));
}

#[test]
fn deny_wins_and_resources_with_acls_are_closed_to_others() {
    let dir = tempfile::tempdir().unwrap();
    let auth = Authorizer::open(dir.path(), AuthorizerConfig::default(), false).unwrap();
    auth.create(&[
        allow("t", PatternType::Literal, "User:alice", Op::All),
        acl(
            ResourceType::Topic,
            "t",
            PatternType::Prefixed,
            "User:alice",
            Op::Write,
            AclPermissionType::Deny,
        ),
    ])
    .unwrap();
    assert!(can(&auth, "alice", Op::Read, "t"));
    assert!(!can(&auth, "alice", Op::Write, "t"), "DENY beats ALLOW ALL");
    assert!(
        !can(&auth, "bob", Op::Read, "t"),
        "t has ACLs: no allow-everyone"
    );
    assert!(can(&auth, "bob", Op::Read, "other"), "no ACL names `other`");
}

#[test]
fn hosts_match_exactly_or_by_wildcard() {
    let dir = tempfile::tempdir().unwrap();
    let auth = strict(dir.path());
    let mut from_host = allow("t", PatternType::Literal, "User:alice", Op::Read);
    from_host.entry.host = "10.0.0.8".to_string();
    auth.create(&[from_host]).unwrap();
    assert!(!can(&auth, "alice", Op::Read, "t"));
    let other = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 8));
    let alice = Principal::user("alice");
    assert!(auth.authorize(&alice, other, Op::Read, ResourceType::Topic, "t"));
    let mapped: IpAddr = "::ffff:10.0.0.8".parse().unwrap();
    assert!(auth.authorize(&alice, mapped, Op::Read, ResourceType::Topic, "t"));
}

#[test]
fn by_resource_type_needs_an_allow_not_covered_by_a_deny() {
    let dir = tempfile::tempdir().unwrap();
    let auth = strict(dir.path());
    let alice = Principal::user("alice");
    let some_write = |a: &Authorizer| a.authorize_any(&alice, HOST, Op::Write, ResourceType::Topic);
    assert!(!some_write(&auth));
    auth.create(&[allow(
        "app-",
        PatternType::Prefixed,
        "User:alice",
        Op::Write,
    )])
    .unwrap();
    assert!(some_write(&auth));
    auth.create(&[acl(
        ResourceType::Topic,
        "app",
        PatternType::Prefixed,
        "User:alice",
        Op::Write,
        AclPermissionType::Deny,
    )])
    .unwrap();
    assert!(
        !some_write(&auth),
        "the DENY prefix covers the ALLOW prefix"
    );
}

#[test]
fn acls_survive_reopen_and_delete_by_filter() {
    let dir = tempfile::tempdir().unwrap();
    let auth = strict(dir.path());
    let a = allow("a", PatternType::Literal, "User:alice", Op::Read);
    let b = allow("b", PatternType::Prefixed, "User:bob", Op::Write);
    auth.create(&[a.clone(), b.clone(), a.clone()]).unwrap();
    assert_eq!(
        auth.describe(&AclBindingFilter::any()),
        vec![a.clone(), b.clone()]
    );
    drop(auth);
    let auth = strict(dir.path());
    assert!(can(&auth, "alice", Op::Read, "a"));
    let removed = auth.delete(&[AclBindingFilter::exact(&b)]).unwrap();
    assert_eq!(removed, vec![vec![b]]);
    drop(auth);
    let auth = strict(dir.path());
    assert_eq!(auth.describe(&AclBindingFilter::any()), vec![a]);
    assert!(!can(&auth, "bob", Op::Write, "b-1"));
}
