package io.sluice.gateway.links;

import io.sluice.gateway.server.NodeAddresses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The self-link guard: a link may not point at any address this node answers on, or following it would
 * redirect to itself forever. The node here listens on 0.0.0.0 port 8080 (HTTP and binary) and 7000 (binary
 * only), on a machine called gw-1.example.internal with the interface address 10.1.2.3, behind
 * links.base-url https://sho.rt.
 */
class SelfLinkTest {

    private static LinkRules rules(String serverHost, String baseUrl) throws Exception {
        NodeAddresses self = new NodeAddresses(serverHost, baseUrl,
                List.of(InetAddress.getByName("10.1.2.3"), InetAddress.getByName("127.0.0.1")),
                List.of("gw-1.example.internal", "GW-1"));
        self.listening(8080, 7000);
        return new LinkRules(self);
    }

    private final LinkRules wildcard;

    SelfLinkTest() throws Exception {
        wildcard = rules("0.0.0.0", "https://sho.rt");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "http://localhost:8080/x", "http://LOCALHOST:8080/x", "http://localhost.:8080/x", "https://localhost:8080/",
            "http://app.localhost:8080/x",
            "http://127.0.0.1:8080/x", "http://127.0.0.2:8080/x", "http://127.255.255.254:8080/x",
            "http://[::1]:8080/x", "http://[0:0:0:0:0:0:0:1]:8080/x", "http://[::ffff:127.0.0.1]:8080/x",
            "http://[::ffff:7f00:1]:8080/x",
            "http://0.0.0.0:8080/x", "http://[::]:8080/x",
            "http://localhost:7000/binary-port",
            "http://gw-1.example.internal:8080/x", "http://gw-1:8080/x", "http://10.1.2.3:8080/x",
            "https://sho.rt/abc", "http://sho.rt:443/abc", "https://SHO.RT:443/abc", "http://sho.rt:8080/x"})
    void everyAddressOfThisNodeIsRefused(String url) {
        assertThatThrownBy(() -> wildcard.checkTarget(url)).isInstanceOf(LinkRules.InvalidLinkException.class)
                .hasMessageContaining("points at this gateway");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "http://localhost:3000/other-service", "http://127.0.0.1:9090/x", "http://[::1]:8081/x",
            "http://10.1.2.4:8080/another-machine", "https://example.com:8080/x", "http://sho.rt/plain-http-port-80",
            "http://gw-2.example.internal:8080/x", "http://localhost.example.com:8080/x"})
    void otherPortsAndOtherHostsAreFine(String url) {
        assertThat(wildcard.checkTarget(url)).isEqualTo(url);
    }

    @Test
    void boundToOneAddressOtherInterfacesAreNotThisNode() throws Exception {
        LinkRules one = rules("10.9.9.9", "https://sho.rt");
        assertThat(one.checkTarget("http://10.1.2.3:8080/x")).as("another interface: not this node").isNotNull();
        assertThatThrownBy(() -> one.checkTarget("http://10.9.9.9:8080/x")).hasMessageContaining("this gateway");
        assertThatThrownBy(() -> one.checkTarget("http://localhost:8080/x")).hasMessageContaining("this gateway");
    }

    @Test
    void theDefaultBaseUrlFollowsTheBoundPort() throws Exception {
        NodeAddresses self = new NodeAddresses("0.0.0.0", "", List.of(), List.of());
        self.listening(9090, -1);
        assertThat(self.baseUrl()).isEqualTo("http://127.0.0.1:9090");
        LinkRules rules = new LinkRules(self);
        assertThatThrownBy(() -> rules.checkTarget("http://127.0.0.1:9090/loop")).hasMessageContaining("this gateway");
        assertThat(rules.checkTarget("http://127.0.0.1:8080/not-us")).isNotNull();

        NodeAddresses explicit = new NodeAddresses("0.0.0.0", "https://sho.rt", List.of(), List.of());
        explicit.listening(9090, -1);
        assertThat(explicit.baseUrl()).isEqualTo("https://sho.rt");
    }

    @Test
    void thisMachinesOwnNamesAndAddressesAreFoundWhenBoundToTheWildcard() throws Exception {
        NodeAddresses self = NodeAddresses.of("0.0.0.0", "");
        self.listening(8080, -1);
        LinkRules rules = new LinkRules(self);
        String hostName = InetAddress.getLocalHost().getHostName();
        assertThatThrownBy(() -> rules.checkTarget("http://" + hostName + ":8080/x"))
                .hasMessageContaining("this gateway");
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                String host = address instanceof java.net.Inet6Address
                        ? "[" + address.getHostAddress().replaceAll("%.*", "") + "]" : address.getHostAddress();
                assertThatThrownBy(() -> rules.checkTarget("http://" + host + ":8080/x")).as(host)
                        .hasMessageContaining("this gateway");
            }
        }
    }
}
