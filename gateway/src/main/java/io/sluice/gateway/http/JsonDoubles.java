package io.sluice.gateway.http;

import com.fasterxml.jackson.core.JsonGenerator;

import java.io.IOException;
import java.util.Locale;

/**
 * The values JSON has no number for, NaN and ±infinity, spelled as Prometheus spells them: the strings
 * {@code "NaN"}, {@code "+Inf"} and {@code "-Inf"} in what Sluice writes, and case-insensitively also
 * {@code "Inf"} and {@code "[+-]Infinity"} in what it reads (as Prometheus' parser takes them).
 */
public final class JsonDoubles {

    private JsonDoubles() {
    }

    /** The value a string spells, or null when it is none of the spellings. */
    public static Double parseSpecial(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "nan" -> Double.NaN;
            case "inf", "+inf", "infinity", "+infinity" -> Double.POSITIVE_INFINITY;
            case "-inf", "-infinity" -> Double.NEGATIVE_INFINITY;
            default -> null;
        };
    }

    /** Writes {@code v} as a JSON number, or as {@code "NaN"}, {@code "+Inf"} or {@code "-Inf"}. */
    public static void write(JsonGenerator json, double v) throws IOException {
        if (Double.isNaN(v)) {
            json.writeString("NaN");
        } else if (v == Double.POSITIVE_INFINITY) {
            json.writeString("+Inf");
        } else if (v == Double.NEGATIVE_INFINITY) {
            json.writeString("-Inf");
        } else {
            json.writeNumber(v);
        }
    }
}
