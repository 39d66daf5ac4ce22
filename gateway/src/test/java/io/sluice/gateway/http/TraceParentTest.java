package io.sluice.gateway.http;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code traceparent} as the W3C Trace Context spec has it: what is taken, what is ignored. */
class TraceParentTest {

    private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
    private static final String PARENT = "00f067aa0ba902b7";

    @Test
    void aValidVersion00ValueGivesItsFields() {
        assertThat(TraceParent.parse("00-" + TRACE + "-" + PARENT + "-01"))
                .isEqualTo(new TraceParent(TRACE, PARENT, 1));
        assertThat(TraceParent.parse("00-" + TRACE + "-" + PARENT + "-00"))
                .isEqualTo(new TraceParent(TRACE, PARENT, 0));
    }

    @Test
    void aFutureVersionIsReadForItsFirstFourFields() {
        assertThat(TraceParent.parse("cc-" + TRACE + "-" + PARENT + "-09")).isEqualTo(new TraceParent(TRACE, PARENT, 9));
        assertThat(TraceParent.parse("cc-" + TRACE + "-" + PARENT + "-01-what-comes-later"))
                .isEqualTo(new TraceParent(TRACE, PARENT, 1));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "",
            "garbage",
            "00-" + TRACE + "-" + PARENT,                                   // no flags
            "00-" + TRACE + "-" + PARENT + "-01-extra",                     // version 00 has nothing after the flags
            "00-" + TRACE + "-" + PARENT + "-011",
            "ff-" + TRACE + "-" + PARENT + "-01",                           // version ff is invalid
            "cc-" + TRACE + "-" + PARENT + "-01x",                          // a later version still needs '-' there
            "00-00000000000000000000000000000000-" + PARENT + "-01",        // all-zero trace id
            "00-" + TRACE + "-0000000000000000-01",                         // all-zero parent id
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + PARENT + "-01",        // upper case
            "00-" + TRACE + "-00F067AA0BA902B7-01",
            "0g-" + TRACE + "-" + PARENT + "-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473z-" + PARENT + "-01",
            "00-" + TRACE + "-" + PARENT + "-0z",
            "00_" + TRACE + "-" + PARENT + "-01",                           // wrong separators
            "00-" + TRACE + "_" + PARENT + "-01",
            "00-" + TRACE + "-" + PARENT + "_01",
            "00-4bf92f3577b34da6a3ce929d0e0e47-" + PARENT + "-0100",        // short trace id, same total length
            " 00-" + TRACE + "-" + PARENT + "-0",
    })
    void anInvalidValueIsIgnored(String header) {
        assertThat(TraceParent.parse(header)).isNull();
    }

    @Test
    void anAbsentHeaderIsNoTrace() {
        assertThat(TraceParent.parse(null)).isNull();
    }

    @Test
    void newTraceIdsAre32LowercaseHexDigitsNeverZeroAndDistinctAndSpanIdsTooAndTheFlagsZero() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            RequestTrace trace = RequestTrace.unknown(null);
            assertThat(trace.traceId()).matches("[0-9a-f]{32}").isNotEqualTo("0".repeat(32));
            assertThat(trace.traceResponse()).matches("00-" + trace.traceId() + "-[0-9a-f]{16}-00")
                    .doesNotContain("-" + "0".repeat(16) + "-");
            seen.add(trace.traceId());
            seen.add(trace.traceResponse());
        }
        assertThat(seen).hasSize(2000);
    }

    @Test
    void anIncomingTraceKeepsItsIdAndFlagsInTheTraceResponse() {
        for (String flags : new String[] {"00", "01", "0f", "ab", "ff"}) {
            RequestTrace trace = RequestTrace.of(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/a?b",
                    new DefaultHttpHeaders().add(RequestTrace.TRACE_PARENT_HEADER, "00-" + TRACE + "-" + PARENT + "-"
                            + flags)), null);
            assertThat(trace.traceId()).isEqualTo(TRACE);
            assertThat(trace.traceResponse()).matches("00-" + TRACE + "-[0-9a-f]{16}-" + flags)
                    .doesNotContain(PARENT);
        }
    }
}
