//! A consumer's place in its group, as a transactional producer needs it
//! to commit offsets inside a transaction (KIP-447).
//!
//! Shared by durian-consumer, which produces it
//! (`Consumer::group_metadata`), and durian-producer, which sends it with
//! TxnOffsetCommit (`Producer::send_offsets_to_transaction`). The group
//! coordinator checks the generation and member id, so offsets committed
//! by a member the group has since replaced (a "zombie") are refused.

/// The group id, generation, member id and static instance id of a
/// consumer at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation of the member's last completed join; -1 before the
    /// first join (the coordinator then checks nothing but the group).
    pub generation_id: i32,
    /// The member id the coordinator assigned; empty before the first join.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata naming only the group: no generation or member to check.
    /// The Java client's `new ConsumerGroupMetadata(groupId)`, for
    /// applications that do not consume through a group member.
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}
