package io.sluice.storage.spool;

/**
 * One record read back from the spool, in append order. The arrays are fresh copies owned by the caller.
 *
 * @param position what to pass to {@link Spool#markDelivered(SpoolPosition)} once this record (and all
 *                 before it) is in Kafka
 * @param key      empty when the record was appended without a key
 */
public record SpoolEntry(SpoolPosition position, String topic, byte[] key, byte[] value) {
}
