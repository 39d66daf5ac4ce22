package io.sluice.gateway.links;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Which requests a redirect-limit 429 covers on its connection (what the Retry-After gate may answer unread). */
class RedirectScopeTest {

    @Test
    void redirectsAreCoveredAndNothingElse() {
        assertThat(Redirects.isRedirect(request(HttpMethod.GET, "/aB3dE5g", null))).isTrue();
        assertThat(Redirects.isRedirect(request(HttpMethod.HEAD, "/my-alias_1?utm=x", null))).isTrue();

        assertThat(Redirects.isRedirect(request(HttpMethod.GET, "/api/v1/links", null))).as("another route").isFalse();
        assertThat(Redirects.isRedirect(request(HttpMethod.GET, "/metrics", null))).as("a reserved word").isFalse();
        assertThat(Redirects.isRedirect(request(HttpMethod.GET, "/health", null))).as("a reserved word").isFalse();
        assertThat(Redirects.isRedirect(request(HttpMethod.GET, "/aB3dE5g", "Bearer k"))).as("an API call").isFalse();
        assertThat(Redirects.isRedirect(request(HttpMethod.POST, "/aB3dE5g", null))).isFalse();
        assertThat(Redirects.isRedirect(request(HttpMethod.GET, "/", null))).isFalse();
        assertThat(Redirects.isRedirect(request(HttpMethod.GET, "/a%20b", null))).isFalse();
    }

    private static HttpRequest request(HttpMethod method, String uri, String authorization) {
        DefaultHttpHeaders headers = new DefaultHttpHeaders();
        if (authorization != null) {
            headers.add("Authorization", authorization);
        }
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri, headers);
    }
}
