//! Per-topic entries by name, with the last topic looked up kept at hand:
//! the accumulator's queues and the producer's partition cache.
//!
//! Nearly every `send` names the same topic as the one before (a log
//! shipper, a perf run), and looking it up in a `HashMap` hashed its name
//! with SipHash, twice per record (whether present, then the entry): about
//! 8 % of `durian ship`'s CPU in a profile together with the partition
//! cache's lookup, which hashed it once more. A comparison with the last topic's name replaces both
//! for such runs; other names still go through the map. Topics are only
//! ever added, so an index into the `Vec` stays valid.

use std::collections::HashMap;
use std::sync::Arc;

/// Topics by name; see the module docs.
pub(crate) struct TopicMap<T> {
    entries: Vec<(Arc<str>, T)>,
    index: HashMap<Arc<str>, usize>,
    /// Where the last lookup by name found its topic.
    last: usize,
}

impl<T> Default for TopicMap<T> {
    fn default() -> Self {
        TopicMap {
            entries: Vec::new(),
            index: HashMap::new(),
            last: 0,
        }
    }
}

impl<T> TopicMap<T> {
    /// Where `topic` is, trying the last topic looked up first.
    fn position(&self, topic: &str) -> Option<usize> {
        match self.entries.get(self.last) {
            Some((name, _)) if **name == *topic => Some(self.last),
            _ => self.index.get(topic).copied(),
        }
    }

    /// The entry of `topic`, if any, for changing it.
    pub(crate) fn get_mut(&mut self, topic: &str) -> Option<&mut T> {
        let position = self.position(topic)?;
        self.last = position;
        self.entries.get_mut(position).map(|(_, entry)| entry)
    }

    /// The entry of `topic`, made by `make` (given the name as an `Arc`)
    /// if the topic is new.
    pub(crate) fn get_or_insert_with(
        &mut self,
        topic: &str,
        make: impl FnOnce(&Arc<str>) -> T,
    ) -> &mut T {
        let position = match self.position(topic) {
            Some(position) => position,
            None => {
                let name: Arc<str> = Arc::from(topic);
                let entry = make(&name);
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push((name, entry));
                self.entries.len() - 1
            }
        };
        self.last = position;
        &mut self.entries[position].1
    }

    /// Every entry, in the order the topics were added.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(_, entry)| entry)
    }

    /// Every entry, for changing them.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().map(|(_, entry)| entry)
    }
}

/// Like a `HashMap`'s: the entry of a topic that must be there.
impl<T> std::ops::Index<&str> for TopicMap<T> {
    type Output = T;

    fn index(&self, topic: &str) -> &T {
        match self.position(topic).and_then(|i| self.entries.get(i)) {
            Some((_, entry)) => entry,
            None => panic!("no entry for topic `{topic}`"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_topic_whichever_was_looked_up_last() {
        let mut map = TopicMap::default();
        *map.get_or_insert_with("a", |name| name.to_string()) += "1";
        *map.get_or_insert_with("b", |name| name.to_string()) += "2";
        // An existing topic is not made again.
        *map.get_or_insert_with("a", |_| unreachable!()) += "3";
        assert_eq!(map.get_mut("a").unwrap(), "a13");
        map.get_mut("b").unwrap().push('4');
        assert_eq!(map.get_mut("a").unwrap(), "a13");
        assert_eq!(map.get_mut("b").unwrap(), "b24");
        assert!(map.get_mut("c").is_none());
        // A name that only shares a prefix with the last one is another topic.
        assert!(map.get_mut("b2").is_none());
        let all: Vec<&String> = map.values().collect();
        assert_eq!(all, ["a13", "b24"]);
        assert_eq!(map["a"], "a13");
        for entry in map.values_mut() {
            entry.clear();
        }
        assert!(map.values().all(String::is_empty));
    }
}
