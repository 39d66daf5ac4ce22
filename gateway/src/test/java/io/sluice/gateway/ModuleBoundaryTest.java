package io.sluice.gateway;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The gateway builds no Kafka consumers and knows no SQLSTATEs: Kafka clients come from storage-adapter's
 * {@code KafkaClients} (the control topic through {@code ControlTopicSubscriber}), and PostgreSQL's errors arrive
 * translated ({@code QueryException}, {@code PostgresUnavailableException}). This scans the gateway's main sources,
 * fully qualified names and wildcard imports included.
 */
class ModuleBoundaryTest {

    private static final Pattern FORBIDDEN = Pattern.compile(
            "org\\.apache\\.kafka\\.clients\\.consumer|reactor\\.kafka\\.receiver|io\\.r2dbc\\.spi\\.R2dbc\\w*Exception"
                    + "|getSqlState|import\\s+(?:static\\s+)?(?:org\\.apache\\.kafka\\.clients|reactor\\.kafka|io\\.r2dbc\\.spi)"
                    + "\\.\\*");

    @Test
    void theGatewaysMainCodeBuildsNoKafkaConsumersAndKnowsNoSqlStates() {
        Path main = Path.of("src", "main", "java", "io", "sluice", "gateway");
        assertThat(main).as("run from the gateway module's directory").isDirectory();
        assertThat(sources(main)).as("the gateway's sources were found").hasSizeGreaterThan(50);
        assertThat(violations(main)).isEmpty();
    }

    @Test
    void theScanFindsEachForbiddenUse(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("A.java"), "import org.apache.kafka.clients.consumer.ConsumerConfig;\n");
        Files.writeString(dir.resolve("B.java"), "class B { reactor.kafka.receiver.KafkaReceiver<?, ?> r; }\n");
        Files.writeString(dir.resolve("C.java"), "import io.r2dbc.spi.R2dbcException;\n");
        Files.writeString(dir.resolve("D.java"), "class D { boolean f(io.r2dbc.spi.R2dbcTimeoutException e) { "
                + "return \"57014\".equals(e.getSqlState()); } }\n");
        Files.writeString(dir.resolve("E.java"), "import io.r2dbc.spi.*;\n");
        Files.writeString(dir.resolve("F.java"), "import io.r2dbc.pool.ConnectionPool;\n"
                + "import io.sluice.storage.kafka.KafkaClients;\nimport org.apache.kafka.common.TopicPartition;\n");
        assertThat(violations(dir)).containsExactly(
                "A.java:1: org.apache.kafka.clients.consumer",
                "B.java:1: reactor.kafka.receiver",
                "C.java:1: io.r2dbc.spi.R2dbcException",
                "D.java:1: io.r2dbc.spi.R2dbcTimeoutException",
                "D.java:1: getSqlState",
                "E.java:1: import io.r2dbc.spi.*");
    }

    private static List<Path> sources(Path root) {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(f -> f.toString().endsWith(".java")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code file:line: what} for every forbidden use under {@code root}. */
    private static List<String> violations(Path root) {
        List<String> found = new ArrayList<>();
        for (Path file : sources(root)) {
            List<String> lines;
            try {
                lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            for (int i = 0; i < lines.size(); i++) {
                Matcher m = FORBIDDEN.matcher(lines.get(i));
                while (m.find()) {
                    found.add(root.relativize(file) + ":" + (i + 1) + ": " + m.group());
                }
            }
        }
        return found;
    }
}
