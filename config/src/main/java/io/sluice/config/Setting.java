package io.sluice.config;

import java.util.Objects;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One named, typed, validated setting with a default.
 *
 * <p>A raw value (from a file, the environment or the command line) becomes a typed value through
 * {@link #parse(String)}, which rejects it with the one message format used everywhere:
 * {@code server.port: 70000 (expected: 0..65535)}.
 *
 * @param <T> the typed value
 */
public final class Setting<T> {

    private final String name;
    private final String defaultValue;
    private final String expected;
    private final String description;
    private final Function<String, T> parser;
    private final Predicate<T> check;
    private final boolean secret;

    Setting(String name, String defaultValue, String expected, String description,
            Function<String, T> parser, Predicate<T> check, boolean secret) {
        this.name = Objects.requireNonNull(name);
        this.defaultValue = Objects.requireNonNull(defaultValue);
        this.expected = Objects.requireNonNull(expected);
        this.description = Objects.requireNonNull(description);
        this.parser = Objects.requireNonNull(parser);
        this.check = Objects.requireNonNull(check);
        this.secret = secret;
    }

    public String name() {
        return name;
    }

    /** The default as it would be written in a config file. */
    public String defaultValue() {
        return defaultValue;
    }

    /** What a valid value looks like, as shown in error messages. */
    public String expected() {
        return expected;
    }

    public String description() {
        return description;
    }

    /** Whether the value must never be printed (passwords). */
    public boolean secret() {
        return secret;
    }

    /** The environment variable that sets this: {@code server.max-body-bytes} → {@code SLUICE_SERVER_MAX_BODY_BYTES}. */
    public String envName() {
        return "SLUICE_" + name.toUpperCase(java.util.Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /**
     * Parses and checks a raw value.
     *
     * @throws ConfigException naming this setting, the rejected value and what was expected
     */
    public T parse(String raw) {
        String trimmed = raw.strip();
        T value;
        try {
            value = parser.apply(trimmed);
        } catch (RuntimeException e) {
            throw rejection(trimmed);
        }
        if (value == null || !check.test(value)) {
            throw rejection(trimmed);
        }
        return value;
    }

    private ConfigException rejection(String raw) {
        String shown = secret ? "***" : (raw.isEmpty() ? "\"\"" : raw);
        return new ConfigException(name + ": " + shown + " (expected: " + expected + ")");
    }

    @Override
    public String toString() {
        return name;
    }
}
