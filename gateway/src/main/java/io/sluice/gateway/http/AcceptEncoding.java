package io.sluice.gateway.http;

import java.util.Locale;

/**
 * Whether a request's {@code Accept-Encoding} takes a gzip body (RFC 9110 §12.5.3): {@code gzip} (or
 * {@code x-gzip}) with a weight above 0, or else {@code *} with one; no header, or {@code gzip;q=0}, takes none.
 * Go's HTTP client sends {@code gzip} by itself, so Grafana and Prometheus' tools do.
 */
public final class AcceptEncoding {

    private AcceptEncoding() {
    }

    /** Whether a body sent with {@code Content-Encoding: gzip} is acceptable to the request's client. */
    public static boolean takesGzip(CharSequence header) {
        if (header == null) {
            return false;
        }
        double gzip = -1;
        double any = -1;
        for (String part : header.toString().split(",")) {
            String[] params = part.split(";");
            String coding = params[0].trim().toLowerCase(Locale.ROOT);
            double weight = 1;
            for (int i = 1; i < params.length; i++) {
                String param = params[i].trim();
                if (param.regionMatches(true, 0, "q=", 0, 2)) {
                    weight = weight(param.substring(2).trim());
                }
            }
            if (coding.equals("gzip") || coding.equals("x-gzip")) {
                gzip = Math.max(gzip, weight);
            } else if (coding.equals("*")) {
                any = Math.max(any, weight);
            }
        }
        return gzip >= 0 ? gzip > 0 : any > 0;
    }

    /** A weight: 0 to 1 with up to three decimals; anything else counts as 0 (not acceptable), the safe reading. */
    private static double weight(String text) {
        if (text.isEmpty() || text.length() > 5 || !(text.charAt(0) == '0' || text.charAt(0) == '1')) {
            return 0;
        }
        try {
            double q = Double.parseDouble(text);
            return q >= 0 && q <= 1 ? q : 0;
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
