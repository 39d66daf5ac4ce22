package io.sluice.gateway.http;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/** Which {@code Accept-Encoding} headers take a gzip body. */
class AcceptEncodingTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "gzip|true", // Go's client, so Grafana
        "gzip, deflate, br|true", "deflate, gzip;q=1.0, *;q=0.5|true", "GZIP|true", "x-gzip|true",
        "br;q=1, gzip;q=0.001|true", "*|true", "identity, *;q=0.1|true",
        "identity|false", "deflate, br|false", "gzip;q=0|false", "gzip;q=0.000|false", "*;q=0|false",
        "gzip;q=0, *|false", // gzip refused by name: the wildcard does not bring it back
        "*, gzip;q=0|false", "gzip;q=2|false", "gzip;q=abc|false", "gzip;q=-1|false", "''|false", " , ;|false"})
    void gzipIsTakenWhenNamedOrCoveredByTheWildcardWithAWeightAboveZero(String header, boolean takes) {
        assertThat(AcceptEncoding.takesGzip(header)).as(header).isEqualTo(takes);
    }

    @org.junit.jupiter.api.Test
    void noHeaderTakesNone() {
        assertThat(AcceptEncoding.takesGzip(null)).isFalse();
    }
}
