package io.sluice.protocol.frame;

import java.util.Map;
import java.util.Objects;

/**
 * HELLO: the client's first frame, naming its protocol version, itself and its API key.
 *
 * @param version  the protocol version the client speaks; must equal the preface's version in v1
 * @param agentId  a name for the agent (host, container), for logs and metrics
 * @param apiKey   the secret that authenticates the tenant; never logged ({@link #toString()} redacts it)
 * @param options  free-form key/value options (e.g. {@code "agent.version"}); unknown keys are ignored
 */
public record Hello(int version, String agentId, String apiKey, Map<String, String> options) implements ProtocolMessage {

    /** Most options one HELLO may carry. */
    public static final int MAX_OPTIONS = 32;

    public Hello {
        Objects.requireNonNull(agentId, "agentId");
        Objects.requireNonNull(apiKey, "apiKey");
        options = Map.copyOf(options);
        if (version < 0 || version > 0xFFFF) {
            throw new IllegalArgumentException("version: " + version + " (expected: 0-65535)");
        }
        if (options.size() > MAX_OPTIONS) {
            throw new IllegalArgumentException("options: " + options.size() + " (expected: <= " + MAX_OPTIONS + ")");
        }
    }

    @Override
    public FrameType type() {
        return FrameType.HELLO;
    }

    @Override
    public String toString() {
        return "Hello[version=" + version + ", agentId=" + agentId + ", apiKey=<redacted>, options=" + options + ']';
    }
}
