package io.sluice.config;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parsers for the value syntaxes settings use: durations ({@code 30s}), sizes ({@code 4MiB}), lists. */
public final class Values {

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|TiB)?");

    private Values() {
    }

    /** {@code 250ms}, {@code 30s}, {@code 5m}, {@code 1h}, {@code 7d}. */
    public static Duration duration(String raw) {
        Matcher m = DURATION.matcher(raw);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a duration: " + raw);
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            case "d" -> Duration.ofDays(n);
            default -> throw new IllegalArgumentException(raw);
        };
    }

    /** Bytes, plain or with a binary unit: {@code 65536}, {@code 64KiB}, {@code 4MiB}, {@code 1GiB}. */
    public static long bytes(String raw) {
        Matcher m = SIZE.matcher(raw);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a size: " + raw);
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "B" : m.group(2);
        long factor = switch (unit) {
            case "KiB" -> 1L << 10;
            case "MiB" -> 1L << 20;
            case "GiB" -> 1L << 30;
            case "TiB" -> 1L << 40;
            default -> 1L;
        };
        return Math.multiplyExact(n, factor);
    }

    public static boolean bool(String raw) {
        return switch (raw.toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on" -> true;
            case "false", "no", "off" -> false;
            default -> throw new IllegalArgumentException("not a boolean: " + raw);
        };
    }

    /** Comma-separated, blanks trimmed, empty entries dropped. */
    public static List<String> list(String raw) {
        return Arrays.stream(raw.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }
}
