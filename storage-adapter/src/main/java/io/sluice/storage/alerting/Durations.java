package io.sluice.storage.alerting;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as Prometheus writes them in rules and rule files: units {@code y w d h m s ms} from largest to smallest,
 * each at most once ({@code 5m}, {@code 1h30m}, {@code 500ms}, {@code 0}); a year is 365 days.
 */
public final class Durations {

    private static final Pattern FORMAT = Pattern.compile(
            "(?:(\\d+)y)?(?:(\\d+)w)?(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?(?:(\\d+)ms)?");
    private static final long[] UNIT_MS = {365L * 86_400_000, 7L * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1};
    private static final String[] UNITS = {"y", "w", "d", "h", "m", "s", "ms"};

    private Durations() {
    }

    /** Parses a duration; throws IllegalArgumentException saying what is expected. */
    public static Duration parse(String text) {
        if (text.equals("0")) {
            return Duration.ZERO;
        }
        Matcher m = FORMAT.matcher(text);
        if (text.isEmpty() || !m.matches()) {
            throw new IllegalArgumentException("\"" + text + "\" is not a duration (expected e.g. 30s, 5m, 1h30m)");
        }
        long ms = 0;
        try {
            for (int i = 0; i < UNITS.length; i++) {
                String n = m.group(i + 1);
                if (n != null) {
                    ms = Math.addExact(ms, Math.multiplyExact(Long.parseLong(n), UNIT_MS[i]));
                }
            }
        } catch (ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException("\"" + text + "\" is too long a duration");
        }
        return Duration.ofMillis(ms);
    }

    /** Writes a duration as Prometheus does: {@code 0s}, {@code 5m}, {@code 1h30m}, {@code 1d12h}. */
    public static String format(Duration duration) {
        long ms = duration.toMillis();
        if (ms == 0) {
            return "0s";
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < UNITS.length; i++) {
            long n = ms / UNIT_MS[i];
            if (n > 0) {
                out.append(n).append(UNITS[i]);
                ms -= n * UNIT_MS[i];
            }
        }
        return out.toString();
    }
}
