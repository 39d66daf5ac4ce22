package io.sluice.storage.testing;

import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * What BlockHound must know about Kafka's producer in every test JVM: {@code KafkaProducer.send} waits for a
 * topic's metadata when it has none yet (at most {@code max.block.ms}). reactor-kafka always calls it on its own
 * sender thread, one per producer and never an event loop, but that thread runs Reactor-scheduled tasks, which
 * BlockHound watches. Only that wait is allowed; every other blocking call there still fails the test.
 */
public final class KafkaProducerBlockHound implements BlockHoundIntegration {

    @Override
    public void applyTo(BlockHound.Builder builder) {
        builder.allowBlockingCallsInside("org.apache.kafka.clients.producer.KafkaProducer", "waitOnMetadata");
    }
}
