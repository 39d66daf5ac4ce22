package io.sluice.config;

import java.util.List;

/** Thrown when configuration is invalid; its message lists every problem, one per line. */
public final class ConfigException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    public ConfigException(List<String> problems) {
        super("invalid configuration:\n  " + String.join("\n  ", problems));
        this.problems = List.copyOf(problems);
    }

    public ConfigException(String problem) {
        this(List.of(problem));
    }

    /** Each problem in the format {@code name: value (expected: …)}. */
    public List<String> problems() {
        return problems;
    }
}
