package io.sluice.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The edge of the gateway: the optional binary-only port, TLS, and the limits a binary session announces.
 *
 * @param binaryPort         an extra binary-only port; {@link #NO_PORT} = none, 0 = any free port
 * @param tlsCertFile        PEM certificate chain, or null when TLS is off
 * @param tlsKeyFile         PEM private key, or null when TLS is off
 * @param maxFrameBytes      largest binary frame payload accepted (HELLO_OK {@code maxFrameBytes})
 * @param maxInFlightBatches unanswered BATCHes per connection (HELLO_OK {@code maxInFlightBatches})
 * @param flushDelay         longest a connection's accepted BATCHes wait for the ones after them before going to Kafka
 */
public record EdgeConfig(int binaryPort, Path tlsCertFile, Path tlsKeyFile, int maxFrameBytes, int maxInFlightBatches,
                         Duration flushDelay) {

    /** {@code server.binary-port} value meaning "no binary-only port". */
    public static final int NO_PORT = -1;

    /** Whether TLS is configured (connections may then use it or not, on the same port). */
    public boolean tls() {
        return tlsCertFile != null;
    }

    public EdgeConfig withBinaryPort(int port) {
        return new EdgeConfig(port, tlsCertFile, tlsKeyFile, maxFrameBytes, maxInFlightBatches, flushDelay);
    }

    public EdgeConfig withTls(Path certFile, Path keyFile) {
        return new EdgeConfig(binaryPort, certFile, keyFile, maxFrameBytes, maxInFlightBatches, flushDelay);
    }
}
