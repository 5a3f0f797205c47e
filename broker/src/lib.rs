//! durian-broker: durian's own Kafka-protocol broker.
