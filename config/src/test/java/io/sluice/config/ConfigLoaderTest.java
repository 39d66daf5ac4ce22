package io.sluice.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigLoaderTest {

    @Test
    void defaultsAreValid() {
        SluiceConfig config = SluiceConfig.defaults();
        assertThat(config.server().port()).isEqualTo(8080);
        assertThat(config.server().maxBodyBytes()).isEqualTo(4 << 20);
        assertThat(config.server().idleTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(config.tenants().quota(Tier.FREE).requestsPerMinute()).isEqualTo(100);
        assertThat(config.tenants().quota(Tier.PAID).requestsPerMinute()).isEqualTo(1_000);
        assertThat(config.tenants().quota(Tier.ENTERPRISE).requestsPerMinute()).isEqualTo(10_000);
        assertThat(config.roles()).containsExactlyInAnyOrder(Role.GATEWAY, Role.WRITER);
    }

    @Test
    void layersOverrideInOrder(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("sluice.properties");
        Files.writeString(file, "server.port=9000\nserver.io-threads=3\npostgres.host=db.internal\n");
        Map<String, String> env = Map.of("SLUICE_SERVER_PORT", "9001", "SLUICE_SERVER_IO_THREADS", "4");
        SluiceConfig config = ConfigLoader.load(file, env, Map.of("server.port", "9002"));
        assertThat(config.server().port()).isEqualTo(9002);      // command line beats environment
        assertThat(config.server().ioThreads()).isEqualTo(4);    // environment beats file
        assertThat(config.postgres().host()).isEqualTo("db.internal"); // file beats default
        assertThat(config.kafka().clientId()).isEqualTo("sluice"); // default
    }

    @Test
    void compactionLooksBackOverEveryHourThatStillTakesSamples() {
        assertThat(SluiceConfig.defaults().writer().compactionLookback()).isEqualTo(Duration.ofHours(6));
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("ingest.late-window", "25h")).writer()
                .compactionLookback()).as("a day back-filled: the late window and its last hour")
                .isEqualTo(Duration.ofHours(26));
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("ingest.late-window", "25h",
                "writer.compaction-lookback", "2d")).writer().compactionLookback()).isEqualTo(Duration.ofDays(2));
    }

    @Test
    void theQueryCachesShareQueryCacheMaxBytesWithoutPassingIt() {
        for (String size : List.of("1MiB", "64MiB", "1048583", "16GiB")) {
            QueryConfig query = ConfigLoader.load(null, Map.of(), Map.of("query.cache-max-bytes", size)).query();
            long total = query.cacheMaxBytes();
            assertThat(2 * query.answerCacheBytes() + query.renderedCacheBytes()).as(size).isEqualTo(total);
            assertThat(query.answerCacheBytes()).as(size).isEqualTo(total / 8 * 3);
            assertThat(query.renderedCacheBytes()).as(size).isBetween(total / 4, total / 4 + 8);
        }
    }

    @Test
    void theLateWindowMayNotReachPastRawRetentionWhereAcceptedSamplesWouldNotBeStored() {
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("retention.raw", "1d",
                "ingest.late-window", "25h")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("ingest.late-window: 90000000ms (expected: at most retention.raw, 86400000ms");
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("retention.raw", "1d", "ingest.late-window", "1d"))
                .ingest().lateWindow()).isEqualTo(Duration.ofDays(1));
    }

    @Test
    void oneMinuteRollupsAreKeptAtLeastAsLongAsRawSamples() {
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("retention.raw", "7d",
                "retention.rollup-1m", "6d")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("retention.rollup-1m: 518400000ms (expected: at least retention.raw, 604800000ms");
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("retention.raw", "6d", "retention.rollup-1m", "6d"))
                .writer().retentionRollup1m()).isEqualTo(Duration.ofDays(6));
    }

    @Test
    void messageNamesTheSettingTheValueAndWhatWasExpected() {
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("server.port", "70000")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("server.port: 70000 (expected: 0..65535) [from command line --server.port]");
    }

    @Test
    void ratesStopAtWhatATokenBucketCanRefill() {
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("links.redirects-per-minute-per-client", "60000000000"))
                .links().redirectsPerMinutePerClient()).isEqualTo(60_000_000_000L);
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(),
                Map.of("tenants.enterprise.requests-per-minute", "60000000001")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("tenants.enterprise.requests-per-minute: 60000000001 (expected: 1..60000000000)");
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        ConfigException e = (ConfigException) org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
                () -> ConfigLoader.load(null,
                        Map.of("SLUICE_SERVER_IDLE_TIMEOUT", "soon"),
                        Map.of("server.max-body-bytes", "2GiB", "kafka.bootstrap-servers", "nohostport")));
        assertThat(e.problems()).hasSize(3);
        assertThat(e.problems().get(0)).startsWith("server.idle-timeout: soon (expected: a duration from 1s to 1d")
                .endsWith("[from environment SLUICE_SERVER_IDLE_TIMEOUT]");
        assertThat(e.getMessage()).contains("server.max-body-bytes: 2GiB (expected: a size from 1KiB to 256MiB)")
                .contains("kafka.bootstrap-servers: nohostport (expected: a comma-separated list of host:port)");
    }

    @Test
    void unknownSettingsAreErrorsNotSilentlyIgnored(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("typo.properties");
        Files.writeString(file, "server.prot=9000\n");
        assertThatThrownBy(() -> ConfigLoader.load(file, Map.of(), Map.of()))
                .hasMessageContaining("server.prot: unknown setting");
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("kafka.boostrap", "x:1")))
                .hasMessageContaining("kafka.boostrap: unknown setting (on the command line");
    }

    @Test
    void passwordsAreNeverPrinted() {
        SluiceConfig config = ConfigLoader.load(null, Map.of("SLUICE_POSTGRES_PASSWORD", "hunter2"), Map.of());
        assertThat(config.postgres().password()).isEqualTo("hunter2");
        assertThat(config.postgres().toString()).doesNotContain("hunter2");
        assertThat(config.toString()).doesNotContain("hunter2");
    }

    @Test
    void missingFileIsAClearError(@TempDir Path dir) {
        assertThatThrownBy(() -> ConfigLoader.load(dir.resolve("absent.properties"), Map.of(), Map.of()))
                .hasMessageContaining("--config: " + dir.resolve("absent.properties"))
                .hasMessageContaining("expected: a readable properties file");
    }

    @ParameterizedTest
    @CsvSource({"250ms,250", "30s,30000", "5m,300000", "1h,3600000", "7d,604800000"})
    void durations(String raw, long millis) {
        assertThat(Values.duration(raw).toMillis()).isEqualTo(millis);
    }

    @ParameterizedTest
    @CsvSource({"65536,65536", "64KiB,65536", "4MiB,4194304", "1GiB,1073741824"})
    void sizes(String raw, long bytes) {
        assertThat(Values.bytes(raw)).isEqualTo(bytes);
    }

    @Test
    void commandLineArgumentsSplitIntoConfigAndRest() {
        ConfigArgs args = ConfigArgs.parse(List.of("serve", "--config", "a.properties", "--server.port=9", "--set",
                "kafka.client-id=x", "--postgres.host", "db", "--roles=writer", "--verbose"));
        assertThat(args.configFile()).isEqualTo(Path.of("a.properties"));
        assertThat(args.overrides()).containsExactly(Map.entry("server.port", "9"), Map.entry("kafka.client-id", "x"),
                Map.entry("postgres.host", "db"), Map.entry("roles", "writer"));
        assertThat(args.rest()).containsExactly("serve", "--verbose");
        assertThat(new ConfigArgs(null, args.overrides(), List.of()).load(Map.of()).roles())
                .containsExactly(Role.WRITER);
    }

    @Test
    void exampleFileListsEverySettingWithItsDefault() throws IOException {
        Path example = Path.of("sluice.example.properties");
        assertThat(example).as("config/sluice.example.properties; regenerate with Settings.renderExample()").exists();
        assertThat(Files.readString(example, StandardCharsets.UTF_8)).isEqualTo(Settings.renderExample());
        // and it loads to exactly the defaults
        assertThat(ConfigLoader.load(example, Map.of(), Map.of())).isEqualTo(SluiceConfig.defaults());
    }

    @Test
    void edgeSettingsHaveClearDefaultsAndTlsNeedsBothFiles() {
        EdgeConfig edge = SluiceConfig.defaults().edge();
        assertThat(edge.binaryPort()).isEqualTo(EdgeConfig.NO_PORT);
        assertThat(edge.tls()).isFalse();
        assertThat(edge.maxFrameBytes()).isEqualTo(1 << 20);
        assertThat(edge.flushDelay()).isEqualTo(Duration.ofMillis(5));
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("binary.flush-delay", "0s")).edge().flushDelay()).isZero();
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("binary.flush-delay", "2s")))
                .hasMessageContaining("binary.flush-delay");
        EdgeConfig tls = ConfigLoader.load(null, Map.of(), Map.of("server.tls.cert-file", "c.pem",
                "server.tls.key-file", "k.pem", "server.binary-port", "0")).edge();
        assertThat(tls.tls()).isTrue();
        assertThat(tls.tlsKeyFile()).isEqualTo(Path.of("k.pem"));
        assertThat(tls.binaryPort()).isZero();
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("server.tls.cert-file", "c.pem")))
                .hasMessageContaining("server.tls.cert-file and server.tls.key-file: only one is set");
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("server.binary-port", "-2")))
                .hasMessageContaining("server.binary-port: -2 (expected: -1..65535)");
    }

    @Test
    void clusterSettingsHaveDefaultsAndTheTtlMustOutlastTheHeartbeatInterval() {
        ClusterConfig cluster = SluiceConfig.defaults().cluster();
        assertThat(cluster.nodeId()).as("empty: generated when the process starts").isEmpty();
        assertThat(cluster.heartbeatInterval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(cluster.nodeTtl()).isEqualTo(Duration.ofSeconds(10));
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("cluster.node-id", "gw-1.eu:a")).cluster().nodeId())
                .isEqualTo("gw-1.eu:a");
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("cluster.heartbeat-interval", "10s")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("cluster.node-ttl: 10000ms (expected: longer than cluster.heartbeat-interval, "
                        + "10000ms)");
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("cluster.node-id", "a b")))
                .hasMessageContaining("cluster.node-id: a b (expected: letters, digits");
    }

    @Test
    void alertingLimitsAreSettingsWithTheirFormerDefaults() {
        AlertingConfig.Limits limits = SluiceConfig.defaults().alerting().limits();
        assertThat(limits).isEqualTo(new AlertingConfig.Limits(200, 16 * 1024, 64, 64, 1024, 16 * 1024, 10_000, 1000,
                4096, 100, 32, 4096, 2048));
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("alerting.max-expr-bytes", "4KiB",
                "alerting.max-receivers-per-tenant", "7")).alerting().limits())
                .extracting(AlertingConfig.Limits::maxExprBytes, AlertingConfig.Limits::maxReceiversPerTenant)
                .containsExactly(4096, 7);
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("alerting.max-receivers-per-tenant", "0")))
                .hasMessageContaining("alerting.max-receivers-per-tenant: 0 (expected: 1..100000)");
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("alerting.max-expr-bytes", "100")))
                .hasMessageContaining("alerting.max-expr-bytes: 100 (expected: a size from 256B to 1MiB)");
    }

    @Test
    void receiverSizesAreSettingsWithinTheirRanges() {
        assertThat(ConfigLoader.load(null, Map.of("SLUICE_ALERTING_MAX_RECEIVER_URL_LENGTH", "16"),
                Map.of("alerting.max-receiver-headers", "0", "alerting.max-receiver-header-value-length", "65536"))
                .alerting().limits())
                .extracting(AlertingConfig.Limits::maxReceiverHeaders,
                        AlertingConfig.Limits::maxReceiverHeaderValueLength, AlertingConfig.Limits::maxReceiverUrlLength)
                .containsExactly(0, 65_536, 16);
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("alerting.max-receiver-headers", "1024",
                "alerting.max-receiver-header-value-length", "1", "alerting.max-receiver-url-length", "65536"))
                .alerting().limits())
                .extracting(AlertingConfig.Limits::maxReceiverHeaders,
                        AlertingConfig.Limits::maxReceiverHeaderValueLength, AlertingConfig.Limits::maxReceiverUrlLength)
                .containsExactly(1024, 1, 65_536);
        ConfigException e = (ConfigException) org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
                () -> ConfigLoader.load(null, Map.of(), Map.of("alerting.max-receiver-headers", "1025",
                        "alerting.max-receiver-header-value-length", "0", "alerting.max-receiver-url-length", "15")));
        assertThat(e.problems()).hasSize(3);
        assertThat(e.getMessage()).contains("alerting.max-receiver-headers: 1025 (expected: 0..1024)",
                "alerting.max-receiver-header-value-length: 0 (expected: 1..65536)",
                "alerting.max-receiver-url-length: 15 (expected: 16..65536)");
        assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("alerting.max-receiver-headers", "-1")))
                .hasMessageContaining("alerting.max-receiver-headers: -1 (expected: 0..1024)");
    }

    @Test
    void theExternalUrlIsEmptyOrAnAbsoluteHttpUrl() {
        assertThat(SluiceConfig.defaults().alerting().externalUrl()).as("unknown").isEmpty();
        assertThat(ConfigLoader.load(null, Map.of(), Map.of("alerting.external-url", "https://sluice.example.com/"))
                .alerting().externalUrl()).as("without the trailing slash").isEqualTo("https://sluice.example.com");
        assertThat(ConfigLoader.load(null, Map.of("SLUICE_ALERTING_EXTERNAL_URL", "http://10.0.0.1:8080/sluice"),
                Map.of()).alerting().externalUrl()).isEqualTo("http://10.0.0.1:8080/sluice");
        for (String bad : List.of("sluice.example.com", "/relative", "ftp://sluice.example.com",
                "https://user:pw@sluice.example.com", "https://sluice.example.com/?a=b", "https://sluice.example.com/#x",
                "http://", "https://exa mple.com")) {
            assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), Map.of("alerting.external-url", bad)))
                    .as(bad).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("alerting.external-url: " + bad + " (expected: an absolute http(s) URL "
                            + "with a host, no query, fragment or user info, or empty)");
        }
    }
}
