package io.sluice.gateway.auth;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;

/** Where a request's API key is read ({@link Authenticator#apiKey}), for every route alike. */
class ApiKeyCredentialsTest {

    private static String basic(String credentials) {
        return "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void theAuthorizationHeaderInEachScheme() {
        assertThat(Authenticator.apiKey("Bearer sk_a", "/api/v1/query")).isEqualTo("sk_a");
        assertThat(Authenticator.apiKey("bearer  sk_a ", "/")).isEqualTo("sk_a");
        assertThat(Authenticator.apiKey("Token sk_b", "/api/v2/write")).isEqualTo("sk_b");
        assertThat(Authenticator.apiKey("TOKEN sk_b", "/")).isEqualTo("sk_b");
        assertThat(Authenticator.apiKey(basic("user:sk_c"), "/write")).isEqualTo("sk_c");
        assertThat(Authenticator.apiKey(basic(":sk_c:with:colons"), "/write")).isEqualTo("sk_c:with:colons");
    }

    @Test
    void unusableHeadersGiveNoKey() {
        assertThat(Authenticator.apiKey("Bearer", "/")).isNull();
        assertThat(Authenticator.apiKey("Bearer ", "/")).isNull();
        assertThat(Authenticator.apiKey("Digest sk_a", "/")).isNull();
        assertThat(Authenticator.apiKey("sk_a", "/")).isNull();
        assertThat(Authenticator.apiKey("Basic not-base64!", "/")).isNull();
        assertThat(Authenticator.apiKey(basic("no colon"), "/")).isNull();
    }

    @Test
    void thePQueryParameterOnlyWithoutAnAuthorizationHeader() {
        assertThat(Authenticator.apiKey(null, "/write?db=x&u=me&p=sk_d")).isEqualTo("sk_d");
        assertThat(Authenticator.apiKey(null, "/write?db=x&p=sk%2Bd")).isEqualTo("sk+d");
        assertThat(Authenticator.apiKey(null, "/write?db=x&u=me")).isNull();
        assertThat(Authenticator.apiKey(null, "/write")).isNull();
        assertThat(Authenticator.apiKey("Token sk_header", "/write?p=sk_query")).isEqualTo("sk_header");
        assertThat(Authenticator.apiKey("Digest x", "/write?p=sk_query")).isNull();
        assertThat(Authenticator.apiKey(null, null)).as("a route that takes no key in its query").isNull();
    }
}
