//! durian-core: the client core shared by durian's producer, consumer and admin
//! client: connections, protocol glue, metadata, configuration, errors and
//! record batches.
