package io.sluice.gateway.http;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A W3C Trace Context {@code traceparent} value, {@code version-traceid-parentid-flags}
 * (<a href="https://www.w3.org/TR/trace-context/#traceparent-header">spec</a>): a request carrying a valid
 * one keeps its trace id; any other request gets a new one ({@link #writeRandomHex}).
 *
 * <table>
 *   <caption>What {@link #parse} accepts (anything else is ignored as if absent)</caption>
 *   <tr><th>field</th><th>rule</th></tr>
 *   <tr><td>version</td><td>2 lowercase hex digits, not {@code ff}; {@code 00} is exactly 55 characters long,
 *       a higher (future) version may carry more after a {@code -} following the flags</td></tr>
 *   <tr><td>trace-id</td><td>32 lowercase hex digits, not all zero</td></tr>
 *   <tr><td>parent-id</td><td>16 lowercase hex digits, not all zero</td></tr>
 *   <tr><td>trace-flags</td><td>2 lowercase hex digits</td></tr>
 * </table>
 *
 * @param traceId  32 lowercase hex digits
 * @param parentId 16 lowercase hex digits (the caller's span), or null when generated here
 * @param flags    the trace flags (bit 0: sampled)
 */
public record TraceParent(String traceId, String parentId, int flags) {

    /** Length of a version-00 value, and of the four fields of any version. */
    static final int LENGTH = 55;
    private static final byte[] HEX_DIGITS = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    /** The value of a {@code traceparent} header, or null when it is absent or not valid. */
    public static TraceParent parse(CharSequence header) {
        if (header == null || header.length() < LENGTH) {
            return null;
        }
        String h = header.toString();
        if (!isHex(h, 0, 2) || h.startsWith("ff") || h.charAt(2) != '-' || h.charAt(35) != '-'
                || h.charAt(52) != '-') {
            return null;
        }
        boolean version00 = h.startsWith("00");
        if (version00 ? h.length() != LENGTH : h.length() > LENGTH && h.charAt(LENGTH) != '-') {
            return null;
        }
        if (!isHex(h, 3, 35) || !isHex(h, 36, 52) || !isHex(h, 53, 55) || isZero(h, 3, 35) || isZero(h, 36, 52)) {
            return null;
        }
        return new TraceParent(h.substring(3, 35), h.substring(36, 52), Integer.parseInt(h, 53, 55, 16));
    }

    /**
     * Writes a random, non-zero id of {@code bytes} bytes (a multiple of 8: a trace id is 16 bytes, a span id
     * 8) as lowercase hex digits into {@code out} from {@code at}.
     */
    static void writeRandomHex(byte[] out, int at, int bytes) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < bytes; i += 8) {
            long v;
            do {
                v = random.nextLong();
            } while (v == 0 && i == 0); // the first eight bytes non-zero: the id is never all zero
            for (int shift = 60; shift >= 0; shift -= 4) {
                out[at++] = HEX_DIGITS[(int) (v >>> shift) & 0xf];
            }
        }
    }

    /** Writes {@code value}'s low byte as two lowercase hex digits into {@code out} from {@code at}. */
    static void writeHexByte(byte[] out, int at, int value) {
        out[at] = HEX_DIGITS[(value >>> 4) & 0xf];
        out[at + 1] = HEX_DIGITS[value & 0xf];
    }

    private static boolean isHex(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }

    private static boolean isZero(String s, int from, int to) {
        for (int i = from; i < to; i++) {
            if (s.charAt(i) != '0') {
                return false;
            }
        }
        return true;
    }
}
