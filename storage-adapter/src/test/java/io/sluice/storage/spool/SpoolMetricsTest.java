package io.sluice.storage.spool;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.config.SpoolConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

import static io.sluice.storage.spool.SpoolTesting.appendAll;
import static io.sluice.storage.spool.SpoolTesting.frame;
import static org.assertj.core.api.Assertions.assertThat;

class SpoolMetricsTest {

    @TempDir
    Path dir;

    @Test
    void exportsBytesAppendsFsyncsAndRejections() throws IOException {
        long record = frame("t", "k0".getBytes(), new byte[100]);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Spool spool = Spool.open(new SpoolConfig(dir, 3 * record, 1 << 20, Duration.ZERO))) {
            new SpoolMetrics(spool).bindTo(registry);
            appendAll(spool, 3, 100);
            spool.append("t", null, new byte[100]);

            assertThat(registry.get("sluice.spool.bytes").gauge().value()).isEqualTo(3 * record);
            assertThat(registry.get("sluice.spool.max.bytes").gauge().value()).isEqualTo(3 * record);
            assertThat(registry.get("sluice.spool.segments").gauge().value()).isEqualTo(1);
            assertThat(registry.get("sluice.spool.appends").functionCounter().count()).isEqualTo(3);
            assertThat(registry.get("sluice.spool.appended.bytes").functionCounter().count()).isEqualTo(3 * record);
            assertThat(registry.get("sluice.spool.fsyncs").functionCounter().count()).isBetween(1.0, 3.0);
            assertThat(registry.get("sluice.spool.rejections").tag("reason", "full").functionCounter().count())
                    .isEqualTo(1);
            assertThat(registry.get("sluice.spool.torn.tails").functionCounter().count()).isZero();
        }
    }
}
