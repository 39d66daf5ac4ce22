package io.sluice.protocol.frame;

/**
 * ACK: the batch with this sequence number is durable (in Kafka or the fsync'd spool).
 *
 * @param sequence the BATCH's sequence number
 */
public record Ack(long sequence) implements ProtocolMessage {

    @Override
    public FrameType type() {
        return FrameType.ACK;
    }
}
