package io.sluice.storage.kafka;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** How the storage writer's consumer fetches follow from the writer's batch settings. */
class WriterConsumerPropsTest {

    private static Map<String, Object> props(Map<String, String> settings) {
        SluiceConfig config = ConfigLoader.load(null, Map.of(), settings);
        return new KafkaClients(config.kafka()).writerConsumerProps(config.writer());
    }

    @Test
    void byDefaultAFetchWaitsForAMebibyteOr125Milliseconds() {
        Map<String, Object> props = props(Map.of());
        assertThat(props).containsEntry(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 8 << 20)
                .containsEntry(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 1 << 20)
                .containsEntry(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 125)
                .containsEntry(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 500);
    }

    @Test
    void aFetchNeverWaitsLongerThanHalfABatchNorLongerThanKafkasDefault() {
        assertThat(props(Map.of("writer.max-batch-wait", "1ms", "writer.max-batch-bytes", "64KiB")))
                .containsEntry(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 0)
                .containsEntry(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 8 << 10);
        assertThat(props(Map.of("writer.max-batch-wait", "30s", "writer.max-batch-bytes", "2GiB")))
                .containsEntry(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 500)
                .containsEntry(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.MAX_VALUE)
                .containsEntry(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, Integer.MAX_VALUE / 8);
    }
}
