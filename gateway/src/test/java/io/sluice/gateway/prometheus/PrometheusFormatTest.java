package io.sluice.gateway.prometheus;

import io.sluice.storage.promql.PromqlException;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.Series;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Times, durations and values read and written as Prometheus reads and writes them. */
class PrometheusFormatTest {

    @ParameterizedTest
    @CsvSource({"1.5,1.5", "1,1", "-0.25,-0.25", "1e21,1000000000000000000000", "1e-7,0.0000001",
        "123456.789,123456.789", "0.1,0.1"})
    void valuesAreGosShortestDecimalWithoutExponent(double value, String printed) {
        assertThat(PrometheusJson.value(value)).isEqualTo(printed);
    }

    @Test
    void plainValuesPrintedWithoutBigDecimalAreWhatTheFullConversionPrints() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(17);
        for (int i = 0; i < 200_000; i++) {
            // every magnitude around the plain range [1e-3, 1e7) and its edges, integers and fractions, both signs
            double v = switch (i % 4) {
                case 0 -> Double.longBitsToDouble(random.nextLong());
                case 1 -> random.nextDouble(-1e8, 1e8);
                case 2 -> Math.scalb(random.nextDouble(), random.nextInt(-15, 30));
                default -> (double) random.nextLong(-20_000_000, 20_000_000) / (1 + random.nextInt(1000));
            };
            if (Double.isNaN(v) || Double.isInfinite(v) || v == 0) {
                continue;
            }
            String printed = PrometheusJson.value(v);
            assertThat(printed).as("%s", v)
                    .isEqualTo(PrometheusJson.plain(com.fasterxml.jackson.core.io.NumberOutput.toString(v, true)));
            assertThat(Double.parseDouble(printed)).as(printed).isEqualTo(v);
        }
        assertThat(PrometheusJson.value(1e7)).isEqualTo("10000000");
        assertThat(PrometheusJson.value(9999999.5)).isEqualTo("9999999.5");
        assertThat(PrometheusJson.value(0.001)).isEqualTo("0.001");
        assertThat(PrometheusJson.value(0.00099)).isEqualTo("0.00099");
        assertThat(PrometheusJson.value(-42.0)).isEqualTo("-42");
    }

    @Test
    void theLargestDoubleIsAllItsDigits() {
        assertThat(PrometheusJson.value(Double.MAX_VALUE)).isEqualTo("17976931348623157" + "0".repeat(292));
        assertThat(PrometheusJson.value(Double.MIN_NORMAL)).isEqualTo("0." + "0".repeat(307) + "22250738585072014");
    }

    @Test
    void specialValuesAreSpelledAsPrometheusSpellsThem() {
        assertThat(PrometheusJson.value(Double.NaN)).isEqualTo("NaN");
        assertThat(PrometheusJson.value(Double.longBitsToDouble(0x7ff0000000000002L))).isEqualTo("NaN");
        assertThat(PrometheusJson.value(Double.POSITIVE_INFINITY)).isEqualTo("+Inf");
        assertThat(PrometheusJson.value(Double.NEGATIVE_INFINITY)).isEqualTo("-Inf");
        assertThat(PrometheusJson.value(0.0)).isEqualTo("0");
        assertThat(PrometheusJson.value(-0.0)).isEqualTo("-0");
    }

    @Test
    void aMatrixsPointsReadAsEachTimeAndValuePrintedAlone() throws Exception {
        java.util.SplittableRandom random = new java.util.SplittableRandom(20261201);
        double[] edges = {0.0, -0.0, Double.NaN, Double.longBitsToDouble(0x7ff0000000000002L), Double.POSITIVE_INFINITY,
            Double.NEGATIVE_INFINITY, Double.MAX_VALUE, -Double.MAX_VALUE, Double.MIN_VALUE, -Double.MIN_VALUE,
            Double.MIN_NORMAL, 1e15 - 1, 1e15, 9007199254740993.0, -9007199254740992.0, 1e21, 1e22, 0.1, -42, 1};
        List<Series> series = new java.util.ArrayList<>();
        for (int k = 0; k < 12; k++) {
            int points = k == 0 ? 0 : k == 1 ? 1 : k == 2 ? edges.length : 1 + random.nextInt(k * 1_000);
            long[] ts = new long[points];
            double[] vs = new double[points];
            long t = k == 3 ? -5_000_500 : 1_700_000_000_000L + random.nextInt(1_000);
            for (int i = 0; i < points; i++) {
                t += 1 + random.nextInt(60_000);
                ts[i] = t;
                vs[i] = k == 2 ? edges[i] : switch (random.nextInt(6)) {
                    case 0 -> Double.longBitsToDouble(random.nextLong()); // some in the slots, most not
                    case 1 -> random.nextInt(-2_000, 2_000); // whole numbers
                    case 2 -> random.nextInt(4) / 3.0; // repeats
                    case 3 -> random.nextDouble() * Math.pow(10, random.nextInt(-20, 20));
                    case 4 -> i > 0 ? vs[i - 1] : 0.5; // the value before again
                    default -> (double) random.nextLong() / 7; // whole, beyond 2^53 often
                };
            }
            series.add(new Series(new TreeMap<>(java.util.Map.of("k", Integer.toString(k))), ts, vs));
        }
        // series sharing one array of times (the engine's series with a value at every step), after one that does not
        long[] grid = series.get(11).timestamps();
        for (int k = 12; k < 16; k++) {
            double[] vs = new double[grid.length];
            for (int i = 0; i < vs.length; i++) {
                vs[i] = k == 13 ? i : random.nextInt(4) / 3.0;
            }
            series.add(new Series(new TreeMap<>(java.util.Map.of("k", Integer.toString(k))), k == 14 ? grid.clone() : grid,
                    vs));
        }
        io.netty.buffer.ByteBuf body = io.sluice.gateway.http.Json.write(
                io.netty.buffer.UnpooledByteBufAllocator.DEFAULT, 300, // a buffer that must grow
                json -> PrometheusJson.result(json, new PromqlResult.Matrix(series)));
        String text = body.toString(java.nio.charset.StandardCharsets.UTF_8);
        body.release();

        com.fasterxml.jackson.databind.JsonNode doc = new com.fasterxml.jackson.databind.ObjectMapper().readTree(text);
        assertThat(doc.path("resultType").asText()).isEqualTo("matrix");
        assertThat(doc.path("result")).hasSize(series.size());
        try (com.fasterxml.jackson.core.JsonParser p = new com.fasterxml.jackson.core.JsonFactory().createParser(text)) {
            for (Series s : series) {
                while (!"values".equals(p.nextFieldName())) {
                    assertThat(p.currentToken()).isNotNull();
                }
                assertThat(p.nextToken()).isEqualTo(com.fasterxml.jackson.core.JsonToken.START_ARRAY);
                for (int i = 0; i < s.timestamps().length; i++) {
                    assertThat(p.nextToken()).isEqualTo(com.fasterxml.jackson.core.JsonToken.START_ARRAY);
                    p.nextToken();
                    assertThat(p.getText()).as("time %d", s.timestamps()[i]).isEqualTo(PrometheusJson.seconds(s.timestamps()[i]));
                    assertThat(p.nextToken()).isEqualTo(com.fasterxml.jackson.core.JsonToken.VALUE_STRING);
                    assertThat(p.getText()).as("value %s", s.values()[i]).isEqualTo(PrometheusJson.value(s.values()[i]));
                    assertThat(p.nextToken()).isEqualTo(com.fasterxml.jackson.core.JsonToken.END_ARRAY);
                }
                assertThat(p.nextToken()).isEqualTo(com.fasterxml.jackson.core.JsonToken.END_ARRAY);
            }
        }
        assertThat(PrometheusJson.expectedBytes(new PromqlResult.Matrix(series))).isPositive();
        assertThat(PrometheusJson.expectedBytes(new PromqlResult.Scalar(1, 1.0))).isZero();
    }

    @ParameterizedTest
    @CsvSource({"1700000000000,1700000000", "1700000000500,1700000000.500", "1700000000005,1700000000.005",
        "1700000000050,1700000000.050", "-1500,-1.500", "0,0"})
    void timesAreSecondsWithMillisecondsAsPrometheusPrintsThem(long ms, String printed) {
        assertThat(PrometheusJson.seconds(ms)).isEqualTo(printed);
    }

    @Test
    void everyTimeIsItsMillisecondsWithThePointMovedThreePlaces() {
        java.util.Random random = new java.util.Random(20261201);
        long[] edges = {Long.MIN_VALUE, Long.MIN_VALUE + 1, Long.MAX_VALUE, -1, 1, -999, 999, -1000, 1000, -1001};
        for (int i = 0; i < 20_000; i++) {
            long ms = i < edges.length ? edges[i] : switch (i % 3) {
                case 0 -> random.nextLong();
                case 1 -> 1_700_000_000_000L + random.nextInt(100_000_000);
                default -> random.nextInt(2_000_001) - 1_000_000;
            };
            String expected = new java.math.BigDecimal(ms).movePointLeft(3).toPlainString();
            if (expected.endsWith(".000")) {
                expected = expected.substring(0, expected.length() - 4);
            }
            assertThat(PrometheusJson.seconds(ms)).as("%d ms", ms).isEqualTo(expected);
        }
    }

    @ParameterizedTest
    @CsvSource({"1700000000,1700000000000", "1700000000.123,1700000000123", "1700000000.0005,1700000000000",
        "2023-11-14T22:13:20Z,1700000000000", "2023-11-14T23:13:20.5+01:00,1700000000500", "-1.5,-1500"})
    void timesAreUnixSecondsOrRfc3339(String text, long ms) {
        assertThat(PrometheusParams.parseTime("time", text)).isEqualTo(ms);
    }

    @ParameterizedTest
    @CsvSource({"15s,15000", "1m,60000", "1h30m,5400000", "1d,86400000", "1w,604800000", "1y,31536000000",
        "500ms,500", "2m30s100ms,150100", "15,15000", "0.5,500", "0,0"})
    void durationsArePrometheusDurationsOrSeconds(String text, long ms) {
        assertThat(PrometheusParams.parseDuration("step", text)).isEqualTo(ms);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "1x", "m", "1m1h", "1.5m", "abc", "NaN"})
    void anythingElseIsBadDataNamingTheParameter(String text) {
        assertThatThrownBy(() -> PrometheusParams.parseDuration("step", text))
                .isInstanceOfSatisfying(PromqlException.class, e -> {
                    assertThat(e.errorType()).isEqualTo(PromqlException.ErrorType.BAD_DATA);
                    assertThat(e.getMessage()).startsWith("invalid parameter \"step\": cannot parse");
                });
        assertThatThrownBy(() -> PrometheusParams.parseTime("start", text + "x"))
                .isInstanceOfSatisfying(PromqlException.class, e -> assertThat(e.getMessage())
                        .isEqualTo("invalid parameter \"start\": cannot parse \"" + text + "x\" to a valid timestamp"));
    }
}
