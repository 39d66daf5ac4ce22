package io.sluice.gateway.http;

import io.netty.handler.codec.http.QueryStringDecoder;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class HttpRouterPathTest {

    @Test
    void aPlainPathIsWhatTheDecoderWouldHaveMadeOfIt() {
        List<String> uris = List.of("/", "/aB3xY9z", "/api/v1/links", "/api/v1/query;x=1", "/a+b", "*", "",
                "http://host/api/v1/ingest/metrics", "/api/v1/query?metric=m", "/a%20b", "/a#frag", "/links/%zz");
        for (String uri : uris) {
            if (HttpRouter.isPlainPath(uri)) {
                assertThat(new QueryStringDecoder(uri).path()).as(uri).isEqualTo(uri);
            }
        }
        assertThat(uris.stream().filter(HttpRouter::isPlainPath))
                .containsExactly("/", "/aB3xY9z", "/api/v1/links", "/api/v1/query;x=1", "/a+b", "*", "",
                        "http://host/api/v1/ingest/metrics");
    }
}
