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
    /**
     * The option a client sends with the value {@value #LIMITS_V1} to receive HELLO_OK's limits list
     * ({@link SessionLimits}); without it HELLO_OK ends after {@code maxInFlightBatches}, as v1 began.
     */
    public static final String OPTION_LIMITS = "limits";
    /** The value of {@link #OPTION_LIMITS} that asks for the list as SPEC.md §2.2 defines it. */
    public static final String LIMITS_V1 = "1";

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

    /** Whether the client asked for HELLO_OK's limits list. */
    public boolean wantsLimits() {
        return LIMITS_V1.equals(options.get(OPTION_LIMITS));
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
