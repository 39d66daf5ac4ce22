package io.sluice.gateway.prometheus;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.storage.promql.PromqlException;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parameters of a Prometheus API request, read as Prometheus reads them: from the query string, and for a POST
 * also from an {@code application/x-www-form-urlencoded} body (Grafana's default), both kept. Times are RFC 3339 or
 * Unix seconds with a fraction (millisecond precision); durations are Prometheus durations ({@code 15s},
 * {@code 1h30m}) or seconds with a fraction. A value that does not parse is a {@link PromqlException} bad_data
 * naming the parameter, in Prometheus' words.
 */
final class PrometheusParams {

    /** Prometheus' duration syntax: units from years down to milliseconds, each at most once, in this order. */
    private static final Pattern DURATION = Pattern.compile(
            "(?:(\\d+)y)?(?:(\\d+)w)?(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?(?:(\\d+)ms)?");
    private static final long[] DURATION_UNITS_MS = {
        365L * 24 * 3600_000, 7L * 24 * 3600_000, 24L * 3600_000, 3600_000, 60_000, 1000, 1};

    private final Map<String, List<String>> values;

    private PrometheusParams(Map<String, List<String>> values) {
        this.values = values;
    }

    /** The request's parameters: the query string's, then a form body's. */
    static PrometheusParams of(HttpExchange exchange) {
        Map<String, List<String>> all = new java.util.LinkedHashMap<>();
        new QueryStringDecoder(exchange.uri(), StandardCharsets.UTF_8).parameters()
                .forEach((k, v) -> all.computeIfAbsent(k, x -> new ArrayList<>()).addAll(v));
        if (exchange.method().equals(HttpMethod.POST) && exchange.body().isReadable()) {
            String type = exchange.headers().get(HttpHeaderNames.CONTENT_TYPE, "");
            if (!type.toLowerCase(java.util.Locale.ROOT)
                    .startsWith(HttpHeaderValues.APPLICATION_X_WWW_FORM_URLENCODED.toString())) {
                throw badData("a POST body must be application/x-www-form-urlencoded, not \""
                        + type + "\"");
            }
            String body = exchange.body().toString(StandardCharsets.UTF_8);
            new QueryStringDecoder(body, StandardCharsets.UTF_8, false).parameters()
                    .forEach((k, v) -> all.computeIfAbsent(k, x -> new ArrayList<>()).addAll(v));
        }
        return new PrometheusParams(all);
    }

    /** The parameter's first value, or null. */
    String get(String name) {
        List<String> v = values.get(name);
        return v == null || v.isEmpty() ? null : v.get(0);
    }

    /** Every value of a repeated parameter ({@code match[]}), in order. */
    List<String> all(String name) {
        return values.getOrDefault(name, List.of());
    }

    /** A required parameter. */
    String required(String name) {
        String v = get(name);
        if (v == null || v.isEmpty()) {
            throw badData("invalid parameter \"" + name + "\": missing");
        }
        return v;
    }

    /** A time parameter in milliseconds since the epoch, or {@code fallback} when absent. */
    long timeMs(String name, long fallback) {
        String v = get(name);
        return v == null || v.isEmpty() ? fallback : parseTime(name, v);
    }

    /** A required time parameter in milliseconds since the epoch. */
    long timeMs(String name) {
        return parseTime(name, required(name));
    }

    /** A required duration parameter in milliseconds. */
    long durationMs(String name) {
        return parseDuration(name, required(name));
    }

    static long parseTime(String name, String v) {
        try {
            BigDecimal seconds = new BigDecimal(v);
            return seconds.movePointRight(3).setScale(0, java.math.RoundingMode.HALF_EVEN).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            // not a number: RFC 3339 below
        }
        try {
            return OffsetDateTime.parse(v).toInstant().toEpochMilli();
        } catch (DateTimeParseException | ArithmeticException e) {
            throw badData("invalid parameter \"" + name + "\": cannot parse \"" + v + "\" to a valid timestamp");
        }
    }

    static long parseDuration(String name, String v) {
        try {
            BigDecimal seconds = new BigDecimal(v);
            return seconds.movePointRight(3).setScale(0, java.math.RoundingMode.HALF_EVEN).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            // not a number: a Prometheus duration below
        }
        Matcher m = DURATION.matcher(v);
        if (v.isEmpty() || !m.matches()) {
            throw badData("invalid parameter \"" + name + "\": cannot parse \"" + v + "\" to a valid duration");
        }
        long ms = 0;
        try {
            for (int i = 0; i < DURATION_UNITS_MS.length; i++) {
                if (m.group(i + 1) != null) {
                    ms = Math.addExact(ms, Math.multiplyExact(Long.parseLong(m.group(i + 1)), DURATION_UNITS_MS[i]));
                }
            }
        } catch (ArithmeticException | NumberFormatException e) {
            throw badData("invalid parameter \"" + name + "\": cannot parse \"" + v + "\" to a valid duration");
        }
        return ms;
    }

    static PromqlException badData(String message) {
        return new PromqlException(PromqlException.ErrorType.BAD_DATA, message);
    }

}
