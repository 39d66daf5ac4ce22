package io.sluice.gateway.ingest;

import com.github.benmanes.caffeine.cache.Ticker;
import io.github.bucket4j.TimeMeter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.Series;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.auth.Principal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The rules and gates of {@link Admission} on their own, with the default limits unless a test says otherwise. */
class AdmissionTest {

    private static final long NOW = 1_800_000_000_000L;

    private final SluiceConfig config = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-labels", "3",
            "ingest.max-active-series", "2", "ingest.max-in-flight-items", "10",
            "tenants.free.items-per-minute", "100"));
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Admission admission = admission(config, NOW, registry);

    /** An admission with real parts (its own registry, the system's tickers) and a fixed clock. */
    static Admission admission(SluiceConfig config, long now) {
        return admission(config, now, new SimpleMeterRegistry());
    }

    private static Admission admission(SluiceConfig config, long now, SimpleMeterRegistry registry) {
        return new Admission(config.ingest(), new ActiveSeries(config.ingest().maxActiveSeries(), Ticker.systemTicker()),
                new InFlightLimit(config.ingest().maxInFlightItems(), config.ingest().maxInFlightBytes(), registry),
                new TenantRateLimiter(config.tenants(), TimeMeter.SYSTEM_NANOTIME, registry),
                new IngestMetrics(registry, config.ingest().maxMeteredTenants()), () -> now);
    }

    static Stream<Arguments> samples() {
        String a200 = "a".repeat(200);
        String e512 = "é".repeat(512); // 1,024 bytes in 512 characters
        return Stream.of(
                Arguments.of("plain", "cpu.usage", List.of("host", "a"), null),
                Arguments.of("colons and dots", "ns:cpu.usage_total", List.of(), null),
                Arguments.of("name of 200 bytes", a200, List.of(), null),
                Arguments.of("name of 201 bytes", a200 + "b", List.of(), "invalid_name"),
                Arguments.of("empty name", "", List.of(), "invalid_name"),
                Arguments.of("name starting with a digit", "9cpu", List.of(), "invalid_name"),
                Arguments.of("name with a space", "cpu usage", List.of(), "invalid_name"),
                Arguments.of("name with non-ASCII", "cpü", List.of(), "invalid_name"),
                Arguments.of("label name with a space", "m", List.of("a b", "1"), "invalid_label"),
                Arguments.of("label name with a dash", "m", List.of("a-b", "1"), "invalid_label"),
                Arguments.of("__ label name", "m", List.of("__name__", "1"), "invalid_label"),
                Arguments.of("empty label name", "m", List.of("", "1"), "invalid_label"),
                Arguments.of("label name of 100 bytes", "m", List.of("l".repeat(100), "1"), null),
                Arguments.of("label name of 101 bytes", "m", List.of("l".repeat(101), "1"), "invalid_label"),
                Arguments.of("empty label value", "m", List.of("a", ""), "invalid_label"),
                Arguments.of("label value of 1,024 bytes in 512 characters", "m", List.of("a", e512), null),
                Arguments.of("label value of 1,025 bytes in 513 characters", "m", List.of("a", e512 + "x"), "invalid_label"),
                Arguments.of("label value of 1,026 bytes in 513 characters", "m", List.of("a", e512 + "é"), "invalid_label"),
                Arguments.of("astral characters count 4 bytes", "m", List.of("a", "😀".repeat(256)), null),
                Arguments.of("astral characters past the limit", "m", List.of("a", "😀".repeat(256) + "x"), "invalid_label"),
                Arguments.of("NUL in a label value", "m", List.of("a", "x\0y"), "invalid_label"),
                Arguments.of("lone high surrogate", "m", List.of("a", "\ud800"), "invalid_label"),
                Arguments.of("lone low surrogate", "m", List.of("a", "x\udc00y"), "invalid_label"),
                Arguments.of("reversed surrogate pair", "m", List.of("a", "\ude00\ud83d"), "invalid_label"),
                Arguments.of("duplicate label", "m", List.of("a", "1", "a", "2"), "invalid_label"),
                Arguments.of("3 labels", "m", List.of("a", "1", "b", "2", "c", "3"), null),
                Arguments.of("4 labels", "m", List.of("a", "1", "b", "2", "c", "3", "d", "4"), "too_many_labels"),
                Arguments.of("name checked before labels", "9m", List.of("a", ""), "invalid_name"),
                Arguments.of("label count checked before each label", "m",
                        List.of("a", "", "b", "", "c", "", "d", ""), "too_many_labels"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("samples")
    void sampleRules(String title, String name, List<String> labels, String reason) {
        Refusal r = admission.checkSample(name, labels, NOW, NOW);
        if (reason == null) {
            assertThat(r).isNull();
        } else {
            assertThat(r).isNotNull();
            assertThat(r.reason()).isEqualTo(reason);
        }
        // The same rules on the canonical series the binary protocol decodes to, where it can hold the labels.
        boolean canonical = !name.isEmpty() && labels.stream().noneMatch(String::isEmpty) && distinctKeys(labels);
        if (canonical) {
            Refusal onSeries = admission.checkSeries(Series.of(name, labels.toArray(String[]::new)));
            assertThat(onSeries == null ? null : onSeries.reason()).as("as a Series").isEqualTo(reason);
        }
    }

    private static boolean distinctKeys(List<String> kv) {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < kv.size(); i += 2) {
            keys.add(kv.get(i));
        }
        return keys.stream().distinct().count() == keys.size();
    }

    @Test
    void aNameGivenTwiceIsFoundAmongFewLabelsOrMany() {
        Admission wide = admission(ConfigLoader.load(null, Map.of(), Map.of("ingest.max-labels", "32")), NOW);
        for (int n : new int[] {2, 5, 16, 17, 32}) {
            for (int twice = 1; twice < n; twice++) {
                List<String> labels = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    labels.add("l" + (i == twice ? twice / 2 : i));
                    labels.add("v" + i);
                }
                Refusal r = wide.checkSample("m", labels, NOW, NOW);
                assertThat(r).as("%d labels, the %dth repeating one", n, twice).isNotNull();
                assertThat(r.message()).contains("'l" + twice / 2 + "' appears twice");
            }
            List<String> distinct = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                distinct.add("l" + i);
                distinct.add("v" + i);
            }
            assertThat(wide.checkSample("m", distinct, NOW, NOW)).as("%d distinct labels", n).isNull();
        }
    }

    @Test
    void messagesNameTheSettingAndNeverEchoUnprintableText() {
        assertThat(admission.checkSample("m", List.of("a", "é".repeat(600)), NOW, NOW).message())
                .contains("1200 bytes", "ingest.max-label-value-length");
        Refusal surrogate = admission.checkSample("m", List.of("a\ud800", "1"), NOW, NOW);
        assertThat(surrogate.message()).contains("'a\\ud800'").doesNotContain("\ud800");
        assertThat(admission.checkSample("m".repeat(300), List.of(), NOW, NOW).message())
                .contains("ingest.max-name-length", "not 300");
        assertThat(Admission.quote("x".repeat(100))).hasSize(64 + 2 + 3);
    }

    @Test
    void theTimeWindowIsInclusiveAtBothEnds() {
        long window = config.ingest().lateWindow().toMillis();
        long skew = config.ingest().clockSkew().toMillis();
        assertThat(admission.checkTimestamp(NOW - window, NOW)).isNull();
        assertThat(admission.checkTimestamp(NOW - window - 1, NOW).reason()).isEqualTo("too_old");
        assertThat(admission.checkTimestamp(NOW + skew, NOW)).isNull();
        assertThat(admission.checkTimestamp(NOW + skew + 1, NOW).reason()).isEqualTo("too_new");
        assertThat(admission.checkSample("m", List.of(), NOW - window - 1, NOW).message()).contains("ingest.late-window");
        assertThat(admission.checkSample("9", List.of(), NOW - window - 1, NOW).reason())
                .as("the item's own rules come before its timestamp").isEqualTo("invalid_name");
    }

    static Stream<Arguments> events() {
        return Stream.of(
                Arguments.of("plain", "e-1", "deploy", "api", Map.of("version", "1.2"), null),
                Arguments.of("empty key", "e-1", "deploy", "", Map.of(), null),
                Arguments.of("type with dots, colons and dashes", "e-1", "ci:deploy.done-ok", "", Map.of(), null),
                Arguments.of("empty id", "", "deploy", "", Map.of(), "invalid_id"),
                Arguments.of("id of 1,025 bytes", "i".repeat(1025), "deploy", "", Map.of(), "invalid_id"),
                Arguments.of("NUL in the id", "a\0b", "deploy", "", Map.of(), "invalid_id"),
                Arguments.of("lone surrogate in the id", "\udbff", "deploy", "", Map.of(), "invalid_id"),
                Arguments.of("type with a space", "e-1", "de ploy", "", Map.of(), "invalid_name"),
                Arguments.of("empty type", "e-1", "", "", Map.of(), "invalid_name"),
                Arguments.of("type of 201 bytes", "e-1", "t".repeat(201), "", Map.of(), "invalid_name"),
                Arguments.of("key of 1,025 bytes", "e-1", "deploy", "k".repeat(1025), Map.of(), "invalid_key"),
                Arguments.of("NUL in the key", "e-1", "deploy", "\0", Map.of(), "invalid_key"),
                Arguments.of("attribute with a __ name", "e-1", "deploy", "", Map.of("__a", "1"), "invalid_label"),
                Arguments.of("empty attribute value", "e-1", "deploy", "", Map.of("a", ""), "invalid_label"),
                Arguments.of("4 attributes", "e-1", "deploy", "", Map.of("a", "1", "b", "2", "c", "3", "d", "4"),
                        "too_many_labels"),
                Arguments.of("id checked before type", "", "de ploy", "", Map.of(), "invalid_id"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("events")
    void eventRules(String title, String id, String type, String key, Map<String, String> attributes, String reason) {
        List<String> kv = new ArrayList<>();
        attributes.forEach((k, v) -> {
            kv.add(k);
            kv.add(v);
        });
        Refusal decoded = admission.checkEvent(id, type, key, kv, NOW, NOW);
        assertThat(decoded == null ? null : decoded.reason()).isEqualTo(reason);
        if (!id.isEmpty() && !type.isEmpty()) { // what an Event (and so the binary protocol) can hold
            Refusal asEvent = admission.checkEvent(new Event(id, type, NOW, key, attributes), NOW);
            assertThat(asEvent == null ? null : asEvent.reason()).as("as an Event").isEqualTo(reason);
        }
    }

    @Test
    void aNewSeriesBeyondTheCapIsRefusedWhileActiveOnesStayAdmitted() {
        long t = SeriesIds.tenantHash("t");
        Series a = Series.of("m", "s", "a");
        Series b = Series.of("m", "s", "b");
        Series c = Series.of("m", "s", "c");
        assertThat(admission.seriesOf("t", t).admit(a)).isNull();
        assertThat(admission.seriesOf("t", t).admit(b)).isNull();
        Admission.SeriesGate batch = admission.seriesOf("t", t);
        Refusal refused = batch.admit(c);
        assertThat(refused.reason()).isEqualTo("cardinality_limit");
        assertThat(refused.isLimit()).isTrue();
        assertThat(refused.message()).contains("ingest.max-active-series");
        assertThat(batch.admit(a)).as("already active").isNull();
        assertThat(admission.seriesOf("t", t).admit(c)).as("in a later batch too").isNotNull();
        assertThat(admission.seriesOf("u", SeriesIds.tenantHash("u")).admit(c)).as("another tenant").isNull();
    }

    @Test
    void theBatchGatesTakeRoomThenQuotaAndCountTheirRefusals() {
        Principal free = new Principal("gate", Tier.FREE);
        Admission.BatchVerdict first = admission.admitBatch(free, "http", 10, 100);
        assertThat(first.admitted()).isTrue();
        Admission.BatchVerdict saturated = admission.admitBatch(free, "binary", 5, 100);
        assertThat(saturated.outcome()).isEqualTo(Admission.Outcome.SATURATED);
        assertThat(saturated.retryAfterMs()).isEqualTo(InFlightLimit.RETRY_AFTER_MS);
        assertThat(saturated.refusal().message()).contains("ingest.max-in-flight-items");
        assertThat(rejected("saturated", "binary")).isEqualTo(5);
        admission.release(10, 100);

        Admission.BatchVerdict tooBig = admission.admitBatch(free, "http", 101, 1);
        assertThat(tooBig.outcome()).isEqualTo(Admission.Outcome.NEVER_FITS);
        assertThat(tooBig.retryAfterMs()).isZero();
        assertThat(tooBig.refusal().message()).contains("can never fit", "100");
        for (int i = 0; i < 9; i++) { // 10 + 9 x 10 = the whole quota of 100
            Admission.BatchVerdict v = admission.admitBatch(free, "http", 10, 1);
            assertThat(v.admitted()).isTrue();
            admission.release(10, 1);
        }
        Admission.BatchVerdict throttled = admission.admitBatch(free, "http", 10, 1);
        assertThat(throttled.outcome()).isEqualTo(Admission.Outcome.THROTTLED);
        assertThat(throttled.retryAfterMs()).isPositive();
        assertThat(throttled.refusal().reason()).isEqualTo("item_quota");
        assertThat(rejected("item_quota", "http")).isEqualTo(101 + 10);
        assertThat(admission.inFlight().items()).as("refused batches hold no room").isZero();
    }

    private double rejected(String reason, String transport) {
        var c = registry.find("sluice_ingest_rejected").tag("reason", reason).tag("transport", transport).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void utf8LengthCountsBytesAndRejectsUnpairedSurrogates() {
        assertThat(Admission.utf8Length("")).isZero();
        assertThat(Admission.utf8Length("aé€😀")).isEqualTo(1 + 2 + 3 + 4);
        assertThat(Admission.utf8Length("\ud83d")).isEqualTo(-1);
        assertThat(Admission.utf8Length("\ude00")).isEqualTo(-1);
        assertThat(Admission.utf8Length("a\ud83db")).isEqualTo(-1);
    }
}
